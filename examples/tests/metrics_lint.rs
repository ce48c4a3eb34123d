//! What each service's `/metrics` exports, checked by Prometheus's own
//! linter (`promtool check metrics`, from `scripts/promtool.sh`): HELP text
//! on every family, Prometheus naming; and the series an alert needs exist
//! from the start (the breaker's state before any call).

use std::{
    io::Write,
    process::{Command, Stdio},
};

use erp_examples::{Ports, System};
use serde_json::json;

fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/promtool.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metrics_page_passes_promtool_and_the_alerts_and_dashboard_use_what_is_exported() {
    let system = System::start(Ports::ephemeral()).await.unwrap();
    let p = system.ports;
    let c = reqwest::Client::new();
    let metrics = |port: std::net::SocketAddr| {
        let c = c.clone();
        async move {
            c.get(format!("http://{port}/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let fresh = metrics(p.purchase).await;
    assert!(
        fresh
            .lines()
            .any(|l| l.starts_with("erp_breaker_state{") && l.ends_with(" 0")),
        "the breaker's state before any call: {fresh}"
    );

    // Traffic, so that every family the services export has a series.
    let r = c
        .post(format!("http://{}/products", p.inventory))
        .json(&json!({"id": "lint", "name": "L", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let trade = json!({"lines": [{"product_id": "lint", "quantity": 1, "unit_price": 1}]});
    for route in [
        format!("http://{}/purchases", p.purchase),
        format!("http://{}/sales", p.sales),
    ] {
        let r = c.post(route).json(&trade).send().await.unwrap();
        assert!(
            r.status().is_success() || r.status() == 409,
            "{}",
            r.status()
        );
    }
    // Inventory handled the events: their handling time is recorded.
    let mut handled = false;
    for _ in 0..200 {
        if metrics(p.inventory)
            .await
            .contains("erp_event_handling_seconds_count{queue=\"inventory.stock\",outcome=\"ack\"}")
        {
            handled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(handled, "no handling time recorded for inventory.stock");
    let page = metrics(p.purchase).await;
    for family in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "erp_build_info{",
        "erp_outbox_backlog{service=\"purchase-svc\"}",
        "erp_outbox_oldest_age_seconds{service=\"purchase-svc\"}",
        "erp_dead_letters{queue=\"inventory.stock\"}",
        "erp_retry_attempts_total{target=\"inventory-rest\"} 0",
        "grpc_server_handled_total{service=\"inventory-svc\",grpc_service=\"erp.inventory.v1.Inventory\",grpc_method=\"CheckPurchase\",grpc_code=\"OK\"} 1",
        "grpc_client_handled_total{service=\"purchase-svc\",grpc_service=\"erp.inventory.v1.Inventory\",grpc_method=\"CheckPurchase\",grpc_code=\"OK\"} 1",
        "grpc_client_handling_seconds_count{",
    ] {
        assert!(page.contains(family), "{family} missing: {page}");
    }
    // The shipped alert rules and dashboard name only families a service
    // exports, and the rules pass promtool's checks and unit tests.
    let exported: std::collections::HashSet<String> = page
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let ops = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops");
    let rules = ops.join("prometheus/alerts.yml");
    let mut queries: Vec<String> = std::fs::read_to_string(&rules)
        .unwrap()
        .lines()
        .filter(|l| {
            ["erp_", "http_", "process_", "grpc_"]
                .iter()
                .any(|p| l.contains(p))
        })
        .map(str::to_owned)
        .collect();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ops.join("grafana/erp-services.json")).unwrap(),
    )
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queries.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for query in &queries {
        for word in query.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let family = word
                .strip_suffix("_bucket")
                .or_else(|| word.strip_suffix("_count"))
                .unwrap_or(word);
            let ours = ["erp_", "http_", "process_", "grpc_server_", "grpc_client_"]
                .iter()
                .any(|p| family.starts_with(p));
            assert!(
                !ours || exported.contains(family),
                "{family} (in `{query}`) is not exported"
            );
        }
    }
    for args in [
        vec!["check", "rules", rules.to_str().unwrap()],
        vec![
            "test",
            "rules",
            ops.join("prometheus/alerts_test.yml").to_str().unwrap(),
        ],
    ] {
        let out = Command::new("promtool").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    for port in [p.purchase, p.sales, p.inventory] {
        let text = metrics(port).await;
        let (ok, said) = promtool(&text);
        assert!(
            ok && said.trim().is_empty(),
            "promtool on {port}/metrics: {said}"
        );
    }
    system.stop().await.unwrap();
}
