"""schemathesis hooks (loaded through ``SCHEMATHESIS_HOOKS``) for one deliberate API rule.

The API takes codes and AGE as JSON integers only: ``54.0`` is rejected (DESIGN.md, Features).
JSON Schema, and so the OpenAPI document, calls ``54.0`` an integer, so schemathesis sends it as
schema-valid data. Such bodies are dropped here, and only such: every other generated body is
sent and checked.
"""

from __future__ import annotations

import schemathesis

from features import FEATURES

INTEGER_FIELDS = frozenset(feature.name for feature in FEATURES if feature.kind != "amount")


def integral_float_in_integer_field(body: object) -> bool:
    records = [body] if isinstance(body, dict) else []
    if isinstance(body, dict) and isinstance(body.get("instances"), list):
        records += [record for record in body["instances"] if isinstance(record, dict)]
    return any(type(record.get(name)) is float for record in records for name in INTEGER_FIELDS)


@schemathesis.hook
def filter_body(context: schemathesis.HookContext, body: object) -> bool:
    return not integral_float_in_integer_field(body)
