//! `all-in-one` started with no flags, as a user would: every listener on
//! loopback only, and the admin routes refused.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The local addresses of the sockets listening on `port`, from
/// `/proc/net/tcp` and `/proc/net/tcp6` (hex `address:port`, state `0A`).
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (cols.get(1), cols.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(p, 16) == Ok(port) {
                found.push(addr.to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn with_no_flags_it_listens_on_loopback_only_and_refuses_admin_routes() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_all-in-one"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ERP_") {
            cmd.env_remove(k);
        }
    }
    let _child = Running(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("all-in-one starts"),
    );
    let c = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        let r = c.get("http://127.0.0.1:8083/health/ready").send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "all-in-one did not become ready on 127.0.0.1:8083");

    // 127.0.0.1 in /proc/net/tcp's little-endian hex.
    for port in [8081, 8082, 8083, 50051, 8084, 8080] {
        let addrs = listening_addresses(port);
        assert!(!addrs.is_empty(), "nothing listens on {port}");
        assert!(
            addrs.iter().all(|a| a == "0100007F"),
            "port {port} listens beyond loopback: {addrs:?}"
        );
    }

    for base in [
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8082",
        "http://127.0.0.1:8083",
    ] {
        let r = c
            .post(format!("{base}/admin/rebuild-read-models"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{base}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "admin_disabled", "{base}");
    }
}
