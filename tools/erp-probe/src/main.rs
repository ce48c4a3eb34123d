//! The health check of the container images (`deploy/Containerfile`):
//! `GET /health/ready` on the service's own port, on loopback; exit 0 when
//! it answers 200, 1 otherwise.
//!
//! The port is that of `ERP_HTTP_ADDR` (the variable the service reads), so
//! the check follows the service when it is moved. An image built `FROM
//! scratch` has no shell and no curl, and an HTTP client crate would be
//! most of the image; one request over a `TcpStream` is all this needs.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    process::ExitCode,
    time::Duration,
};

const TIMEOUT: Duration = Duration::from_secs(2);

/// The port of `ERP_HTTP_ADDR` (`0.0.0.0:8083`, `[::]:8083`, …).
fn port() -> Option<u16> {
    let addr = std::env::var("ERP_HTTP_ADDR").ok()?;
    addr.rsplit_once(':')?.1.parse().ok()
}

/// Whether `GET /health/ready` on loopback `port` answers 200.
fn ready(port: u16) -> std::io::Result<bool> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(
        format!(
            "GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )?;
    // The status line is all that matters: `HTTP/1.1 200 OK`.
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    Ok(head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200")
}

fn main() -> ExitCode {
    let Some(port) = port() else {
        eprintln!("erp-probe: ERP_HTTP_ADDR is not set to an address with a port");
        return ExitCode::FAILURE;
    };
    match ready(port) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("erp-probe: not ready");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("erp-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A one-shot server answering `status_line`; its port.
    fn serve(status_line: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(format!("{status_line}\r\ncontent-length: 0\r\n\r\n").as_bytes());
        });
        port
    }

    #[test]
    fn only_a_200_is_ready() {
        assert!(ready(serve("HTTP/1.1 200 OK")).unwrap());
        assert!(!ready(serve("HTTP/1.1 503 Service Unavailable")).unwrap());
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(ready(closed).is_err());
    }
}
