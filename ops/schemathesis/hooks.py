"""Rules of the ERP REST contract that OpenAPI cannot state.

A schema describes one request at a time. Three refusals of a schema-valid
request depend on something else, so schemathesis' positive-data check
(ST202) would count them as the document allowing what the server refuses:

- 422 `unknown_product` / `unknown_store`: a purchase or sale names a product
  or store that inventory does not have (design §5); generated ids are
  random, so they almost never exist.
- 422 `idempotency_key_reused`: the same `Idempotency-Key` was sent before
  with another body (design §5); generated keys repeat across cases.
- 400 `invalid_query` whose only problem is `from` after `to` (design §5), a
  rule across two parameters.
- 422 `validation_failed` whose only problems are rules across the lines of
  a purchase or sale: a product on more than one line (design §5), or
  quantities and prices each in range whose products summed overflow the
  64-bit amount (`lines: total is too large`).

Only those exact refusals are dropped, recognised by the error code in the
body; every other failure of every check stands.
"""

import json
import re

import schemathesis

STATE_REFUSALS = {"unknown_product", "unknown_store", "idempotency_key_reused"}
# (status, code, the (field pattern, problem) pairs every detail must be one of)
CROSS_FIELD_REFUSALS = [
    (400, "invalid_query", [(r"from", "must not be after to")]),
    (
        422,
        "validation_failed",
        [
            (r"lines", "total is too large"),
            (r"lines\[\d+\]\.product_id", "appears on more than one line"),
        ],
    ),
]


def _error(response):
    try:
        return json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return None


def _is_contract_refusal(response) -> bool:
    error = _error(response)
    if error is None:
        return False
    if response.status_code == 422 and error.get("code") in STATE_REFUSALS:
        return True
    details = error.get("details") or []
    for status, code, rules in CROSS_FIELD_REFUSALS:
        if response.status_code == status and error.get("code") == code and details:
            if all(_matches(d, rules) for d in details):
                return True
    return False


def _matches(detail, rules) -> bool:
    field, problem = detail.get("field") or "", detail.get("problem")
    return any(re.fullmatch(f, field) and problem == p for f, p in rules)


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure except a positive-data rejection by a rule above."""
    if getattr(failure, "code", None) != "ST202" or response is None:
        return True
    return not _is_contract_refusal(response)
