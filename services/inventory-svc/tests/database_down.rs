//! Design §7.6 for the database: inventory-svc on its own FerretDB (a private
//! instance of the binary `scripts/ferretdb.sh` builds, so stopping it
//! disturbs no other test). While the database is down, readiness is 503
//! naming the store and requests answer 503 `store_unavailable`; when it
//! comes back the service recovers with its data, without a restart.
#![cfg(feature = "mongodb")]

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{Service, free_port};

use erp_store::mongo::MongoStore;
use serde_json::json;

/// `ERP_TEST_FERRETDB_BIN`, else the binary `scripts/ferretdb.sh` builds.
fn ferretdb_bin() -> PathBuf {
    std::env::var_os("ERP_TEST_FERRETDB_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.data/bin/ferretdb"))
}

/// A FerretDB process this test owns; killed on drop.
struct Ferret(Child);

impl Ferret {
    async fn start(dir: &Path, port: u16) -> Self {
        let bin = ferretdb_bin();
        assert!(
            bin.exists(),
            "no FerretDB at {}; run scripts/ferretdb.sh",
            bin.display()
        );
        let child = Command::new(bin)
            .arg("--handler=sqlite")
            .arg(format!("--sqlite-url=file:{}/", dir.display()))
            .arg(format!("--listen-addr=127.0.0.1:{port}"))
            .arg(format!("--state-dir={}", dir.display()))
            .args([
                "--debug-addr=127.0.0.1:0",
                "--telemetry=disable",
                "--log-level=error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("FerretDB starts");
        // Owned before waiting, so a failed wait still kills it (on drop).
        let ferret = Self(child);
        let probe = MongoStore::connect(&format!("mongodb://127.0.0.1:{port}"), "probe")
            .await
            .unwrap();
        for _ in 0..100 {
            if probe.ping().await {
                return ferret;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the private FerretDB did not answer on port {port}");
    }
}

impl Drop for Ferret {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_means_503_and_the_service_recovers_by_itself() {
    let dir = std::env::temp_dir().join(format!(
        "erp-ferret-{}",
        erp_core::EventId::new().as_uuid().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let ferret = Ferret::start(&dir, port).await;

    let mongodb_uri = format!("mongodb://127.0.0.1:{port}");
    let args = [
        "--bus",
        "memory",
        "--store",
        "mongodb",
        "--database",
        "inventory_down_test",
    ];
    let args: Vec<&str> = args
        .into_iter()
        .chain(["--mongodb-uri", &mongodb_uri])
        .collect();
    let service = Service::start(&args, free_port(), free_port());
    service
        .wait("ready", "/health/ready", |s, _| s == 200)
        .await;
    let created = service
        .post(
            "/products",
            &json!({"id": "kept", "name": "Kept", "unit": "pcs"}),
        )
        .await;
    assert_eq!(created.status(), 201);

    drop(ferret);
    let ready = service
        .wait("readiness 503", "/health/ready", |s, _| s == 503)
        .await;
    assert_eq!(ready["checks"]["store"]["status"], "down", "{ready}");
    let (status, body) = service.get("/products/kept").await.unwrap();
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("store_unavailable"))
    );
    let write = service
        .post(
            "/products",
            &json!({"id": "later", "name": "Later", "unit": "pcs"}),
        )
        .await;
    assert_eq!(write.status(), 503);
    assert!(write.headers().contains_key("retry-after"));
    let text = write.text().await.unwrap();
    assert!(!text.contains("127.0.0.1"), "internals leaked: {text}");

    let _ferret = Ferret::start(&dir, port).await;
    service
        .wait("ready again", "/health/ready", |s, _| s == 200)
        .await;
    let product = service
        .wait("the product back", "/products/kept", |s, _| s == 200)
        .await;
    assert_eq!(product["name"], "Kept");
    drop(service);
    let _ = std::fs::remove_dir_all(&dir);
}
