"""The HTTP API: the route table, its handlers, and the one log line per request.

POST /              {"instances": [record, ...]}, {"inputs": {field: [...]}} or one bare record
                    → {"predictions": [...], "model_version"} (the bodies: ``decoding``)
POST /              {"calls": [[arg, ...], ...], ...} from BigQuery (``bigquery``) → {"replies": [...]}
POST /explain       the same record bodies → each prediction with its risk band, reasons and contributions;
                    ?recourse=B05 (or true) adds the changes that would bring each record down to that band
GET  / , /healthz   liveness and the loaded model's version (never loads the model)
GET  /readyz        readiness: loads the model if needed → 200, or 503 with Retry-After
GET  /openapi.json  the OpenAPI 3.1 document (its paths are this module's ``ROUTES``)
GET  /docs          the interactive API page (Swagger UI), its assets under /docs/
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import flask
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import ClientDisconnected

from default_risk.contract import telemetry
from default_risk.contract.limits import MAX_BODY_BYTES, MAX_EXPLAIN_INSTANCES, MAX_INSTANCES
from default_risk.model import store
from default_risk.model.store import ModelUnavailable
from default_risk.protocols import answers, bigquery, budget, docs_page, request_budget
from default_risk.protocols.admission import HEAVY_BYTES, admitted
from default_risk.protocols.answers import EXPLAIN_PATH, JSON_MEDIA_TYPE, ApiError, json_response
from default_risk.protocols.body_deadline import connection_of, watchdog
from default_risk.protocols.decoding import ScoringRequest, scoring_request
from default_risk.protocols.request_log import RequestLog, write_line
from default_risk.protocols.validation import shown_name
from default_risk.service.decisions import Decisions, Origin, decide
from default_risk.service.records import RecordsUnavailable
from default_risk.service.scoring import served_model

logger = telemetry.logger()

READ_PIECE_BYTES = 64 * 1024
"""Bodies are read (and unread rests discarded) in pieces of this size, so memory stays bounded."""
BODY_READ_ERRORS = (ParseException, OSError, ClientDisconnected)
"""What reading a body raises on the caller's bad framing: gunicorn's parse errors (a chunk size that is not
hexadecimal, a chunk longer than its size), its IOErrors and werkzeug's ``ClientDisconnected`` (a body cut short,
or cut by the watchdog: ``body_deadline``)."""
MALFORMED_BODY = "the body ended before its length, or its framing is invalid"
REQUEST_ID_HEADER = "X-Request-Id"
MAX_TOKEN_PAYLOAD = 8192
MAX_EMAIL_LENGTH = 320


def predictions(request: flask.Request, log: RequestLog) -> flask.Response:
    with admitted_body(request, log) as body:
        scoring = scoring_request(body, log)
        if scoring.bigquery:  # a BigQuery remote-function call: same validation, same decisions
            return _bigquery_replies(scoring, log)
        decisions = _decided(scoring, Origin("predict", log.request_id, caller(request)), log)
        return json_response(
            {
                "predictions": answers.predictions(decisions, scoring.result.ids),
                "model_version": decisions.scores.version,
            }
        )


def explanations(request: flask.Request, log: RequestLog) -> flask.Response:
    recourse_target = answers.recourse_target(request.args)
    with admitted_body(request, log) as body:
        budget.check_explained_count(body)
        return _explanations(request, body, log, recourse_target)


def _explanations(request: flask.Request, body: bytes, log: RequestLog, recourse_target: int | None) -> flask.Response:
    scoring = scoring_request(body, log)
    if scoring.bigquery:
        raise ApiError("invalid_input", "BigQuery calls go to / (the explaining routine sets mode explain)")
    if scoring.count > MAX_EXPLAIN_INSTANCES:
        raise ApiError(
            "too_many_instances",
            f"{scoring.count} instances; at most {MAX_EXPLAIN_INSTANCES} are explained per request (POST / scores "
            f"up to {MAX_INSTANCES:,})",
        )
    origin = Origin("explain", log.request_id, caller(request))
    decisions = _decided(scoring, origin, log, explain=True, recourse_target=recourse_target)
    return json_response(
        {
            "predictions": answers.explained_predictions(
                decisions, scoring.result.ids, full=True, recourse_target=recourse_target
            ),
            "reference_probability": decisions.explanation.reference_probability,
            "model_version": decisions.scores.version,
        }
    )


def _bigquery_replies(scoring: ScoringRequest, log: RequestLog) -> flask.Response:
    """BigQuery's ``{"replies": [...]}``: probabilities, or each row's band, points and reasons for the explaining
    routine. Each row is a recorded decision, named in its record by BigQuery's ``requestId`` and the row."""
    explaining = bigquery.explaining(scoring.context, scoring.count)
    if not scoring.count:
        return json_response({"replies": []})
    call = scoring.call or {}
    origin = Origin("bigquery", call.get(bigquery.REQUEST_ID_KEY) or log.request_id, call.get(bigquery.USER_KEY))
    try:
        decisions = _decided(scoring, origin, log, explain=explaining)
    except ApiError as error:  # not ready or not recorded: same status and Retry-After, BigQuery retries
        raise bigquery.retried(error) from error
    if not explaining:
        return json_response({"replies": decisions.scores.probabilities.tolist()})
    return json_response({"replies": answers.explained_predictions(decisions, scoring.result.ids, full=False)})


def _decided(
    scoring: ScoringRequest, origin: Origin, log: RequestLog, explain: bool = False, recourse_target: int | None = None
) -> Decisions:
    """The request's decisions, recorded; 503 when the model cannot be served, the records cannot be written, or
    the request used its time budget before anything was decided (the model is loaded first, then the budget is
    checked)."""
    try:
        served_model()
        request_budget.check(log.started)
        decisions = decide(scoring.result.features, scoring.result.ids, origin, explain, recourse_target)
    except (ModelUnavailable, RecordsUnavailable) as error:
        raise answers.unavailable(error) from error
    log.scored(decisions.scores)
    return decisions


def caller(request: flask.Request) -> str | None:
    """The e-mail of the caller's identity token, which Cloud Run verified before the request reached the function
    (the function is deployed with authentication required); None without one. The token itself is never kept."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3 or len(parts[1]) > MAX_TOKEN_PAYLOAD:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email if isinstance(email, str) and len(email) <= MAX_EMAIL_LENGTH else None


def health(request: flask.Request, log: RequestLog) -> flask.Response:
    model = store.loaded_model()
    log.model_version = model.version if model else None
    return json_response({"status": "ok", "model_loaded": model is not None, "model_version": log.model_version})


def ready(request: flask.Request, log: RequestLog) -> flask.Response:
    try:
        log.model_version = store.get_model().version
    except ModelUnavailable as error:
        raise answers.unavailable(error) from error
    return json_response({"status": "ready", "model_loaded": True, "model_version": log.model_version})


def openapi_document(request: flask.Request, log: RequestLog) -> flask.Response:
    from default_risk.protocols import openapi  # only this route needs the generator

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
    with watchdog.reading() as watch:  # a slow body is cut here too
        try:
            while piece := request.stream.read(READ_PIECE_BYTES):
                watch.received += len(piece)
        except BODY_READ_ERRORS:
            return  # a body whose framing is broken has nothing more to read; the server closes the connection


def handle(request: flask.Request) -> flask.Response:
    """Route the request, answer it (an error as JSON, never a 500) and write its one log line."""
    started = time.perf_counter()
    log = RequestLog()
    with watchdog.watching(connection_of(request.environ)) as watch:
        try:
            response, outcome = _route(request)(request, log), "ok"
        except ApiError as error:
            if error.code == "malformed_body" and watch.cut is not None:
                error = ApiError("body_timeout", watchdog.why(watch))
            response, outcome = error.response(), error.outcome
        except Exception:  # a bug: answer 503 (never 500) and log it with its traceback
            logger.exception("unexpected error")
            error = ApiError("internal_error", "unexpected error; retry later", headers={"Retry-After": "1"})
            response, outcome = error.response(), error.outcome
        _discard_unread_body(request)
    response.headers[REQUEST_ID_HEADER] = log.request_id
    write_line(request, log.fields(time.perf_counter() - started, outcome, response.status_code))
    return response


@contextmanager
def admitted_body(request: flask.Request, log: RequestLog) -> Iterator[bytes]:
    """The body of a JSON request (after the media-type and size checks: 415, 413), read once the request is admitted:
    a heavy body takes its slot before it is read (``admission``), so requests waiting for one hold neither memory
    nor CPU. Without a Content-Length, a body is heavy when more than ``HEAVY_BYTES`` of it arrive."""
    if request.mimetype != JSON_MEDIA_TYPE:
        raise ApiError(
            "unsupported_media_type", f"Content-Type must be {JSON_MEDIA_TYPE}, got {request.mimetype or 'none'}"
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ApiError("unsupported_media_type", f"the body must be UTF-8 JSON, not {shown_name(charset)}")
    announced = request.content_length
    if announced is not None and announced > MAX_BODY_BYTES:
        raise ApiError("body_too_large", f"body is {announced} bytes; the limit is {MAX_BODY_BYTES}")
    head = _read_body(request.stream, HEAVY_BYTES + 1) if announced is None else bytearray()
    with admitted(len(head) if announced is None else announced, request_budget.remaining(log.started)):
        body = _read_body(request.stream, MAX_BODY_BYTES + 1, head)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError("body_too_large", f"body exceeds the limit of {MAX_BODY_BYTES} bytes")
        if announced is not None and len(body) < announced:
            raise ApiError("malformed_body", f"the body ended after {len(body)} of its {announced} bytes")
        yield body  # as read: every reader of a body takes a bytearray as it takes bytes, so nothing copies it


def _read_body(stream: IO[bytes], limit: int, body: bytearray | None = None) -> bytearray:
    """``body`` (what was read before) followed by the rest of the body, up to ``limit`` bytes in all, read in
    pieces: an endless chunked upload (no Content-Length) costs little more memory than the limit, not the several
    copies of it that one large read makes the server's chunked reader hold."""
    body = bytearray() if body is None else body
    with watchdog.reading() as watch:
        while len(body) < limit:
            try:
                piece = stream.read(min(READ_PIECE_BYTES, limit - len(body)))
            except BODY_READ_ERRORS:
                raise ApiError("malformed_body", MALFORMED_BODY) from None
            if not piece:
                break
            body += piece
            watch.received += len(piece)
    return body
