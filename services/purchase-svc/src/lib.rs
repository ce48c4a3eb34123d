//! # purchase-svc
//!
//! Records purchases (REST on :8081) after asking inventory over gRPC that the
//! store and products exist and the store's capacity holds; raises
//! `purchase.completed` through its outbox.
//!
//! | module | job |
//! |---|---|
//! | [`domain`] | the purchase aggregate and its view |
//! | [`projection`] | `purchase.completed` → purchases read model |
//! | [`inventory_client`] | the gRPC client and the tower stack around it |
//! | [`app`] | the record command and the queries |
//! | [`api`] | REST routes |
//! | [`config`], [`startup`] | flags and wiring; `main.rs` only calls them |

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod inventory_client;
pub mod projection;
pub mod startup;
