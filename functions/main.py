"""The `predict` HTTP function: credit-card default-risk scoring.

    POST /              {"instances": [record, ...]} or one bare record  → {"predictions": [...], "model_version"}
    POST /              {"calls": [[arg, ...], ...], ...} from BigQuery (``bigquery``) → {"replies": [...]}
    GET  / , /healthz   liveness and the loaded model's version (never loads the model)
    GET  /readyz        readiness: loads the model if needed → 200, or 503 with Retry-After
    GET  /openapi.json  the OpenAPI 3.1 document
    GET  /docs          the interactive API page (Swagger UI), its assets under /docs/

Every request goes through ``predict``, which routes by path and method and writes exactly one
structured log line (``telemetry``) per request. Records are scored in one place, ``score``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import flask
import functions_framework
import numpy as np
from google.cloud.logging_v2.handlers import StructuredLogHandler

import bigquery
import docs_page
import model_store
import openapi
import telemetry
from api import READ_PIECE_BYTES, ApiError, instances_of, json_response, read_json
from validation import MAX_PROBLEMS, ValidationResult, validate_instances

LOGGER_NAME = "scoring"
"""Our loggers (this one and its children) write structured JSON lines to stdout."""
logger = logging.getLogger(LOGGER_NAME)


def _configure_logging() -> None:
    if not logger.handlers:
        logger.addHandler(StructuredLogHandler(stream=sys.stdout, project_id=os.environ.get("GOOGLE_CLOUD_PROJECT")))
        logger.setLevel(logging.INFO)
        logger.propagate = False


_configure_logging()


@dataclass
class RequestLog:
    """What the request's log line reports besides latency and outcome; routes fill it in."""

    instance_count: int = 0
    model_version: str | None = None
    mean_probability: float | None = None


def score(result: ValidationResult, log: RequestLog) -> tuple[np.ndarray, str]:
    """Probabilities of validated records and the model version: the one place records are scored."""
    model = _model()
    probabilities = model.scorer.probabilities(result.features)
    log.model_version = model.version
    log.mean_probability = float(probabilities.mean())
    return probabilities, model.version


def _model() -> model_store.LoadedModel:
    try:
        return model_store.get_model()
    except model_store.ModelUnavailable as error:
        raise ApiError(
            "model_unavailable",
            "the model is not loaded and could not be loaded now; retry later",
            headers={"Retry-After": str(error.retry_after)},
        ) from error


def predictions(request: flask.Request, log: RequestLog) -> flask.Response:
    payload = read_json(request)
    if bigquery.is_bigquery_request(payload):  # a BigQuery remote-function call: same validation, same score
        return bigquery.replies(payload, log, score)
    instances = instances_of(payload)
    log.instance_count = len(instances)
    result = validate_instances(instances)
    if result.problems:
        listed = len(result.problems)
        capped = listed == MAX_PROBLEMS
        summary = f"at least {listed} problems, the first listed" if capped else f"{listed} problem(s) in the request"
        raise ApiError("invalid_input", summary, result.problems)
    probabilities, version = score(result, log)
    answers = [
        {"probability_of_default": p} if record_id is None else {"probability_of_default": p, "id": record_id}
        for p, record_id in zip(probabilities.tolist(), result.ids, strict=True)
    ]
    return json_response({"predictions": answers, "model_version": version})


def health(request: flask.Request, log: RequestLog) -> flask.Response:
    model = model_store.loaded_model()
    log.model_version = model.version if model else None
    return json_response({"status": "ok", "model_loaded": model is not None, "model_version": log.model_version})


def ready(request: flask.Request, log: RequestLog) -> flask.Response:
    log.model_version = _model().version
    return json_response({"status": "ready", "model_loaded": True, "model_version": log.model_version})


def openapi_document(request: flask.Request, log: RequestLog) -> flask.Response:
    return json_response(openapi.document())


def docs(request: flask.Request, log: RequestLog) -> flask.Response:
    return docs_page.respond(request)


Route = Callable[[flask.Request, RequestLog], flask.Response]

ROUTES: dict[str, dict[str, Route]] = {
    "/": {"POST": predictions, "GET": health},
    "/healthz": {"GET": health},
    "/readyz": {"GET": ready},
    "/openapi.json": {"GET": openapi_document},
    docs_page.DOCS_PATH: {"GET": docs},  # also serves /docs/<asset>
}
"""path → method → handler. A new route is one entry here."""


def _route(request: flask.Request) -> Route:
    methods = ROUTES.get(docs_page.DOCS_PATH if docs_page.is_docs_path(request.path) else request.path)
    if methods is None:
        raise ApiError("not_found", f"no such path: {request.path}; see /openapi.json")
    method = "GET" if request.method == "HEAD" else request.method  # HEAD: GET's headers, no body (werkzeug)
    if method not in methods:
        allowed = ", ".join(sorted(methods))
        raise ApiError(
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": allowed},
        )
    return methods[method]


def _discard_unread_body(request: flask.Request) -> None:
    """Read and drop what is left of the body (an error answered early) in small pieces.

    functions-framework reads the whole request before answering; left to it, an oversized body
    would be held in memory at once.
    """
    while request.stream.read(READ_PIECE_BYTES):
        pass


@functions_framework.http
def predict(request: flask.Request) -> flask.Response:
    """Route the request and write its one log line."""
    started = time.perf_counter()
    log = RequestLog()
    try:
        response, outcome = _route(request)(request, log), "ok"
    except ApiError as error:
        response, outcome = error.response(), error.outcome
    except Exception:  # a bug: answer 503 (never 500) and log it with its traceback
        logger.exception("unexpected error")
        error = ApiError("internal_error", "unexpected error; retry later", headers={"Retry-After": "1"})
        response, outcome = error.response(), error.outcome
    fields = {
        telemetry.LATENCY_FIELD: round(time.perf_counter() - started, 6),
        telemetry.INSTANCES_FIELD: log.instance_count,
        telemetry.OUTCOME_FIELD: outcome,
        telemetry.STATUS_FIELD: response.status_code,
        telemetry.MODEL_VERSION_FIELD: log.model_version,
    }
    if outcome == "ok" and log.mean_probability is not None:
        fields[telemetry.MEAN_PROBABILITY_FIELD] = log.mean_probability
    _discard_unread_body(request)
    logger.info(telemetry.REQUEST_LOG_MESSAGE, extra={"json_fields": fields})
    return response
