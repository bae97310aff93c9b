"""The HTTP API: the route table, its handlers, and the one log line per request.

POST /              {"instances": [record, ...]}, {"inputs": {field: [...]}} or one bare record
                    → {"predictions": [...], "model_version"} (the bodies: ``decoding``)
POST /              {"calls": [[arg, ...], ...], ...} from BigQuery (``bigquery``) → {"replies": [...]}
POST /explain       the same record bodies → each prediction with its risk band, reasons and contributions
GET  / , /healthz   liveness and the loaded model's version (never loads the model)
GET  /readyz        readiness: loads the model if needed → 200, or 503 with Retry-After
GET  /openapi.json  the OpenAPI 3.1 document (its paths are this module's ``ROUTES``)
GET  /docs          the interactive API page (Swagger UI), its assets under /docs/
"""

from __future__ import annotations

import time
from collections.abc import Callable

import flask

from default_risk import bigquery, docs_page, model_store, openapi, telemetry
from default_risk.api import READ_PIECE_BYTES, ApiError, json_response, read_body
from default_risk.decoding import scoring_request
from default_risk.explain import EXPLAIN_PATH, MAX_EXPLAIN_INSTANCES, explained_predictions
from default_risk.service import explain, score, served_model
from default_risk.telemetry import RequestLog
from default_risk.validation import ID_FIELD, shown_name

logger = telemetry.logger()


def predictions(request: flask.Request, log: RequestLog) -> flask.Response:
    scoring = scoring_request(read_body(request), log)
    if scoring.bigquery:  # a BigQuery remote-function call: same validation, same score
        return bigquery.replies(scoring.result, scoring.context, log)
    scores = score(scoring.result, log)
    answers = [
        {"probability_of_default": p, "risk_band": band}
        if record_id is None
        else {"probability_of_default": p, "risk_band": band, ID_FIELD: record_id}
        for p, band, record_id in zip(scores.probabilities.tolist(), scores.bands, scoring.result.ids, strict=True)
    ]
    return json_response({"predictions": answers, "model_version": scores.version})


def explanations(request: flask.Request, log: RequestLog) -> flask.Response:
    scoring = scoring_request(read_body(request), log)
    if scoring.bigquery:
        raise ApiError("invalid_input", "BigQuery calls go to / (the explaining routine sets mode explain)")
    if scoring.count > MAX_EXPLAIN_INSTANCES:
        raise ApiError(
            "too_many_instances",
            f"{scoring.count} instances; at most {MAX_EXPLAIN_INSTANCES} are explained per request (POST / scores "
            "up to 10,000)",
        )
    scores, explanation = explain(scoring.result, log)
    return json_response(
        {
            "predictions": explained_predictions(
                scoring.result, scores.probabilities, scores.bands, explanation, full=True
            ),
            "reference_probability": explanation.reference_probability,
            "model_version": scores.version,
        }
    )


def health(request: flask.Request, log: RequestLog) -> flask.Response:
    model = model_store.loaded_model()
    log.model_version = model.version if model else None
    return json_response({"status": "ok", "model_loaded": model is not None, "model_version": log.model_version})


def ready(request: flask.Request, log: RequestLog) -> flask.Response:
    log.model_version = served_model().version
    return json_response({"status": "ready", "model_loaded": True, "model_version": log.model_version})


def openapi_document(request: flask.Request, log: RequestLog) -> flask.Response:
    return json_response(openapi.document(ROUTE_METHODS))


def docs(request: flask.Request, log: RequestLog) -> flask.Response:
    return docs_page.respond(request)


Route = Callable[[flask.Request, RequestLog], flask.Response]

ROUTES: dict[str, dict[str, Route]] = {
    "/": {"POST": predictions, "GET": health},
    EXPLAIN_PATH: {"POST": explanations},
    "/healthz": {"GET": health},
    "/readyz": {"GET": ready},
    "/openapi.json": {"GET": openapi_document},
    docs_page.DOCS_PATH: {"GET": docs},  # also serves /docs/<asset>
}
"""path → method → handler. A new route is one entry here (and its operation in ``openapi``)."""
ROUTE_METHODS: frozenset[tuple[str, str]] = frozenset((path, method) for path in ROUTES for method in ROUTES[path])


def _route(request: flask.Request) -> Route:
    methods = ROUTES.get(docs_page.DOCS_PATH if docs_page.is_docs_path(request.path) else request.path)
    if methods is None:
        raise ApiError("not_found", f"no such path: {shown_name(request.path)}; see /openapi.json")
    method = "GET" if request.method == "HEAD" else request.method  # HEAD: GET's headers, no body (werkzeug)
    if method not in methods:
        allowed = ", ".join(sorted(methods))
        raise ApiError(
            "method_not_allowed",
            f"{shown_name(request.method)} is not allowed on {shown_name(request.path)}; use {allowed}",
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


def handle(request: flask.Request) -> flask.Response:
    """Route the request, answer it (an error as JSON, never a 500) and write its one log line."""
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
    _discard_unread_body(request)
    fields = log.fields(time.perf_counter() - started, outcome, response.status_code)
    logger.info(telemetry.REQUEST_LOG_MESSAGE, extra={"json_fields": fields})
    return response
