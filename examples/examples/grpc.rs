//! proto alone: the generated messages encode and decode with prost; the
//! same crate holds the tonic client and server for `erp.inventory.v1`.
//!
//! `cargo run -p erp-examples --example grpc`

use prost::Message;
use proto::erp::inventory::v1::{CheckPurchaseRequest, PurchaseLine};

fn main() -> anyhow::Result<()> {
    let request = CheckPurchaseRequest {
        store_id: "main".into(),
        lines: vec![PurchaseLine {
            product_id: "widget".into(),
            quantity: 3,
        }],
    };
    let bytes = request.encode_to_vec();
    let back = CheckPurchaseRequest::decode(bytes.as_slice())?;
    assert_eq!(back, request);
    println!("CheckPurchaseRequest is {} bytes on the wire", bytes.len());
    Ok(())
}
