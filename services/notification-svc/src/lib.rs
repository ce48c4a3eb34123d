//! # notification-svc
//!
//! An interested party built from the SDK's public API alone (issue 16,
//! `docs/guide.md`): it consumes `purchase.completed` and `sale.completed`
//! from its own queue and sends one mail per event through SMTP (lettre),
//! with the purchase or sale id, its lines and total.
//!
//! - [`mail`]: what a mail says, a pure function of the event;
//! - [`mailer`]: where it goes (SMTP, or a directory for all-in-one);
//! - [`consumer`]: once per event — inbox, send, record, ack — with retries
//!   and backoff while the mail server is down;
//! - [`startup`]: the wiring; [`config`]: the flags.

pub mod config;
pub mod consumer;
pub mod mail;
pub mod mailer;
pub mod startup;

/// The mail library, for embedders naming its types (`Mailbox`).
pub use lettre;
