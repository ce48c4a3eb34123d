//! The integration events exchanged between services (design §6). Their JSON
//! is a public contract: add optional fields only, or raise the version.

use serde::{Deserialize, Serialize};

use crate::{DomainEvent, Money, ProductId, PurchaseId, Quantity, SaleId, StoreId, Timestamp};

/// One line of a purchase or a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventLine {
    /// The product moved.
    pub product_id: ProductId,
    /// How many units.
    pub quantity: Quantity,
    /// Price per unit in minor units.
    pub unit_price: Money,
}

/// Goods were bought into a store: inventory adds `quantity` per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PurchaseCompleted {
    /// The purchase recorded by purchase-svc.
    pub purchase_id: PurchaseId,
    /// The receiving store.
    pub store_id: StoreId,
    /// When the purchase happened (business time).
    pub purchased_at: Timestamp,
    /// What was bought; each product appears once.
    pub lines: Vec<EventLine>,
    /// Who sold it to us, if recorded. Optional, so consumers of the
    /// original schema are unaffected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
}

impl DomainEvent for PurchaseCompleted {
    const TYPE: &'static str = "purchase.completed";
    const VERSION: u32 = 1;
}

/// Goods were sold from a store: inventory subtracts `quantity` per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SaleCompleted {
    /// The sale recorded by sales-svc.
    pub sale_id: SaleId,
    /// The selling store.
    pub store_id: StoreId,
    /// When the sale happened (business time).
    pub sold_at: Timestamp,
    /// What was sold; each product appears once.
    pub lines: Vec<EventLine>,
    /// Who bought it, if recorded. Optional, so consumers of the original
    /// schema are unaffected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

impl DomainEvent for SaleCompleted {
    const TYPE: &'static str = "sale.completed";
    const VERSION: u32 = 1;
}

/// Inventory moved the stock of one product in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StockChanged {
    /// The store.
    pub store_id: StoreId,
    /// The product.
    pub product_id: ProductId,
    /// Signed change in units.
    pub delta: i64,
    /// Units on hand after the change; negative when sales outran stock.
    pub on_hand: i64,
    /// The purchase or sale event that caused the change.
    pub cause_event_id: crate::EventId,
}

impl DomainEvent for StockChanged {
    const TYPE: &'static str = "stock.changed";
    const VERSION: u32 = 1;
}
