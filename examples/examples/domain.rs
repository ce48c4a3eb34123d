//! erp-core alone: parse values, decide with an aggregate, wrap in an envelope.
//!
//! `cargo run -p erp-examples --example domain`

use erp_core::{
    Aggregate, EventEnvelope, EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity,
    StoreId, Timestamp,
};

/// A toy aggregate: a tab that refuses to go over its limit.
#[derive(Default)]
struct Tab {
    spent: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("limit of 1000 exceeded")]
struct OverLimit;

impl Aggregate for Tab {
    type Command = Money;
    type Event = Money;
    type Error = OverLimit;

    fn handle(&self, amount: Money) -> Result<Vec<Money>, OverLimit> {
        if self.spent + amount.minor() > 1000 {
            return Err(OverLimit);
        }
        Ok(vec![amount])
    }

    fn apply(&mut self, spent: &Money) {
        self.spent += spent.minor();
    }
}

fn main() -> anyhow::Result<()> {
    // Invalid values do not parse, so nothing downstream re-checks them.
    assert!(ProductId::parse("no spaces allowed").is_err());
    assert!(Quantity::new(0).is_err());

    let mut tab = Tab::default();
    for amount in [400, 500, 300] {
        match tab.handle(Money::from_minor(amount)?) {
            Ok(events) => events.iter().for_each(|e| tab.apply(e)),
            Err(e) => println!("refused {amount}: {e}"),
        }
    }
    println!("tab spent {}", tab.spent);

    let event = PurchaseCompleted {
        purchase_id: PurchaseId::new(),
        store_id: StoreId::main(),
        purchased_at: Timestamp::now(),
        lines: vec![EventLine {
            product_id: ProductId::parse("widget")?,
            quantity: Quantity::new(3)?,
            unit_price: Money::from_minor(250)?,
        }],
        supplier: None,
    };
    let bytes = EventEnvelope::new(event, "example", "corr-1", "cmd-1")
        .into_raw()
        .encode();
    let back = EventEnvelope::<PurchaseCompleted>::decode(&bytes)?;
    println!("{} v{} id {}", back.event_type, back.version, back.id);
    Ok(())
}
