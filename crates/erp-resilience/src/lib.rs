//! # erp-resilience
//!
//! **Not implemented yet** (tracked by the resilience issue): retry with
//! backoff, jitter, deadline and budget; a circuit breaker with bounded
//! half-open probes; both as `tower` layers.
//!
//! Until then the services wrap their inventory clients in
//! `tower::timeout::Timeout` only, at one place each:
//! `purchase_svc::inventory_client::InventoryClient::connect` (gRPC) and
//! `sales_svc::inventory_client::StockClient::new` (REST). The new layers
//! will be added there.
