//! Commands and queries of sales-svc.

use std::sync::Arc;

use axum::http::StatusCode;
use erp_bus::relay::{EventOrigin, RelayHandle};
use erp_core::{FieldProblem, ProductId, QueryHandler, SaleId, Timestamp};
use erp_domain::trade::{TradeRequest, refusal};
use erp_service::{
    ApiError,
    idempotency::{already_created, settle_create},
};
use erp_store::{Filter, Page, ReadModel, ViewQuery, WriteStore};
use futures::future::join_all;
use serde::Serialize;
use serde_json::json;

use crate::{
    domain::{RecordSale, Sale, SaleAggregate},
    inventory_client::{Stock, StockClient},
    projections::SaleLine,
};

/// The name sales-svc signs its events with.
pub const SOURCE: &str = "sales-svc";

/// Everything sales-svc's routes need, shared by every request.
pub type Sales = erp_service::Shared<SalesParts>;

/// The ports sales's commands and queries use.
pub struct SalesParts {
    pub(crate) store: Arc<dyn WriteStore<Sale>>,
    pub(crate) views: Arc<dyn ReadModel<Sale>>,
    pub(crate) lines: Arc<dyn ReadModel<SaleLine>>,
    pub(crate) inventory: StockClient,
    pub(crate) relay: RelayHandle,
}

/// `GET /sales/summary` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Units sold.
    pub quantity: i64,
    /// Σ line totals, minor units.
    pub amount: i64,
    /// Sales that included the product.
    pub sales_count: u64,
}

impl SalesParts {
    /// Checks stock with inventory, records the sale and queues
    /// `sale.completed` in the outbox, in one write.
    pub async fn record(
        &self,
        request: TradeRequest,
        correlation_id: &str,
        key_id: Option<SaleId>,
    ) -> Result<Sale, ApiError> {
        // A retry of a keyed request whose first try wrote: its answer,
        // before any check (a sale's stock is gone by now).
        if let Some(id) = key_id
            && let Some(first) = already_created(self.store.as_ref(), &id.to_string()).await?
        {
            return Ok(first);
        }
        self.check_stock(&request, correlation_id).await?;
        let id = key_id.unwrap_or_default(); // default: a fresh v7 id
        let origin = EventOrigin {
            source: SOURCE,
            correlation_id,
            publish: true,
        };
        let created = self
            .relay
            .create(
                self.store.as_ref(),
                &id.to_string(),
                SaleAggregate::default(),
                RecordSale { id, request },
                |a| a.0,
                origin,
            )
            .await;
        settle_create(
            self.store.as_ref(),
            &id.to_string(),
            key_id.is_some(),
            created,
        )
        .await
    }

    /// Advisory: stock may still change before `sale.completed` is applied.
    async fn check_stock(
        &self,
        request: &TradeRequest,
        correlation_id: &str,
    ) -> Result<(), ApiError> {
        let answers = join_all(request.lines.iter().map(|l| {
            self.inventory
                .stock(&request.store_id, &l.product_id, correlation_id)
        }))
        .await;
        let mut unknown_store = false;
        let mut unknown = Vec::new();
        let mut short = Vec::new();
        for (i, (line, answer)) in request.lines.iter().zip(answers).enumerate() {
            let answer = answer.map_err(|e| {
                tracing::warn!(error = %e, "stock check failed");
                refusal::inventory_unavailable("stock", 1)
            })?;
            match answer {
                Stock::UnknownStore => unknown_store = true,
                Stock::UnknownProduct => unknown.push(refusal::unknown_product_line(i, line)),
                Stock::OnHand(n) if n < line.quantity.get() => short.push(FieldProblem {
                    field: format!("lines[{i}].quantity"),
                    problem: format!("requested {}, on hand {n}", line.quantity),
                }),
                Stock::OnHand(_) => {}
            }
        }
        if unknown_store {
            return Err(refusal::unknown_store(&request.store_id));
        }
        if !unknown.is_empty() {
            return Err(refusal::unknown_products(unknown));
        }
        if !short.is_empty() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "insufficient_stock",
                "not enough stock for some lines",
            )
            .with_details(short));
        }
        Ok(())
    }

    /// Rebuilds the sales and sale-lines read models from the write side.
    pub async fn rebuild_read_models(&self) -> Result<usize, ApiError> {
        self.views.clear().await?;
        self.lines.clear().await?;
        erp_service::rebuild::replay(
            self.store.as_ref(),
            self.relay.projections(),
            SOURCE,
            Sale::to_event,
        )
        .await
    }

    /// A sale from the read model.
    pub async fn get(&self, id: &SaleId) -> Result<Option<Sale>, ApiError> {
        Ok(self.views.get(&id.to_string()).await?)
    }

    /// A page of sales from the read model.
    pub async fn list(&self, query: &ViewQuery) -> Result<Page<Sale>, ApiError> {
        Ok(self.views.query(query).await?)
    }
}

/// `GET /sales/summary`: what was sold of a product in a date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryQuery {
    /// The product.
    pub product: ProductId,
    /// Earliest `sold_at`, inclusive.
    pub from: Option<Timestamp>,
    /// Latest `sold_at`, inclusive.
    pub to: Option<Timestamp>,
}

/// Answered from the sale-lines read model only, summed by its store.
#[async_trait::async_trait]
impl QueryHandler<SummaryQuery> for SalesParts {
    type Output = Summary;
    type Error = ApiError;

    async fn handle(&self, query: SummaryQuery) -> Result<Summary, ApiError> {
        let SummaryQuery { product, from, to } = query;
        let mut filters = vec![Filter::Eq("product_id".into(), json!(product))];
        if let Some(f) = from {
            filters.push(Filter::Gte("sold_at".into(), json!(f.to_string())));
        }
        if let Some(t) = to {
            filters.push(Filter::Lte("sold_at".into(), json!(t.to_string())));
        }
        let t = self.lines.totals(&filters, &["quantity", "amount"]).await?;
        Ok(Summary {
            product_id: product,
            quantity: t.sums[0],
            amount: t.sums[1],
            sales_count: t.count,
        })
    }
}
