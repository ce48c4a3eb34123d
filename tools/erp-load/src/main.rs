use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    erp_load::run(erp_load::Args::parse()).await
}
