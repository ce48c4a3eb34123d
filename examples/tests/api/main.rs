//! The three services together, started in-process on free ports exactly as
//! `all-in-one` starts them, and driven only over HTTP, as an outside client
//! would.

mod auth;
mod flow;
mod helpers;
mod openapi;
mod purchases;
mod queries;
mod resilience;
mod rules_walk;
mod sales;
