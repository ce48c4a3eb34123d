//! # loyalty-svc
//!
//! The service docs/guide.md builds, step by step, from the ERP SDK's
//! public API alone: customers earn a point per 100 minor units of every
//! sale (`sale.completed`, consumed once per event) and redeem points for a
//! product inventory knows (checked over REST behind a circuit breaker),
//! recorded with a `points.redeemed` event through the outbox.
//!
//! | route | |
//! |---|---|
//! | `POST /redemptions {customer, product_id, points}` | 201; 422 every invalid field, `unknown_product`; 409 `insufficient_points`; 503 `inventory_unavailable`; `Idempotency-Key` |
//! | `GET /redemptions/{id}` | one redemption |
//! | `GET /customers/{customer}/points` | `{earned, redeemed, available}` |
//! | `POST /admin/rebuild-read-models` | replays the write side (needs `--admin-token`) |
//! | `GET /health/live`, `/health/ready`, `/metrics` | from erp-service |

pub mod api;
pub mod app;
pub mod domain;
pub mod inventory;
pub mod projections;
pub mod startup;
