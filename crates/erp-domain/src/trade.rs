//! What purchases and sales have in common, so neither service repeats the
//! other: the request shape (store, date, counterparty, 1–100 priced lines),
//! line totals, the document view, and the list query over it.

use std::collections::{HashMap, HashSet};

use erp_core::{EventLine, Money, Problems, ProductId, Quantity, StoreId, Timestamp};
use erp_store::{Filter, Page, ViewQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use erp_service::{
    ApiError, JsonBody,
    fields::{array, get, integer, object, only, parsed, required},
    list::ListQuery,
    rules::{Text, choice_schema, money_schema, quantity_schema, text_id_schema},
};

/// A kind of trade document (purchases, sales): what its lists sort by, the
/// date field first (the default sort, and the field `from`/`to` bound).
pub trait DocumentKind {
    /// What `sort` takes.
    const SORTS: [&'static str; 2];
}

/// `sort` of a list of `K`, as an OpenAPI parameter, from the same
/// [`DocumentKind::SORTS`] that [`DocumentList::parse`] is given.
pub struct SortParam<K>(std::marker::PhantomData<K>);

impl<K: DocumentKind> utoipa::IntoParams for SortParam<K> {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            utoipa::openapi::path::ParameterBuilder::new()
                .name("sort")
                .parameter_in(utoipa::openapi::path::ParameterIn::Query)
                .required(utoipa::openapi::Required::False)
                .schema(Some(choice_schema(&K::SORTS, K::SORTS[0])))
                .build(),
        ]
    }
}

/// Most lines one purchase or sale may carry.
pub const MAX_LINES: usize = 100;
/// The supplier or customer.
pub const PARTY: Text = Text::max(200);
/// The fields of a line.
const LINE_FIELDS: [&str; 3] = ["product_id", "quantity", "unit_price"];

/// One line of a purchase or sale request. Unknown fields are refused.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON `parse_request` reads
pub struct LineRequest {
    /// Each product on one line only.
    #[schema(schema_with = text_id_schema)]
    product_id: String,
    #[schema(schema_with = quantity_schema)]
    quantity: i64,
    /// Minor units.
    #[schema(schema_with = money_schema)]
    unit_price: i64,
}

/// `lines` of a request: 1 to [`MAX_LINES`] [`LineRequest`]s.
pub fn lines_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("LineRequest"))
        .min_items(Some(1))
        .max_items(Some(MAX_LINES))
        .description(Some("each product on one line only"))
        .build()
}

/// The supplier or customer of a request (`null` means absent).
pub fn party_schema() -> utoipa::openapi::schema::Object {
    erp_service::rules::or_null(PARTY.schema())
}

/// A validated purchase or sale request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRequest {
    /// The store; `main` when omitted.
    pub store_id: StoreId,
    /// Business time; now when omitted.
    pub at: Timestamp,
    /// Supplier or customer, if given.
    pub party: Option<String>,
    /// The lines, each product once.
    pub lines: Vec<EventLine>,
}

/// Parses a request body. `date_field` is `purchased_at` or `sold_at`,
/// `party_field` `supplier` or `customer`. Every problem is reported.
pub fn parse_request(
    body: &JsonBody,
    date_field: &str,
    party_field: &str,
) -> Result<TradeRequest, ApiError> {
    let o = &body.0;
    let mut p = Problems::default();
    only(
        &mut p,
        "",
        o,
        &["store_id", date_field, party_field, "lines"],
    );
    let store_id = match get(o, "store_id") {
        None => Some(StoreId::main()),
        Some(v) => parsed(&mut p, "store_id", v, StoreId::parse),
    };
    let at = match get(o, date_field) {
        None => Some(Timestamp::now()),
        Some(v) => parsed(&mut p, date_field, v, Timestamp::parse),
    };
    let party = match get(o, party_field) {
        None => Some(None),
        Some(v) => PARTY.read(&mut p, party_field, v).map(Some),
    };
    let lines = required(&mut p, "lines", get(o, "lines")).and_then(|v| parse_lines(&mut p, v));
    if let Some(lines) = &lines
        && let Err(e) = totals(lines)
    {
        p.add("lines", e);
    }
    let request = store_id
        .zip(at)
        .zip(party)
        .zip(lines)
        .map(|(((store_id, at), party), lines)| TradeRequest {
            store_id,
            at,
            party,
            lines,
        });
    Ok(p.finish(request)?)
}

fn parse_lines(p: &mut Problems, v: &Value) -> Option<Vec<EventLine>> {
    let items = array(p, "lines", v, 1, MAX_LINES)?;
    let mut lines = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    let mut all_ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = |f: &str| format!("lines[{i}].{f}");
        let Some(o) = object(p, &format!("lines[{i}]"), item) else {
            all_ok = false;
            continue;
        };
        only(p, &format!("lines[{i}]"), o, &LINE_FIELDS);
        let product = required(p, &path("product_id"), get(o, "product_id"))
            .and_then(|v| parsed(p, &path("product_id"), v, ProductId::parse));
        if let Some(id) = &product
            && !seen.insert(id.clone())
        {
            p.add(path("product_id"), "appears on more than one line");
        }
        let quantity = required(p, &path("quantity"), get(o, "quantity"))
            .and_then(|v| integer(p, &path("quantity"), v, Quantity::new));
        let unit_price = required(p, &path("unit_price"), get(o, "unit_price"))
            .and_then(|v| integer(p, &path("unit_price"), v, Money::from_minor));
        match (product, quantity, unit_price) {
            (Some(product_id), Some(quantity), Some(unit_price)) => lines.push(EventLine {
                product_id,
                quantity,
                unit_price,
            }),
            _ => all_ok = false,
        }
    }
    all_ok.then_some(lines)
}

/// A line as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineView {
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Units.
    #[schema(value_type = i64, minimum = 1)]
    pub quantity: Quantity,
    /// Price per unit, minor units.
    #[schema(value_type = i64, minimum = 0)]
    pub unit_price: Money,
    /// quantity × unit_price.
    #[schema(value_type = i64)]
    pub line_total: Money,
}

impl LineView {
    /// The line as events carry it.
    pub fn to_event_line(&self) -> EventLine {
        EventLine {
            product_id: self.product_id.clone(),
            quantity: self.quantity,
            unit_price: self.unit_price,
        }
    }
}

/// Line views and the document total; fails when a total overflows.
pub fn totals(lines: &[EventLine]) -> Result<(Vec<LineView>, Money), erp_core::AmountError> {
    let mut total = Money::ZERO;
    let mut views = Vec::with_capacity(lines.len());
    for l in lines {
        let line_total = l.unit_price.checked_mul(l.quantity)?;
        total = total.checked_add(line_total)?;
        views.push(LineView {
            product_id: l.product_id.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            line_total,
        });
    }
    Ok((views, total))
}

/// A parsed list request over purchases or sales.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentList {
    /// The store query.
    pub query: ViewQuery,
}

impl DocumentList {
    /// Parses `from, to, store_id, product_id, page, page_size, sort, order`;
    /// `sorts` are what `sort` takes, the first being the document's date
    /// field (the default sort and the field `from`/`to` bound).
    pub fn parse(
        params: HashMap<String, String>,
        sorts: &[&'static str],
    ) -> Result<Self, ApiError> {
        let date_field = sorts[0];
        let mut q = ListQuery::new(params);
        let (from, to) = q.range();
        let store = q.optional("store_id", StoreId::parse);
        let product = q.optional("product_id", ProductId::parse);
        let sort = q.sort(sorts);
        let paging = q.paging();
        q.finish()?;
        let mut filters = Vec::new();
        if let Some(f) = from {
            filters.push(Filter::Gte(date_field.into(), json!(f.to_string())));
        }
        if let Some(t) = to {
            filters.push(Filter::Lte(date_field.into(), json!(t.to_string())));
        }
        if let Some(s) = store {
            filters.push(Filter::Eq("store_id".into(), json!(s)));
        }
        if let Some(p) = product {
            filters.push(Filter::Eq("lines.product_id".into(), json!(p)));
        }
        Ok(Self {
            query: ViewQuery {
                filters,
                // The id (a v7 UUID) breaks ties, so pages never overlap.
                sort: vec![(sort.into(), paging.order), ("id".into(), paging.order)],
                page: paging.page,
                page_size: paging.page_size,
            },
        })
    }

    /// The response body: `{items, page, page_size, total_items}`.
    pub fn body<V: Serialize>(&self, page: Page<V>) -> Value {
        json!({
            "items": page.items,
            "page": self.query.page,
            "page_size": self.query.page_size,
            "total_items": page.total_items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> JsonBody {
        JsonBody(v.as_object().unwrap().clone())
    }

    fn fields(e: ApiError) -> Vec<String> {
        let r = axum::response::IntoResponse::into_response(e);
        assert_eq!(r.status(), 422);
        let b = futures_body(r);
        b["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap().to_owned())
            .collect()
    }

    fn futures_body(r: axum::response::Response) -> Value {
        let bytes = futures_executor(axum::body::to_bytes(r.into_body(), usize::MAX)).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn defaults_store_and_date_and_computes_totals() {
        let r = parse_request(
            &body(json!({"lines":[{"product_id":"a","quantity":2,"unit_price":150},{"product_id":"b","quantity":1,"unit_price":0}]})),
            "purchased_at",
            "supplier",
        )
        .unwrap();
        assert_eq!(r.store_id, StoreId::main());
        assert_eq!(r.party, None);
        let (lines, total) = totals(&r.lines).unwrap();
        assert_eq!(lines[0].line_total.minor(), 300);
        assert_eq!(total.minor(), 300);
    }

    #[test]
    fn lists_every_problem_including_duplicate_products() {
        let e = parse_request(
            &body(json!({
                "store_id": "bad id",
                "sold_at": "yesterday",
                "customer": 7,
                "lines": [
                    {"product_id": "a", "quantity": 0, "unit_price": -1},
                    {"product_id": "a", "quantity": 1, "unit_price": 1},
                    "x"
                ]
            })),
            "sold_at",
            "customer",
        )
        .unwrap_err();
        assert_eq!(
            fields(e),
            [
                "store_id",
                "sold_at",
                "customer",
                "lines[0].quantity",
                "lines[0].unit_price",
                "lines[1].product_id",
                "lines[2]"
            ]
        );
    }

    #[test]
    fn line_count_is_bounded_and_overflow_is_reported() {
        let e = parse_request(&body(json!({"lines": []})), "sold_at", "customer").unwrap_err();
        assert_eq!(fields(e), ["lines"]);
        let line = |p: &str| json!({"product_id": p, "quantity": 1_000_000_000, "unit_price": i64::MAX / 2});
        let e =
            parse_request(&body(json!({"lines": [line("a")]})), "sold_at", "customer").unwrap_err();
        assert_eq!(fields(e), ["lines"]);
        let many: Vec<_> = (0..=MAX_LINES)
            .map(|i| json!({"product_id": format!("p{i}"), "quantity": 1, "unit_price": 1}))
            .collect();
        let e = parse_request(&body(json!({"lines": many})), "sold_at", "customer").unwrap_err();
        assert_eq!(fields(e), ["lines"]);
    }

    #[test]
    fn list_query_builds_filters_and_a_stable_sort() {
        let params = [
            ("store_id", "main"),
            ("product_id", "p"),
            ("sort", "total"),
            ("order", "asc"),
            ("from", "2026-01-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let l = DocumentList::parse(params, &["sold_at", "total"]).unwrap();
        assert_eq!(l.query.filters.len(), 3);
        assert_eq!(l.query.sort[0], ("total".to_owned(), erp_store::Order::Asc));
        assert_eq!(l.query.sort[1].0, "id");
    }
}

/// The answers a purchase or sale gets when inventory's check refuses it or
/// cannot be made (design §5), worded the same in both services.
pub mod refusal {
    use axum::http::StatusCode;
    use erp_core::{EventLine, FieldProblem, StoreId};

    use erp_service::ApiError;

    /// 503 `inventory_unavailable` with `Retry-After`; `what` says which
    /// check could not be made.
    pub fn inventory_unavailable(what: &str, retry_after_secs: u64) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "inventory_unavailable",
            format!("inventory cannot be reached to check {what}; retry later"),
        )
        .with_retry_after(retry_after_secs)
    }

    /// 422 `unknown_store`.
    pub fn unknown_store(store: &StoreId) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_store",
            format!("inventory knows no store {store}"),
        )
        .with_detail("store_id", "unknown store")
    }

    /// The detail of one line whose product inventory does not know.
    pub fn unknown_product_line(index: usize, line: &EventLine) -> FieldProblem {
        FieldProblem {
            field: format!("lines[{index}].product_id"),
            problem: format!("unknown product {}", line.product_id),
        }
    }

    /// 422 `unknown_product`, a detail per unknown line.
    pub fn unknown_products(details: Vec<FieldProblem>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_product",
            "inventory does not know some products",
        )
        .with_details(details)
    }
}
