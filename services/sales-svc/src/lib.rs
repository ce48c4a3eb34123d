//! # sales-svc
//!
//! Records sales (REST on :8082) after asking inventory's REST API whether
//! each line's stock suffices; raises `sale.completed` through its outbox and
//! answers per-product summaries from a read model.
//!
//! | module | job |
//! |---|---|
//! | [`domain`] | the sale aggregate and its view |
//! | [`projections`] | `sale.completed` → sales and sale-lines read models |
//! | [`inventory_client`] | the REST client and the tower stack around it |
//! | [`app`] | the record command and the queries |
//! | [`api`] | REST routes |
//! | [`config`], [`startup`] | flags and wiring; `main.rs` only calls them |

pub mod api;
pub mod app;
pub mod config;
pub mod domain;
pub mod inventory_client;
pub mod projections;
pub mod startup;
