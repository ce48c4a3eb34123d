//! # erp-domain
//!
//! The ERP-specific part the purchase and sales services share, kept out of
//! the generic `erp-service` toolkit: [`trade`], the request both take (a
//! store, a date, a counterparty and 1–100 priced lines), line totals, the
//! document view and list query over it, and the answers both give when
//! inventory refuses or cannot be asked.

#![warn(missing_docs)]

pub mod trade;
