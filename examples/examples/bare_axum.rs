//! The baseline for the HTTP overhead comparison (issue #13,
//! `scripts/http-overhead.sh`): bare axum, no SDK, serving the same two
//! shapes as inventory-svc — a JSON GET of one map entry and a JSON POST
//! into a `Mutex<HashMap>` — on `127.0.0.1:$PORT` (default 9083).
//!
//! ```sh
//! cargo run --release -p erp-examples --example bare_axum
//! ```

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Value, json};

type Db = Arc<Mutex<HashMap<String, Value>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9083);
    let db: Db = Arc::default();
    db.lock()
        .unwrap()
        .insert("P".into(), json!({"id": "P", "name": "P", "unit": "pcs"}));
    let app = Router::new()
        .route(
            "/stock/{store}/{product}",
            get(
                |State(db): State<Db>, Path((store, product)): Path<(String, String)>| async move {
                    match db.lock().unwrap().get(&product) {
                        Some(_) => Ok(Json(
                            json!({"store_id": store, "product_id": product, "on_hand": 0}),
                        )),
                        None => Err(StatusCode::NOT_FOUND),
                    }
                },
            ),
        )
        .route(
            "/products",
            post(|State(db): State<Db>, Json(body): Json<Value>| async move {
                let id = body["id"].as_str().unwrap_or_default().to_owned();
                let mut db = db.lock().unwrap();
                if db.contains_key(&id) {
                    return Err(StatusCode::CONFLICT);
                }
                db.insert(id, body.clone());
                Ok((StatusCode::CREATED, Json(body)))
            }),
        )
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
