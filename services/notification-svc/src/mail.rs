//! What a mail says: a pure function of the event, so that every delivery of
//! one event composes the same message, byte for byte (same `Message-ID`,
//! same `Date`), and a copy sent twice is recognisably one mail.

use std::time::SystemTime;

use erp_service::erp_core::{
    DecodeError, DomainEvent, EventEnvelope, EventId, EventLine, PurchaseCompleted, RawEnvelope,
    SaleCompleted, Timestamp,
};

/// A mail about one event, before it is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The event it reports; also the left part of its `Message-ID`.
    pub event_id: EventId,
    /// When the event happened: the mail's `Date`.
    pub date: SystemTime,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// The events that are mailed: `purchase.completed` and `sale.completed`.
pub const MAILED: [&str; 2] = [PurchaseCompleted::TYPE, SaleCompleted::TYPE];

/// The notice for `event`, `Ok(None)` for an event that is not mailed, or
/// why it cannot be read (a poison message).
pub fn compose(event: &RawEnvelope) -> Result<Option<Notice>, DecodeError> {
    let (subject, body) = match event.event_type.as_str() {
        PurchaseCompleted::TYPE => purchase(event.clone().into_typed()?),
        SaleCompleted::TYPE => sale(event.clone().into_typed()?),
        _ => return Ok(None),
    };
    Ok(Some(Notice {
        event_id: event.id,
        date: SystemTime::from(event.occurred_at.as_datetime()),
        subject,
        body,
    }))
}

fn purchase(e: EventEnvelope<PurchaseCompleted>) -> (String, String) {
    let p = e.data;
    let subject = format!(
        "Purchase {} completed: {} into store {}",
        p.purchase_id,
        units(&p.lines),
        p.store_id
    );
    let mut body = format!(
        "Purchase {} was completed at store {}.\n\nPurchased at: {}\n",
        p.purchase_id, p.store_id, p.purchased_at
    );
    if let Some(supplier) = &p.supplier {
        body.push_str(&format!("Supplier: {supplier}\n"));
    }
    body.push_str(&table(&p.lines));
    body.push_str(&footer(e.id, &e.source, e.occurred_at));
    (subject, body)
}

fn sale(e: EventEnvelope<SaleCompleted>) -> (String, String) {
    let s = e.data;
    let subject = format!(
        "Sale {} completed: {} from store {}",
        s.sale_id,
        units(&s.lines),
        s.store_id
    );
    let mut body = format!(
        "Sale {} was completed at store {}.\n\nSold at: {}\n",
        s.sale_id, s.store_id, s.sold_at
    );
    if let Some(customer) = &s.customer {
        body.push_str(&format!("Customer: {customer}\n"));
    }
    body.push_str(&table(&s.lines));
    body.push_str(&footer(e.id, &e.source, e.occurred_at));
    (subject, body)
}

fn units(lines: &[EventLine]) -> String {
    let units: i64 = lines.iter().map(|l| l.quantity.get()).sum();
    let s = if units == 1 { "" } else { "s" };
    format!(
        "{units} unit{s} in {} line{}",
        lines.len(),
        plural(lines.len())
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The lines, their totals and the total, in minor units as the API gives
/// them (the model has no currency). Totals are checked: a sum beyond 64
/// bits, which purchase-svc and sales-svc refuse, is written out as such
/// rather than wrapped.
fn table(lines: &[EventLine]) -> String {
    let mut out = format!(
        "\n{:<24} {:>12} {:>16} {:>20}\n",
        "Product", "Quantity", "Unit price", "Line total"
    );
    let mut total = Some(0i64);
    for l in lines {
        let line_total = l.unit_price.minor().checked_mul(l.quantity.get());
        total = total.zip(line_total).and_then(|(t, l)| t.checked_add(l));
        out.push_str(&format!(
            "{:<24} {:>12} {:>16} {:>20}\n",
            l.product_id.to_string(),
            l.quantity.get(),
            l.unit_price.minor(),
            amount(line_total)
        ));
    }
    out.push_str(&format!("\nTotal: {} (minor units)\n", amount(total)));
    out
}

fn amount(minor: Option<i64>) -> String {
    minor.map_or_else(|| "beyond 64 bits".to_owned(), |m| m.to_string())
}

fn footer(id: EventId, source: &str, at: Timestamp) -> String {
    // Short lines: the body then travels as plain 7-bit text.
    format!("\n--\nEvent {id}\nraised by {source} at {at}\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(event_type: &str, data: serde_json::Value) -> RawEnvelope {
        serde_json::from_value(json!({
            "id": "0190b0a0-0000-7000-8000-000000000001",
            "type": event_type,
            "version": 1,
            "occurred_at": "2026-12-06T10:00:00Z",
            "source": "purchase-svc",
            "correlation_id": "c",
            "causation_id": "c",
            "data": data,
        }))
        .unwrap()
    }

    fn purchase_event() -> RawEnvelope {
        envelope(
            "purchase.completed",
            json!({
                "purchase_id": "0190b0a0-0000-7000-8000-0000000000aa",
                "store_id": "main",
                "purchased_at": "2026-12-06T09:59:00Z",
                "supplier": "Acme",
                "lines": [
                    {"product_id": "bolt", "quantity": 10, "unit_price": 125},
                    {"product_id": "nut", "quantity": 3, "unit_price": 40},
                ],
            }),
        )
    }

    #[test]
    fn a_purchase_mail_names_the_purchase_its_lines_and_total() {
        let notice = compose(&purchase_event()).unwrap().unwrap();
        assert_eq!(
            notice.subject,
            "Purchase 0190b0a0-0000-7000-8000-0000000000aa completed: 13 units in 2 lines into store main"
        );
        let body = &notice.body;
        assert!(body.contains("Purchase 0190b0a0-0000-7000-8000-0000000000aa was completed"));
        assert!(body.contains("Supplier: Acme"));
        let rows: Vec<Vec<&str>> = body
            .lines()
            .map(|l| l.split_whitespace().collect())
            .filter(|w: &Vec<&str>| w.first().is_some_and(|p| *p == "bolt" || *p == "nut"))
            .collect();
        assert_eq!(
            rows,
            [["bolt", "10", "125", "1250"], ["nut", "3", "40", "120"]]
        );
        assert!(body.contains("Total: 1370 (minor units)"), "{body}");
        assert_eq!(
            notice.date,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_551_200)
        );
    }

    #[test]
    fn a_sale_mail_names_the_sale_and_its_customer() {
        let event = envelope(
            "sale.completed",
            json!({
                "sale_id": "0190b0a0-0000-7000-8000-0000000000bb",
                "store_id": "north",
                "sold_at": "2026-12-06T09:59:00Z",
                "customer": "Ada",
                "lines": [{"product_id": "bolt", "quantity": 1, "unit_price": 300}],
            }),
        );
        let notice = compose(&event).unwrap().unwrap();
        assert_eq!(
            notice.subject,
            "Sale 0190b0a0-0000-7000-8000-0000000000bb completed: 1 unit in 1 line from store north"
        );
        assert!(notice.body.contains("Customer: Ada"));
        assert!(notice.body.contains("Total: 300 (minor units)"));
    }

    #[test]
    fn the_same_event_composes_the_same_notice() {
        assert_eq!(
            compose(&purchase_event()).unwrap(),
            compose(&purchase_event()).unwrap()
        );
    }

    #[test]
    fn other_events_are_not_mailed_and_unreadable_ones_are_errors() {
        let other = envelope("stock.changed", json!({}));
        assert_eq!(compose(&other).unwrap(), None);
        let broken = envelope("purchase.completed", json!({"purchase_id": 3}));
        assert!(compose(&broken).is_err());
    }
}
