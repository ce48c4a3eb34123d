//! Query parameters of list routes: `page`, `page_size`, `order`, `sort`,
//! `from`/`to` and id filters. Any bad value, and any parameter the route
//! does not read, → 400 listing every problem: a misspelt filter must not
//! silently return everything.

use std::collections::{HashMap, HashSet};

use erp_core::{Problems, Timestamp, ValidationError};
use erp_store::Order;

use crate::{
    ApiError,
    rules::{Whole, choice_schema, date_bound_schema, text_id_schema},
};

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 500;
/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// `page`: 1-based, at most `u32::MAX`.
pub const PAGE: Whole = Whole::range(1, u32::MAX as i64);
/// `page_size`: 1 to [`MAX_PAGE_SIZE`].
pub const PAGE_SIZE: Whole = Whole::range(1, MAX_PAGE_SIZE as i64);
/// The words `order` takes.
pub const ORDERS: [&str; 2] = ["asc", "desc"];

/// `page`, `page_size` and `order` of a list whose default order is
/// descending (newest first), as OpenAPI parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `ListQuery::paging` reads
pub struct PageParamsDesc {
    #[param(schema_with = page_schema)]
    page: Option<u64>,
    #[param(schema_with = page_size_schema)]
    page_size: Option<u64>,
    #[param(schema_with = order_desc_schema)]
    order: Option<String>,
}

/// `page`, `page_size` and `order` of a list ordered by id (default
/// ascending), as OpenAPI parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `ListQuery::paging_or(Asc)` reads
pub struct PageParamsAsc {
    #[param(schema_with = page_schema)]
    page: Option<u64>,
    #[param(schema_with = page_size_schema)]
    page_size: Option<u64>,
    #[param(schema_with = order_asc_schema)]
    order: Option<String>,
}

/// The `{id}` of a record (a UUID) in a route's path, as an OpenAPI parameter.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path the handlers read
pub struct UuidIdParam {
    #[param(schema_with = crate::rules::uuid_schema)]
    id: String,
}

/// `from` and `to`, as OpenAPI parameters. `from` after `to` is refused
/// too, a rule across two parameters that OpenAPI cannot state.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `ListQuery::range` reads
pub struct RangeParams {
    #[param(schema_with = date_bound_schema)]
    from: Option<String>,
    #[param(schema_with = date_bound_schema)]
    to: Option<String>,
}

/// The optional `store_id` and `product_id` filters, as OpenAPI parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the filters list routes read
pub struct IdFilterParams {
    #[param(schema_with = text_id_schema)]
    store_id: Option<String>,
    #[param(schema_with = text_id_schema)]
    product_id: Option<String>,
}

fn page_schema() -> utoipa::openapi::schema::Object {
    PAGE.schema(Some(1))
}

fn page_size_schema() -> utoipa::openapi::schema::Object {
    PAGE_SIZE.schema(Some(DEFAULT_PAGE_SIZE as i64))
}

fn order_desc_schema() -> utoipa::openapi::schema::Object {
    choice_schema(&ORDERS, "desc")
}

fn order_asc_schema() -> utoipa::openapi::schema::Object {
    choice_schema(&ORDERS, "asc")
}

/// Raw query parameters, read one by one.
#[derive(Debug, Default)]
pub struct ListQuery {
    params: HashMap<String, String>,
    read: HashSet<&'static str>,
    problems: Problems,
}

/// Paging and ordering of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based page.
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
    /// Sort direction.
    pub order: Order,
    /// Whether the client asked for a page; plain lists return everything otherwise.
    pub explicit: bool,
}

impl Paging {
    /// How many items precede the page; 0 when the client asked for none.
    pub fn skip(&self) -> u64 {
        if self.explicit {
            (self.page - 1).saturating_mul(self.page_size)
        } else {
            0
        }
    }

    /// The page's size; `None` (everything) when the client asked for none.
    pub fn limit(&self) -> Option<u64> {
        self.explicit.then_some(self.page_size)
    }

    /// The requested page of an already ordered list; the whole list when
    /// the client asked for no page. For lists already in memory; lists
    /// from a store pass [`Paging::skip`] and [`Paging::limit`] to it.
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        let skip = usize::try_from(self.skip()).unwrap_or(usize::MAX);
        let take = self
            .limit()
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        items.into_iter().skip(skip).take(take).collect()
    }
}

impl ListQuery {
    /// Starts reading `params`.
    pub fn new(params: HashMap<String, String>) -> Self {
        Self {
            params,
            read: HashSet::new(),
            problems: Problems::default(),
        }
    }

    /// The raw value of `name`, marking it as one this route reads.
    fn get(&mut self, name: &'static str) -> Option<&String> {
        self.read.insert(name);
        self.params.get(name)
    }

    fn whole(&mut self, name: &'static str, rule: Whole, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(raw) => match rule.parse(raw) {
                // The rule's bounds are positive, so the value fits.
                Ok(n) => n.unsigned_abs(),
                Err(problem) => {
                    self.problems.add(name, problem);
                    default
                }
            },
        }
    }

    /// `page`, `page_size` and `order` (default desc: dated lists show the
    /// newest first).
    pub fn paging(&mut self) -> Paging {
        self.paging_or(Order::Desc)
    }

    /// `page`, `page_size` and `order`, defaulting to `default_order` (asc
    /// for lists ordered by id, which have no date).
    pub fn paging_or(&mut self, default_order: Order) -> Paging {
        let explicit = self.params.contains_key("page") || self.params.contains_key("page_size");
        let page = self.whole("page", PAGE, 1);
        let page_size = self.whole("page_size", PAGE_SIZE, DEFAULT_PAGE_SIZE);
        let order = match self.get("order").map(String::as_str) {
            None => default_order,
            Some("desc") => Order::Desc,
            Some("asc") => Order::Asc,
            Some(_) => {
                self.problems.add("order", "must be asc or desc");
                default_order
            }
        };
        Paging {
            page,
            page_size,
            order,
            explicit,
        }
    }

    /// `sort`, one of `allowed` (the first is the default).
    pub fn sort(&mut self, allowed: &[&'static str]) -> &'static str {
        match self.get("sort") {
            None => allowed[0],
            Some(s) => match allowed.iter().find(|a| **a == s.as_str()) {
                Some(a) => a,
                None => {
                    self.problems
                        .add("sort", format!("must be one of {}", allowed.join(", ")));
                    allowed[0]
                }
            },
        }
    }

    /// `from` and `to`: RFC 3339 or `YYYY-MM-DD`; `from` must not be after `to`.
    pub fn range(&mut self) -> (Option<Timestamp>, Option<Timestamp>) {
        let mut bound = |name: &'static str, upper| {
            let raw = self.get(name)?.clone();
            self.problems
                .check(name, Timestamp::parse_bound(&raw, upper))
        };
        let from = bound("from", false);
        let to = bound("to", true);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            self.problems.add("from", "must not be after to");
        }
        (from, to)
    }

    /// An optional parameter parsed by `parse`.
    pub fn optional<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.get(name)?.clone();
        self.problems.check(name, parse(&raw))
    }

    /// A required parameter parsed by `parse`.
    pub fn required<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        if !self.params.contains_key(name) {
            self.problems.add(name, "is required");
            return None;
        }
        self.optional(name, parse)
    }

    /// Ends reading: 400 `invalid_query` if anything was wrong, naming
    /// each parameter the route did not read as unknown.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self
            .params
            .keys()
            .filter(|k| !self.read.contains(k.as_str()))
            .collect();
        unknown.sort();
        for name in unknown {
            self.problems.add(name, "unknown query parameter");
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            let err: ValidationError = self.problems.finish::<()>(None).unwrap_err();
            Err(ApiError::invalid_query(err))
        }
    }
}

/// Extractor for routes that take no query parameters: any parameter → 400
/// `invalid_query` naming each, like the list routes.
#[derive(Debug, Clone, Copy)]
pub struct NoQuery;

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for NoQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_none_or(str::is_empty) {
            return Ok(Self);
        }
        let params = axum::extract::Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "the query string cannot be parsed",
                )
            })?;
        ListQuery::new(params).finish().map(|()| Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> ListQuery {
        ListQuery::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        )
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let mut l = q(&[]);
        let p = l.paging();
        assert_eq!(
            (p.page, p.page_size, p.order, p.explicit),
            (1, 50, Order::Desc, false)
        );
        assert_eq!(l.sort(&["purchased_at", "total"]), "purchased_at");
        assert!(l.finish().is_ok());
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let mut l = q(&[
            ("page", "0"),
            ("page_size", "501"),
            ("order", "up"),
            ("sort", "name"),
            ("from", "2026-02-01"),
            ("to", "2026-01-01"),
        ]);
        l.paging();
        l.sort(&["purchased_at", "total"]);
        l.range();
        let err = l.finish().unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "invalid_query");
    }

    #[test]
    fn every_parameter_the_route_does_not_read_is_named() {
        let mut l = q(&[("page", "1"), ("bogus", "1"), ("store", "x")]);
        l.paging();
        l.optional("store_id", |s| Ok::<_, String>(s.to_owned()));
        let err = l.finish().unwrap_err();
        let fields: Vec<_> = err
            .details()
            .iter()
            .map(|d| (d.field.as_str(), d.problem.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("bogus", "unknown query parameter"),
                ("store", "unknown query parameter")
            ]
        );
    }

    #[test]
    fn slices_only_when_asked() {
        let mut l = q(&[]);
        assert_eq!(l.paging().slice((1..=60).collect::<Vec<_>>()).len(), 60);
        let mut l = q(&[("page", "2"), ("page_size", "25")]);
        assert_eq!(
            l.paging().slice((1..=60).collect::<Vec<_>>()),
            (26..=50).collect::<Vec<_>>()
        );
    }

    #[test]
    fn ranges_accept_dates_and_timestamps() {
        let mut l = q(&[("from", "2026-01-01"), ("to", "2026-01-01T10:00:00Z")]);
        let (f, t) = l.range();
        assert!(f.is_some() && t.is_some());
        assert!(l.finish().is_ok());
        let mut l = q(&[("page_size", "500"), ("page", "3"), ("order", "asc")]);
        let p = l.paging();
        assert_eq!(
            (p.page, p.page_size, p.order, p.explicit),
            (3, 500, Order::Asc, true)
        );
    }
}
