"""The OpenAPI 3.1 document of the function, generated from the feature contract and the API's limits."""

from __future__ import annotations

import functools

from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.fields import FEATURE_NAMES, FEATURES, Feature
from default_risk.contract.limits import (
    ID_FIELD,
    MAX_BODY_BYTES,
    MAX_EXPLAIN_INSTANCES,
    MAX_ID_LENGTH,
    MAX_INSTANCES,
    MAX_REQUEST_LINE_BYTES,
)
from default_risk.contract.points import SCALE
from default_risk.contract.reasons import GROUP_NAMES, GROUPS, MAX_REASONS
from default_risk.contract.recourse import (
    ACTIONABLE_FIELDS,
    DEFAULT_TARGET_BAND,
    DEFAULT_VALUE,
    LEVERS,
    RECOURSE_PARAMETER,
)
from default_risk.protocols.answers import ERROR_STATUSES, EXPLAIN_PATH, JSON_MEDIA_TYPE
from default_risk.protocols.bigquery import ARGUMENT_NAMES, BIGQUERY_KEYS, CALLS_KEY, OTHER_BODY_KEYS
from default_risk.protocols.decoding import INPUTS_KEY, INSTANCES_KEY
from default_risk.protocols.docs_page import DOCS_PATH

API_VERSION = "1.0.0"

EXAMPLE_ROWS: dict[str, tuple[int, ...]] = {
    "uci-1": (20000, 2, 2, 1, 24, 2, 2, -1, -1, -2, -2, 3913, 3102, 689, 0, 0, 0, 0, 689, 0, 0, 0, 0),
    "uci-2": (120000, 2, 2, 2, 26, -1, 2, 0, 0, 0, 2, 2682, 1725, 2682, 3272, 3455, 3261, 0, 1000, 1000, 1000, 0, 2000),
    "uci-3": (
        90000,
        2,
        2,
        2,
        34,
        0,
        0,
        0,
        0,
        0,
        0,
        29239,
        14027,
        13559,
        14331,
        14948,
        15549,
        1518,
        1500,
        1000,
        1000,
        1000,
        5000,
    ),
}
"""Rows ``ID`` 1, 2 and 3 of the UCI data set (features in ``FEATURE_NAMES`` order), used as examples."""


def example_record(record_id: str) -> dict:
    """One example row as a request record (without ``id``)."""
    return dict(zip(FEATURE_NAMES, EXAMPLE_ROWS[record_id], strict=True))


def _ref(schema: str) -> dict:
    return {"$ref": f"#/components/schemas/{schema}"}


def _json(*schemas: str, example: object | None = None) -> dict:
    """Content of one of ``schemas`` (``oneOf`` when there are several)."""
    content: dict = {"schema": _ref(schemas[0]) if len(schemas) == 1 else {"oneOf": [_ref(s) for s in schemas]}}
    if example is not None:
        content["example"] = example
    return {JSON_MEDIA_TYPE: content}


_ERRORS_BY_STATUS: dict[int, str] = {
    400: "Invalid input: the body is not valid JSON (`invalid_json`), its chunked framing is invalid "
    "(`malformed_body`), or a record breaks the contract (`invalid_input`); `details` lists every problem with the "
    "record's index and the field. Or the request line or a header is not HTTP (`malformed_request`, answered by "
    "the server before the function runs).",
    414: f"The request line is longer than {MAX_REQUEST_LINE_BYTES} bytes (`request_line_too_long`).",
    417: "The request's `Expect` header asks for what the server does not do (`expectation_failed`).",
    431: "The request's headers are too many or too large (`headers_too_large`).",
    501: "The request's `Transfer-Encoding` is not `chunked` (`unsupported_transfer_coding`).",
    405: "Method not allowed on this path; the `Allow` header lists the allowed ones.",
    413: f"More than {MAX_INSTANCES} instances (`too_many_instances`) or a body over {MAX_BODY_BYTES} bytes "
    "(`body_too_large`).",
    415: f"The body's Content-Type is not `{JSON_MEDIA_TYPE}`, or the body is not UTF-8 without a byte-order mark "
    "(RFC 8259 section 8.1).",
    503: "The model is not loaded and could not be loaded now (`model_unavailable`), or the decisions could not be "
    "recorded, so none is answered (`records_unavailable`), or a large body waited too long for one of the slots "
    "large requests share (`overloaded`); retry after the `Retry-After` header's seconds.",
}


_BIGQUERY_STATUSES = frozenset({400, 413, 503})
"""Statuses a BigQuery call can get, answered as ``BigQueryError``."""


_SERVER_STATUSES = (414, 417, 431, 501)
"""What the server answers any request it cannot read, besides 400 (``server``)."""


def _errors(*statuses: int, bigquery: bool = False) -> dict:
    """The documented error responses, the server's own included; with ``bigquery``, those a BigQuery call gets may
    also be ``BigQueryError``."""
    responses = {
        str(status): {
            "description": _ERRORS_BY_STATUS[status],
            "content": _json("Error", "BigQueryError") if bigquery and status in _BIGQUERY_STATUSES else _json("Error"),
        }
        for status in sorted({*statuses, *_SERVER_STATUSES})
    }
    if 405 in statuses:
        responses["405"]["headers"] = {"Allow": {"schema": {"type": "string"}, "description": "Allowed methods."}}
    if 503 in statuses:
        responses["503"]["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
        }
    return responses


def _record_schema() -> dict:
    required = [feature.name for feature in FEATURES if not feature.optional]
    return {
        "type": "object",
        "description": f"One card holder's UCI inputs: the {len(required)} required ones, nothing else but the "
        "optional fields and an optional `id`.",
        "properties": {
            **{feature.name: feature.as_json_schema() for feature in FEATURES},
            ID_FIELD: {"type": "string", "maxLength": MAX_ID_LENGTH, "description": "Echoed back with the prediction."},
        },
        "required": required,
        "additionalProperties": False,
    }


def _columns_schema(limit: int) -> dict:
    def column(items: dict) -> dict:
        return {"type": "array", "items": items, "minItems": 1, "maxItems": limit}

    return {
        "type": "object",
        "description": "Columnar records (TF Serving's `inputs`): each field maps to one value per record, every "
        "column as long as the others; record `i` is the `i`-th value of each column.",
        "properties": {
            INPUTS_KEY: {
                "type": "object",
                "properties": {
                    **{feature.name: column(feature.as_json_schema()) for feature in FEATURES},
                    ID_FIELD: column({"type": "string", "maxLength": MAX_ID_LENGTH}),
                },
                "required": [feature.name for feature in FEATURES if not feature.optional],
                "additionalProperties": False,
            }
        },
        "required": [INPUTS_KEY],
        "additionalProperties": False,
    }


def _instances_schema(limit: int) -> dict:
    return {
        "type": "object",
        "properties": {INSTANCES_KEY: {"type": "array", "items": _ref("Record"), "minItems": 1, "maxItems": limit}},
        "required": [INSTANCES_KEY],
        "additionalProperties": False,
    }


def _request_schemas() -> dict:
    """The record bodies, each for ``POST /`` and (with its lower limit of records) for ``POST /explain``."""
    return {
        "Record": _record_schema(),
        "Instances": _instances_schema(MAX_INSTANCES),
        "Columns": _columns_schema(MAX_INSTANCES),
        "ExplainInstances": _instances_schema(MAX_EXPLAIN_INSTANCES),
        "ExplainColumns": _columns_schema(MAX_EXPLAIN_INSTANCES),
    }


def _prediction_schemas() -> dict:
    return {
        "Prediction": {
            "type": "object",
            "properties": {
                "decision_id": _DECISION_ID,
                "probability_of_default": _PROBABILITY,
                "risk_band": _RISK_BAND,
                "score": _SCORE,
                ID_FIELD: {"type": "string", "description": "The record's `id`, when it had one."},
            },
            "required": ["decision_id", "probability_of_default", "risk_band", "score"],
            "additionalProperties": False,
        },
        "Predictions": {
            "type": "object",
            "properties": {
                "predictions": {
                    "type": "array",
                    "items": _ref("Prediction"),
                    "description": "One per record, in request order.",
                },
                "model_version": {"type": "string", "description": "The model version that scored them."},
            },
            "required": ["predictions", "model_version"],
            "additionalProperties": False,
        },
    }


def _bigquery_schemas() -> dict:
    return {
        "BigQueryRequest": {
            "type": "object",
            "description": "A BigQuery remote-function call, as BigQuery sends it for `SELECT default_risk("
            + ", ".join(ARGUMENT_NAMES)
            + ")`: one argument list per row in `calls`, in that order. Recognised by its `calls` key; "
            "the other keys are BigQuery's and are not used.",
            "properties": {
                # BigQuery's own keys: sent with every call, read by nothing here, so any value is accepted.
                **{key: {"description": "Sent by BigQuery; not used."} for key in BIGQUERY_KEYS},
                CALLS_KEY: {
                    "type": "array",
                    "maxItems": MAX_INSTANCES,
                    "items": {
                        "type": "array",
                        "prefixItems": [_argument_schema(feature) for feature in FEATURES],
                        "minItems": len(FEATURES),
                        "maxItems": len(FEATURES),
                    },
                },
            },
            "required": [CALLS_KEY],
            "not": {"anyOf": [{"required": [name]} for name in sorted(OTHER_BODY_KEYS)]},
        },
        "BigQueryReplies": {
            "type": "object",
            "properties": {
                "replies": {
                    "type": "array",
                    "items": {"oneOf": [_PROBABILITY, _ref("BigQueryExplained")]},
                    "description": "For each call, in call order: the probability of default (routine "
                    "`default_risk`), or its band and reasons (routine `default_risk_reasons`, "
                    '`userDefinedContext` `{"mode": "explain"}`).',
                }
            },
            "required": ["replies"],
            "additionalProperties": False,
        },
        "BigQueryError": {
            "type": "object",
            "description": "An error answered to a BigQuery call: the query fails at once on 400 and 413, "
            "BigQuery retries 503. The message names the row and the argument.",
            "properties": {"errorMessage": {"type": "string"}},
            "required": ["errorMessage"],
            "additionalProperties": False,
        },
    }


_PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}
_RISK_BAND = {
    "type": "string",
    "enum": list(BAND_LABELS),
    "description": "The version's risk band: deciles of its validation scores, B01 the lowest risk (the model card "
    "gives each band's range and observed default rate).",
}


_DECISION_ID = {
    "type": "string",
    "format": "uuid",
    "description": "The decision's id (a UUIDv7: unique, ordered by time). Its record (inputs as sent, model "
    "version, answer, reasons when explained) was durably written before this answer left; quote it to replay "
    "the decision or to print its notice.",
}
_SCORE = {
    "type": "number",
    "description": f"The probability on the version's scorecard scale, in points (higher is lower risk): "
    f"`offset + factor * ln((1 - p) / p)`; new versions put {SCALE.base_points:g} points at odds of "
    f"{SCALE.base_odds:g} to 1 and add {SCALE.points_to_double_odds:g} for each doubling of the odds (the model "
    "card gives each band's points).",
}


def _explanation_schemas() -> dict:
    reason = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "enum": [group.code for group in GROUPS]},
            "group": {"type": "string", "enum": list(GROUP_NAMES)},
            "contribution": {"type": "number", "exclusiveMinimum": 0, "description": "Probability units."},
            "reason": {"type": "string", "description": "The adverse-action sentence, quoting the record's values."},
        },
        "required": ["code", "group", "contribution", "reason"],
        "additionalProperties": False,
    }
    reasons = {"type": "array", "items": reason, "maxItems": MAX_REASONS, "description": "Largest first."}
    explained = {
        "probability_of_default": _PROBABILITY,
        "risk_band": _RISK_BAND,
        "score": _SCORE,
        "reasons": reasons,
    }
    contributions = {
        "type": "object",
        "description": "Every group's exact Shapley contribution (probability units); they add up to "
        "`probability_of_default - reference_probability`.",
        "properties": {name: {"type": "number"} for name in GROUP_NAMES},
        "required": list(GROUP_NAMES),
        "additionalProperties": False,
    }
    return {
        "Reason": reason,
        **_recourse_schemas(),
        "Explained": {
            "type": "object",
            "properties": {
                "decision_id": _DECISION_ID,
                **explained,
                "contributions": contributions,
                RECOURSE_PARAMETER: _ref("Recourse"),
                ID_FIELD: {"type": "string"},
            },
            "required": ["decision_id", *explained, "contributions"],
            "additionalProperties": False,
        },
        "Explanations": {
            "type": "object",
            "properties": {
                "predictions": {"type": "array", "items": _ref("Explained"), "description": "In request order."},
                "reference_probability": {
                    **_PROBABILITY,
                    "description": "The reference record's probability (the model card names the reference).",
                },
                "model_version": {"type": "string"},
            },
            "required": ["predictions", "reference_probability", "model_version"],
            "additionalProperties": False,
        },
        "BigQueryExplained": {
            "type": "object",
            "properties": explained,
            "required": list(explained),
            "additionalProperties": False,
        },
    }


def _recourse_schemas() -> dict:
    directions = "; ".join(
        f"`{lever.field}` {' or '.join('up' if d > 0 else 'down' for d in lever.directions)}"
        + (f" (at most `{lever.at_most_field}`)" if lever.at_most_field else "")
        + (f" (at least {lever.at_least:g})" if lever.at_least is not None else "")
        for lever in LEVERS
    )
    change = {
        "type": "object",
        "properties": {
            "field": {"type": "string", "enum": list(ACTIONABLE_FIELDS)},
            "from": {"type": "number", "description": "The record's value."},
            "to": {"type": "number", "description": "The suggested value, in whole NT$."},
        },
        "required": ["field", "from", "to"],
        "additionalProperties": False,
    }
    suggestion = {
        "type": "object",
        "properties": {
            "changes": {"type": "array", "items": change, "minItems": 1, "maxItems": 2},
            "probability_of_default": {**_PROBABILITY, "description": "The changed record scored by the same model."},
            "risk_band": _RISK_BAND,
            "score": _SCORE,
            "monotone": {
                "type": "boolean",
                "description": "Whether the probability fell at every step of the search's grid before reaching the "
                "target: when false, the model is not monotone along this change for this customer, and the value is "
                "the smallest on the grid, exact between its two grid points.",
            },
            "sentence": {"type": "string", "description": "The suggestion in words, with its band, p and points."},
        },
        "required": ["changes", "probability_of_default", "risk_band", "score", "monotone", "sentence"],
        "additionalProperties": False,
    }
    return {
        "Suggestion": suggestion,
        "Recourse": {
            "type": "object",
            "description": "The smallest changes of the actionable fields that bring the record down to the target "
            f"band, each verified by scoring the changed record: {directions}; within the contract's range and "
            "the training data's. Single fields first, from the smallest change, then the best pair (the smallest "
            "total change). Nothing else ever changes: not the payment history, education or protected fields.",
            "properties": {
                "target_band": _RISK_BAND,
                "status": {
                    "type": "string",
                    "enum": ["not_needed", "found", "no_feasible_change"],
                    "description": "`not_needed`: the record is at or below the target band; `no_feasible_change`: "
                    "no change within the ranges above reaches it.",
                },
                "suggestions": {"type": "array", "items": _ref("Suggestion")},
            },
            "required": ["target_band", "status", "suggestions"],
            "additionalProperties": False,
        },
    }


def _argument_schema(feature: Feature) -> dict:
    """A routine argument: as in a record, and NULL where the field is optional."""
    schema = feature.as_json_schema()
    return {"anyOf": [schema, {"type": "null"}]} if feature.optional else schema


def _status_schemas() -> dict:
    problem = {
        "type": "object",
        "properties": {
            "instance": {
                "type": ["integer", "null"],
                "description": "Index of the record in the request; null for the request.",
            },
            "field": {"type": "string", "description": "Empty for the record as a whole."},
            "problem": {"type": "string"},
        },
        "required": ["instance", "field", "problem"],
        "additionalProperties": False,
    }
    error = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "enum": sorted(ERROR_STATUSES)},
            "message": {"type": "string"},
            "details": {"type": "array", "items": problem},
        },
        "required": ["code", "message", "details"],
        "additionalProperties": False,
    }
    return {
        "Health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["ok", "ready"]},
                "model_loaded": {"type": "boolean"},
                "model_version": {"type": ["string", "null"], "description": "null until the first load."},
            },
            "required": ["status", "model_loaded", "model_version"],
            "additionalProperties": False,
        },
        "Error": {
            "type": "object",
            "properties": {"error": error},
            "required": ["error"],
            "additionalProperties": False,
        },
    }


@functools.cache
def document(route_methods: frozenset[tuple[str, str]]) -> dict:
    """The OpenAPI document served at ``GET /openapi.json`` for the API's route table (path, method)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Credit-card default-risk scoring",
            "version": API_VERSION,
            "description": (
                "Probability that a credit-card client defaults next month, from the 23 inputs of the UCI "
                "'Default of Credit Card Clients' data set. "
                f"Limits: {MAX_INSTANCES} instances and {MAX_BODY_BYTES} bytes per request. "
                "Answers are never cached (`Cache-Control: no-store`)."
            ),
        },
        # Relative to this document's URL, so "Try it out" on /docs calls the function wherever it is mounted.
        "servers": [{"url": ".", "description": "This function"}],
        "paths": _paths(route_methods),
        "components": {
            "schemas": _request_schemas()
            | _prediction_schemas()
            | _explanation_schemas()
            | _bigquery_schemas()
            | _status_schemas()
        },
    }


def _request_examples() -> dict:
    """Named request examples, in the order /docs offers them (``docs_page``; the first is pre-filled)."""
    single = example_record("uci-1")
    batch = [{ID_FIELD: record_id, **example_record(record_id)} for record_id in EXAMPLE_ROWS]
    return {
        "single": {"summary": "One bare record", "value": single},
        "batch": {"summary": "Three real rows, with ids", "value": {INSTANCES_KEY: batch}},
        "columns": {
            "summary": "The same three rows, columnar",
            "value": {INPUTS_KEY: {name: [record[name] for record in batch] for name in (*FEATURE_NAMES, ID_FIELD)}},
        },
        "invalid": {
            "summary": "An invalid record (answered 400, naming each field)",
            "value": {**single, "AGE": 16, "PAY_0": 12},
        },
        "bigquery": {
            "summary": "A BigQuery remote-function call (two rows)",
            "value": {
                "requestId": "124ab1c",
                "caller": "//bigquery.googleapis.com/projects/my-project/jobs/my-job",
                "sessionUser": "analyst@example.com",
                "userDefinedContext": {},
                CALLS_KEY: [list(EXAMPLE_ROWS["uci-1"]), list(EXAMPLE_ROWS["uci-2"])],
            },
        },
    }


def _predict_operation() -> dict:
    return {
        "operationId": "predict",
        "summary": "Score records",
        "description": 'One of `{"instances": [record, ...]}`, one bare record, or the columnar '
        '`{"inputs": {field: [value, ...]}}`; predictions come back in request order. BigQuery remote-function '
        "calls (`calls`) come here too and get `replies` or an `errorMessage`. The model loads on the first "
        "request of an instance.",
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {
                    "schema": {"oneOf": [_ref(name) for name in ("Instances", "Record", "Columns", "BigQueryRequest")]},
                    "examples": _request_examples(),
                }
            },
        },
        "responses": {
            "200": {
                "description": "One prediction per record (one reply per call for BigQuery).",
                "content": _json("Predictions", "BigQueryReplies"),
            },
            **_errors(400, 405, 413, 415, 503, bigquery=True),
        },
    }


def _explain_operation() -> dict:
    return {
        "operationId": "explain",
        "summary": "Score and explain records: risk band, reasons and every group's contribution",
        "description": "The same bodies, validation and errors as `POST /`, at most "
        f"{MAX_EXPLAIN_INSTANCES} records. Each prediction adds its `reasons` (at most {MAX_REASONS}: the groups "
        "that raise the probability most, with a stable code and a sentence quoting the record's values) and "
        "the exact Shapley `contributions` of every group against the version's reference record. With "
        f"`?{RECOURSE_PARAMETER}=B05` (a target band; `{DEFAULT_VALUE}`: {DEFAULT_TARGET_BAND}) each prediction also "
        "carries its `recourse`: what change of the payment, the balance or the credit limit would bring it there.",
        "parameters": [
            {
                "name": RECOURSE_PARAMETER,
                "in": "query",
                "required": False,
                "description": f"Ask for recourse toward this band: a band label, or `{DEFAULT_VALUE}` for "
                f"{DEFAULT_TARGET_BAND}. Anything else: 400 `invalid_input`.",
                "schema": {"type": "string", "enum": [DEFAULT_VALUE, *BAND_LABELS]},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {
                    "schema": {"oneOf": [_ref(name) for name in ("ExplainInstances", "Record", "ExplainColumns")]},
                    "examples": {k: v for k, v in _request_examples().items() if k != "bigquery"},
                }
            },
        },
        "responses": {
            "200": {"description": "One explained prediction per record.", "content": _json("Explanations")},
            **_errors(400, 405, 413, 415, 503),
        },
    }


def _get(operation_id: str, summary: str, ok: dict, *statuses: int) -> dict:
    return {"get": {"operationId": operation_id, "summary": summary, "responses": {"200": ok, **_errors(*statuses)}}}


def _paths(route_methods: frozenset[tuple[str, str]]) -> dict:
    """Every operation of the route table; ValueError if the table and the operations described here differ."""
    health = {
        "description": "Liveness and the loaded model's version; never loads the model.",
        "content": _json("Health", example={"status": "ok", "model_loaded": False, "model_version": None}),
    }
    paths = {
        "/": {"post": _predict_operation(), **_get("health", "Health", health, 405)},
        EXPLAIN_PATH: {"post": _explain_operation()},
        "/healthz": _get("healthz", "Health", health, 405),
        "/readyz": _get(
            "ready",
            "Readiness: loads the model if needed",
            {"description": "The model is loaded.", "content": _json("Health")},
            405,
            503,
        ),
        "/openapi.json": _get(
            "openapi",
            "This document",
            {"description": "The OpenAPI 3.1 document.", "content": {JSON_MEDIA_TYPE: {"schema": {"type": "object"}}}},
            405,
        ),
        DOCS_PATH: _get(
            "docs",
            "This document as an interactive page (Swagger UI); its assets are under /docs/",
            {"description": "The HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}},
            405,
        ),
    }
    described = {(path, method.upper()) for path, operations in paths.items() for method in operations}
    if described != route_methods:
        raise ValueError(
            f"the OpenAPI operations {sorted(described)} differ from the route table {sorted(route_methods)}"
        )
    return paths
