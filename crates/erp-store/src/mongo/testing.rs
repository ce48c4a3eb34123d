//! Helpers for tests against a real MongoDB-compatible server (what
//! `scripts/mongodb.sh` starts), and a private instance of it for tests
//! that stop or kill their database.

use super::MongoStore;

/// `ERP_TEST_MONGODB_URI`, else the local server.
pub fn uri() -> String {
    std::env::var("ERP_TEST_MONGODB_URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}

/// A database no other test uses, named `<prefix>_<uuid>`; panics, naming
/// the fix, when the server does not answer. Drop it when done.
pub async fn fresh_database(prefix: &str) -> MongoStore {
    let name = format!("{prefix}_{}", erp_core::EventId::new().as_uuid().simple());
    let store = MongoStore::connect(&uri(), &name)
        .await
        .expect("a valid URI");
    assert!(
        store.ping().await,
        "no MongoDB-compatible server at {}; run scripts/mongodb.sh",
        uri()
    );
    store
}

/// The test server's launcher: `ERP_TEST_MONGO_SERVER_BIN`, else the one
/// `scripts/mongodb.sh` leaves in `.data/bin/mongo-server`.
pub fn server_bin() -> std::path::PathBuf {
    std::env::var_os("ERP_TEST_MONGO_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.data/bin/mongo-server")
        })
}

/// A database server process a test owns, on its own port and data file,
/// so that stopping or killing it disturbs no other test. Stopped (SIGTERM,
/// as an operator stops a database) on drop.
#[derive(Debug)]
pub struct PrivateServer {
    child: std::process::Child,
    port: u16,
}

impl PrivateServer {
    /// Starts the server on `127.0.0.1:port` with its data in `file`, and
    /// waits until it answers; panics, naming the fix, when it cannot.
    pub async fn start(file: &std::path::Path, port: u16) -> Self {
        let bin = server_bin();
        assert!(
            bin.exists(),
            "no test server launcher at {}; run scripts/mongodb.sh",
            bin.display()
        );
        let child = std::process::Command::new(bin)
            .arg("127.0.0.1")
            .arg(port.to_string())
            .arg(file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the test server starts");
        // Owned before waiting, so a failed wait still stops it (on drop).
        let server = Self { child, port };
        let probe = MongoStore::connect(&server.uri(), "probe")
            .await
            .expect("a valid URI");
        for _ in 0..300 {
            if probe.ping().await {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the private test server did not answer on port {port}");
    }

    /// Its URI.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the server dies mid-write, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateServer {
    /// SIGTERM: the server closes its file, so what it acknowledged is
    /// there when it starts again.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}
