//! Running the service binaries as separate processes, for the tests that
//! check them from outside. Each test binary uses what it needs.
#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

/// `target/debug` (or whatever profile built this test).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --workspace --bins --all-features` first",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One service process; SIGKILLed on drop if still running.
pub struct Proc {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    pub fn start(name: &'static str, args: Vec<String>, log: PathBuf) -> Self {
        Self::start_with_env(name, args, Vec::new(), log)
    }

    /// Like [`Proc::start`], with these environment variables set.
    pub fn start_with_env(
        name: &'static str,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        let mut p = Self {
            name,
            args,
            env,
            log,
            child: None,
        };
        p.spawn();
        p
    }

    /// Starts (again) the process, appending to its log.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(bin(self.name))
            .args(&self.args)
            .args(["--log-format", "json"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn signal(&mut self, signal: &str) {
        let child = self.child.as_mut().expect("running");
        let ok = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; the exit status, which must come within the grace period.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{} still running 20 s after SIGTERM",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `base` answers `/health/ready` with 200, at most 60 s
/// (`when` and `logs` go in the failure message).
pub async fn wait_ready(c: &reqwest::Client, base: &str, when: &str, logs: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !c
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            Instant::now() < deadline,
            "{base} not ready 60 s {when}; logs in {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The flags that put a service on the test RabbitMQ and the test database
/// server, in its own database `<prefix>_<database>`.
pub fn on_real_servers(prefix: &str, database: &str) -> Vec<String> {
    [
        "--bus",
        "rabbitmq",
        "--amqp-url",
        &erp_bus::rabbitmq::testing::url(),
        "--store",
        "mongodb",
        "--mongodb-uri",
        &erp_store::mongo::testing::uri(),
        "--database",
        &format!("{prefix}_{database}"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}
