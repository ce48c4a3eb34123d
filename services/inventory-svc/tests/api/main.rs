//! Inventory's API, hosted in-process on port 0 with in-memory adapters,
//! driven over HTTP, gRPC and the in-memory bus.

mod auth;
mod catalog;
mod grpc;
mod helpers;
mod stock;
