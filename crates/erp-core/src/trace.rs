//! W3C trace context (`traceparent`) for one request across services.
//!
//! A request's correlation id doubles as its trace id when it is a UUID
//! (the services' request ids are, and a request that arrives with a
//! `traceparent` takes that trace id as its request id). So the request,
//! every call it makes (REST, gRPC) and every event it raises carry the same
//! trace id, and a tracing backend shows them as one trace.

/// The trace id (32 lowercase hex digits) a correlation id stands for:
/// the correlation id itself when it is a UUID (hyphenated or not) other
/// than the nil one; `None` otherwise.
pub fn trace_id(correlation_id: &str) -> Option<String> {
    let hex: String = correlation_id.chars().filter(|c| *c != '-').collect();
    let ok = hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && hex.chars().any(|c| c != '0')
        && (correlation_id.len() == 32 || correlation_id.len() == 36);
    ok.then(|| hex.to_ascii_lowercase())
}

/// A `traceparent` header value: version 00, sampled.
pub fn traceparent(trace_id: &str, span_id: &str) -> String {
    format!("00-{trace_id}-{span_id}-01")
}

/// A fresh span id: 16 hex digits from the random part of a v7 UUID.
pub fn new_span_id() -> String {
    crate::EventId::new().as_uuid().simple().to_string()[16..].to_owned()
}

/// The trace id of a `traceparent` value, if it is well formed
/// (`00-<32 hex, not all 0>-<16 hex, not all 0>-<2 hex>`).
pub fn trace_id_of_traceparent(value: &str) -> Option<&str> {
    let mut parts = value.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    (parts.next().is_none()
        && hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && nonzero(trace)
        && hex(span, 16)
        && nonzero(span)
        && hex(flags, 2))
    .then_some(trace)
}

/// The `traceparent` for a call made while handling the request with this
/// correlation id: its trace, a new span. `None` when the correlation id is
/// no UUID (a client's own request id), since no trace id follows from it.
pub fn outbound_traceparent(correlation_id: &str) -> Option<String> {
    trace_id(correlation_id).map(|t| traceparent(&t, &new_span_id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_trace_ids_and_other_text_is_not() {
        let id = "01a24368-2017-736f-935d-7db891410c65";
        assert_eq!(
            trace_id(id).as_deref(),
            Some("01a243682017736f935d7db891410c65")
        );
        assert_eq!(
            trace_id("01A243682017736F935D7DB891410C65").as_deref(),
            Some("01a243682017736f935d7db891410c65")
        );
        for not in [
            "",
            "abc",
            "00000000-0000-0000-0000-000000000000",
            "01a2-4368",
        ] {
            assert_eq!(trace_id(not), None, "{not}");
        }
    }

    #[test]
    fn outbound_traceparents_are_well_formed_and_keep_the_trace() {
        let id = "01a24368-2017-736f-935d-7db891410c65";
        let tp = outbound_traceparent(id).unwrap();
        assert_eq!(
            trace_id_of_traceparent(&tp),
            Some("01a243682017736f935d7db891410c65")
        );
        assert_ne!(outbound_traceparent(id), Some(tp), "a new span each call");
        for bad in [
            "00-00000000000000000000000000000000-0000000000000001-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
        ] {
            assert_eq!(trace_id_of_traceparent(bad), None, "{bad}");
        }
    }
}
