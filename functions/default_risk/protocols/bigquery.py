"""BigQuery remote functions: ``SELECT default_risk(limit_bal, sex, ...) FROM accounts`` scores through here.

BigQuery POSTs batches of rows as ``{"requestId", "caller", "sessionUser", "userDefinedContext", "calls"}``,
where ``calls`` holds one argument list per row in the routine's declared order. That order is
``contract.FEATURE_NAMES`` (``infra/bigquery.tf`` declares the arguments from one list, and a test proves
the two agree). The rows go through ``validation.validate_rows``, the same contract and the same numpy
checks as the records of the instances API (no dict is built per row); the router scores them with the same
``service.scoring``: this module only translates calls and replies, and never scores.
The answer is ``{"replies": [p, ...]}`` in call order, or ``{"errorMessage": "..."}``: BigQuery fails
the query at once on a 4xx and retries 408, 429, 500, 503 and 504, so bad data gets 400 (413 for too
many rows) and a model that is not ready gets 503.
"""

from __future__ import annotations

import re

import flask

from default_risk.contract.fields import FEATURE_NAMES, FEATURES_BY_NAME
from default_risk.contract.limits import MAX_EXPLAIN_INSTANCES, MAX_INSTANCES
from default_risk.protocols.answers import ApiError, json_response
from default_risk.protocols.request_log import RequestLog
from default_risk.protocols.validation import Problem, ValidationResult, validate_rows

CALLS_KEY = "calls"
REQUEST_ID_KEY, USER_KEY = "requestId", "sessionUser"
BIGQUERY_STRING_KEYS: tuple[str, ...] = (REQUEST_ID_KEY, "caller", USER_KEY)
CONTEXT_KEY = "userDefinedContext"
BIGQUERY_KEYS: tuple[str, ...] = (*BIGQUERY_STRING_KEYS, CONTEXT_KEY)
"""The keys BigQuery sends beside ``calls``: the decision records name ``requestId`` and ``sessionUser``."""
OTHER_BODY_KEYS: frozenset[str] = frozenset({"instances", "inputs", *FEATURE_NAMES})
"""Keys of the other request bodies: a call holding one of them is refused, not half read."""
ARGUMENT_NAMES: tuple[str, ...] = tuple(name.lower() for name in FEATURE_NAMES)
"""The routine's arguments, in order: the feature names in lower case (``limit_bal``, ``sex``, ...)."""

MODE_KEY = "mode"
SCORE_MODE, EXPLAIN_MODE = "score", "explain"
MODES = (SCORE_MODE, EXPLAIN_MODE)
"""``userDefinedContext`` ``mode`` of each routine: ``default_risk`` scores, ``default_risk_reasons`` explains."""

_PROBLEMS_SHOWN = 5
_INT64_AS_STRING = re.compile(r"-?[0-9]+")
_LONGEST_NUMBER = 32
"""Digits of an INT64 string judged as a number (longer is beyond every range, and not converted)."""


class BigQueryError(ApiError):
    """An ApiError answered in BigQuery's shape, ``{"errorMessage": ...}``, with the same status and headers."""

    def response(self) -> flask.Response:
        return json_response({"errorMessage": self.message}, self.status, self.headers)


def retried(error: ApiError) -> BigQueryError:
    """``error`` (the model is not ready: 503 with Retry-After) in BigQuery's shape: BigQuery retries it."""
    return BigQueryError(error.code, f"{error.message} (BigQuery retries this request)", headers=error.headers)


def is_bigquery_request(payload: object) -> bool:
    """Whether a decoded JSON body is BigQuery's remote-function call (recognised by its ``calls`` key)."""
    return isinstance(payload, dict) and CALLS_KEY in payload


def validated_calls(payload: dict, log: RequestLog) -> ValidationResult:
    """The rows of a BigQuery call checked against the contract; BigQueryError naming rows and arguments."""
    mixed = sorted(OTHER_BODY_KEYS.intersection(payload))
    if mixed:
        raise ApiError(
            "invalid_input",
            f"a BigQuery call ({CALLS_KEY}) cannot also hold {', '.join(mixed)}: send one kind of body",
            [Problem(None, name, f"is not a field of a BigQuery call (it has {CALLS_KEY})") for name in mixed],
        )
    calls = payload[CALLS_KEY]
    if not isinstance(calls, list):
        raise BigQueryError("invalid_input", "'calls' must be a list of argument lists, one per row")
    log.instance_count = len(calls)
    if len(calls) > MAX_INSTANCES:
        raise BigQueryError(
            "too_many_instances",
            f"{len(calls)} rows in one request, at most {MAX_INSTANCES} are accepted: "
            f"set the routine's max_batching_rows to {MAX_INSTANCES} or less",
        )
    arity = len(ARGUMENT_NAMES)
    if not (set(map(type, calls)) <= {list} and set(map(len, calls)) <= {arity}):  # whole-batch checks, in C
        bad_row = next(row for row, call in enumerate(calls) if type(call) is not list or len(call) != arity)
        raise BigQueryError("invalid_input", _arity_message(bad_row, len(calls), calls[bad_row]))
    result = validate_rows(calls)
    if result.problems:
        raise BigQueryError("invalid_input", _problems_message(result.problems, calls))
    return result


def explaining(context: dict, rows: int) -> bool:
    """Whether the call comes from the explaining routine (``userDefinedContext`` ``{"mode": "explain"}``), which
    replies with each row's band and reasons as JSON, rather than the scoring one, which replies probabilities."""
    mode = context.get(MODE_KEY, SCORE_MODE)
    if mode not in MODES:
        raise BigQueryError(
            "invalid_input", f"userDefinedContext mode {str(mode)[:40]!r} is not one of {', '.join(MODES)}"
        )
    if mode == EXPLAIN_MODE and rows > MAX_EXPLAIN_INSTANCES:
        raise BigQueryError(
            "too_many_instances",
            f"{rows} rows in one request, at most {MAX_EXPLAIN_INSTANCES} are explained: set the "
            f"explaining routine's max_batching_rows to {MAX_EXPLAIN_INSTANCES} or less",
        )
    return mode == EXPLAIN_MODE


def _arity_message(row: int, rows: int, call: object) -> str:
    got = f"{len(call)} arguments" if isinstance(call, list) else "a value that is not an argument list"
    return (
        f"row {row} of {rows} in this batch: default_risk takes {len(ARGUMENT_NAMES)} arguments "
        f"({', '.join(ARGUMENT_NAMES)}), got {got}; the routine's declaration does not match this function "
        "(re-apply infra/bigquery.tf)"
    )


def _problems_message(problems: list[Problem], calls: list[list]) -> str:
    described = [_describe(problem, calls) for problem in problems[:_PROBLEMS_SHOWN]]
    more = len(problems) - len(described)
    suffix = f"; and {more} more problem{'s' if more > 1 else ''}" if more else ""
    return "; ".join(described) + suffix


def _describe(problem: Problem, calls: list[list]) -> str:
    """``row 3 of 500 in this batch, argument 5 (age): must be between 18 and 100, got 150``."""
    where = f"row {problem.instance} of {len(calls)} in this batch"
    if problem.field not in FEATURES_BY_NAME:
        return f"{where}: {problem.problem}"
    position = FEATURE_NAMES.index(problem.field)
    value = calls[problem.instance][position]
    if value is None:
        what = "is NULL; default_risk scores complete rows only: filter out or fill NULLs in the query"
    elif isinstance(value, str) and len(value) > _LONGEST_NUMBER and _INT64_AS_STRING.fullmatch(value):
        what = f"{problem.problem}: a number of {len(value.lstrip('-'))} digits is beyond every accepted range"
    elif isinstance(value, str) and _INT64_AS_STRING.fullmatch(value):
        # BigQuery sends an INT64 beyond 2**53 as a string of digits: judge the number it stands for.
        what = FEATURES_BY_NAME[problem.field].problem(int(value)) or problem.problem
    else:
        what = problem.problem
    return f"{where}, argument {position + 1} ({ARGUMENT_NAMES[position]}): {what}"
