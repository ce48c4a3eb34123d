//! # inventory-svc
//!
//! Owns products, stores and stock. Consumes `purchase.completed` (+) and
//! `sale.completed` (−) from queue `inventory.stock`, once per event id, into
//! a movements ledger and stock levels, and announces each change as
//! `stock.changed`; answers REST on :8083 and gRPC
//! `erp.inventory.v1.Inventory` on :50051.
//!
//! | module | job |
//! |---|---|
//! | [`catalog`] | the write model: product and store aggregates and their events |
//! | [`stock`] | the ledger port and its in-memory adapter |
//! | `stock_mongo` | the ledger on MongoDB (feature `mongodb`), exactly once across crashes |
//! | [`projections`] | catalog read models from catalog events |
//! | [`app`] | commands and queries used by every adapter below |
//! | [`consumer`] | the bus handler applying events to the ledger and publishing `stock.changed` |
//! | [`api`] | REST routes |
//! | [`grpc`] | gRPC service and server reflection |
//! | [`grpc_health`] | `grpc.health.v1`, following readiness, ending its watches at shutdown |
//! | [`config`], [`startup`] | flags and wiring; `main.rs` only calls them |

pub mod api;
pub mod app;
pub mod catalog;
pub mod config;
pub mod consumer;
pub mod grpc;
pub mod grpc_health;
mod known;
pub mod projections;
pub mod startup;
pub mod stock;
#[cfg(feature = "mongodb")]
pub mod stock_mongo;
