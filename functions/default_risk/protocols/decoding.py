"""Request bodies to validated feature matrices: typed native decoding first, the precise validator for the rest.

Three bodies score records: ``{"instances": [record, ...]}``, one bare record, and the columnar
``{"inputs": {field: [value, ...], ..., "id": [...]}}`` (TF Serving's convention); BigQuery's
remote-function call ``{"calls": [[arg, ...], ...], ...}`` is the fourth (``bigquery``).

**Fast path.** ``msgspec`` decodes the body straight into typed structs generated from the contract:
numbers only (booleans, strings and null are refused), NaN and Infinity literals refused, unknown
fields refused, ids bounded. The values go into one float64 matrix checked with numpy
(``validation.in_contract``). Neither msgspec nor any JSON library refuses a key given twice in one
object (the last value wins), so a cheap screen does: in a body without a backslash, every ``:``
byte is either a key's separator or inside a string, so the body has no repeated key exactly when
its ``:`` count equals the keys decoded plus the colons inside the decoded strings.

**Precise path.** The fast path only accepts. Whatever it does not accept (an invalid body, but also
valid ones it does not handle: escapes, whole numbers written ``54.0`` in a code) is decoded by the
standard library with a duplicate-key hook and judged value by value (``validation``), so every
error names the instance, the field and the problem.

**Memory.** Before anything is decoded, the body's values and containers are counted against what
the largest valid request holds, and before the standard library decodes it, the size of its
objects (``budget``): no body within the byte limit makes either path build millions of objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Annotated

import msgspec
import numpy as np
from msgspec.structs import astuple

from default_risk.contract.fields import FEATURE_NAMES, FEATURES
from default_risk.contract.limits import ID_FIELD, MAX_ID_LENGTH, MAX_INSTANCES
from default_risk.protocols import bigquery, budget
from default_risk.protocols.answers import ApiError
from default_risk.protocols.request_log import RequestLog
from default_risk.protocols.validation import (
    MAX_PROBLEMS,
    Problem,
    ValidationResult,
    in_contract,
    row_in_contract,
    shown_name,
    validate_instances,
)

INSTANCES_KEY = "instances"
INPUTS_KEY = "inputs"

_ABSENT = math.nan
"""An optional field the record does not give (JSON has no NaN: msgspec refuses the literal)."""


@dataclass(frozen=True)
class ScoringRequest:
    """A body understood: its validated records (``result``), and whether it is BigQuery's call."""

    result: ValidationResult
    bigquery: bool = False
    context: dict | None = None
    """BigQuery's ``userDefinedContext`` (which of the routines sent the call)."""
    call: dict[str, str] | None = None
    """BigQuery's ``requestId``, ``caller`` and ``sessionUser``, those it sent as strings."""

    @property
    def count(self) -> int:
        return len(self.result.ids)


def scoring_request(body: bytes, log: RequestLog) -> ScoringRequest:
    """The validated records of a scoring body; ApiError (or ``bigquery.BigQueryError``) naming every problem.

    ``log`` learns how many records the body holds, even when they are refused."""
    budget.check_encoding(body)
    budget.check_counts(body)
    request = _fast(body) or _precise(body, log)
    log.instance_count = request.count
    return request


# --- the fast path --------------------------------------------------------------------------------------------

_Id = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
_Column = Annotated[list[float], msgspec.Meta(min_length=1, max_length=MAX_INSTANCES)]
_UNSET = msgspec.UNSET


def _record_fields(default_for_required: object = msgspec.NODEFAULT) -> list[tuple]:
    fields = []
    for feature in FEATURES:
        default = _ABSENT if feature.optional else default_for_required
        fields.append((feature.name, float) if default is msgspec.NODEFAULT else (feature.name, float, default))
    return [*fields, (ID_FIELD, _Id | msgspec.UnsetType, _UNSET)]


_Record = msgspec.defstruct("Record", _record_fields(), forbid_unknown_fields=True, gc=False, kw_only=True)
_Columns = msgspec.defstruct(
    "Columns",
    [
        *((f.name, _Column | msgspec.UnsetType, _UNSET) for f in FEATURES),
        (ID_FIELD, list[_Id] | msgspec.UnsetType, _UNSET),
    ],
    forbid_unknown_fields=True,
)
_ENVELOPE: tuple[tuple, ...] = (
    (INSTANCES_KEY, Annotated[list[_Record], msgspec.Meta(min_length=1, max_length=MAX_INSTANCES)]),
    (INPUTS_KEY, _Columns),
    (bigquery.CALLS_KEY, Annotated[list[list[float | None]], msgspec.Meta(max_length=MAX_INSTANCES)]),
    *((key, str) for key in bigquery.BIGQUERY_STRING_KEYS),
    (bigquery.CONTEXT_KEY, dict[str, str]),
)
_Body = msgspec.defstruct(
    "Body",
    [*((name, kind | msgspec.UnsetType, _UNSET) for name, kind in _ENVELOPE), *_record_fields(_ABSENT)],
    forbid_unknown_fields=True,
)
_DECODER = msgspec.json.Decoder(_Body)
_ENVELOPE_KEYS = tuple(name for name, _ in _ENVELOPE)
_BIGQUERY_KEYS = frozenset({bigquery.CALLS_KEY, *bigquery.BIGQUERY_KEYS})
_get_envelope = attrgetter(*_ENVELOPE_KEYS)
_get_features = attrgetter(*FEATURE_NAMES)
_get_id = attrgetter(ID_FIELD)


def _fast(body: bytes) -> ScoringRequest | None:
    """The request when typed decoding and the numpy checks accept it whole; None to go the precise way."""
    if b"\\" in body:
        return None
    try:
        decoded = _DECODER.decode(body)
    except msgspec.DecodeError:  # ValidationError is a DecodeError: any type, shape or syntax problem
        return None
    given = {key for key, value in zip(_ENVELOPE_KEYS, _get_envelope(decoded), strict=True) if value is not _UNSET}
    bare = _get_id(decoded) is not _UNSET or not all(map(math.isnan, _get_features(decoded)))
    if given == {INSTANCES_KEY} and not bare:
        found = _from_records(decoded.instances)
    elif given == {INPUTS_KEY} and not bare:
        found = _from_columns(decoded.inputs)
    elif not given and bare:
        found = _from_records([decoded])
    elif bigquery.CALLS_KEY in given and given <= _BIGQUERY_KEYS and not bare:
        found = _from_calls(decoded, given)
    else:
        return None
    if found is None:
        return None
    request, keys, colons_in_strings = found
    return request if budget.occurrences(body, b":") == keys + len(given) + colons_in_strings else None


_Found = tuple[ScoringRequest, int, int]
"""The request, the keys its objects hold below the top level, and the colons inside its strings."""


def _checked(
    matrix: np.ndarray, ids: list[str | None], context: dict | None = None, call: dict | None = None
) -> ScoringRequest | None:
    if not in_contract(matrix):
        return None
    return ScoringRequest(ValidationResult(matrix, ids, []), context is not None, context, call)


def _given_per_row(matrix: np.ndarray) -> int:
    """Fields given in all rows: every required one, and the optional ones that are not absent."""
    return int(np.count_nonzero(~np.isnan(matrix)))


def _colons(strings: list) -> int:
    return "".join(filter(None, strings)).count(":")


def _from_record(record) -> _Found | None:
    """``_from_records`` of a single record: its values checked as Python floats (``row_in_contract``)."""
    values = _get_features(record)
    if not row_in_contract(values):
        return None
    record_id = _get_id(record)
    ids = [None if record_id is _UNSET else record_id]
    given = sum(value == value for value in values) + (record_id is not _UNSET)
    request = ScoringRequest(ValidationResult(np.array([values]), ids, []))
    return request, given, _colons(ids)


def _from_records(records: list) -> _Found | None:
    if len(records) == 1:
        return _from_record(records[0])
    values = chain.from_iterable(fields[: len(FEATURES)] for fields in map(astuple, records))  # the id comes last
    matrix = np.fromiter(values, np.float64, len(records) * len(FEATURES)).reshape(len(records), len(FEATURES))
    given_ids = list(map(_get_id, records))
    absent = given_ids.count(_UNSET)
    ids = [None] * len(records) if absent == len(records) else [None if i is _UNSET else i for i in given_ids]
    request = _checked(matrix, ids)
    if request is None:
        return None
    return request, _given_per_row(matrix) + len(records) - absent, _colons(ids)


def _from_columns(columns) -> _Found | None:
    values = _get_features(columns)
    given = [position for position, column in enumerate(values) if column is not _UNSET]
    lengths = {len(values[position]) for position in given}
    ids = None if columns.id is _UNSET else columns.id
    missing = any(not FEATURES[position].optional for position in range(len(FEATURES)) if position not in given)
    if missing or len(lengths) != 1 or (ids is not None and len(ids) not in lengths):
        return None
    rows = lengths.pop()
    if len(given) == len(FEATURES):
        matrix = np.array(values, dtype=np.float64).T  # one conversion; a column-major view
    else:
        matrix = np.full((rows, len(FEATURES)), _ABSENT)
        matrix[:, given] = np.array([values[position] for position in given], dtype=np.float64).T
    request = _checked(matrix, ids or [None] * rows)
    if request is None:
        return None
    return request, len(given) + (ids is not None), _colons(ids or [])


def _from_calls(decoded, given: set[str]) -> _Found | None:
    calls = decoded.calls
    if not calls or set(map(len, calls)) != {len(FEATURES)}:
        return None
    try:
        matrix = np.fromiter(chain.from_iterable(calls), np.float64, len(calls) * len(FEATURES))
    except TypeError:  # a NULL: np.array makes it NaN, absent where the field is optional, refused elsewhere
        matrix = np.array(calls, dtype=np.float64)
    matrix = matrix.reshape(len(calls), len(FEATURES))
    context = {} if decoded.userDefinedContext is _UNSET else decoded.userDefinedContext
    call = {key: getattr(decoded, key) for key in bigquery.BIGQUERY_STRING_KEYS if key in given}
    request = _checked(matrix, [None] * len(calls), context, call)
    if request is None:
        return None
    return request, len(context), _colons([*call.values(), *context, *context.values()])


# --- the precise path -----------------------------------------------------------------------------------------


def _precise(body: bytes, log: RequestLog) -> ScoringRequest:
    budget.check_object_sizes(body)
    payload = decode_json(body)
    if bigquery.is_bigquery_request(payload):
        context = payload.get(bigquery.CONTEXT_KEY)
        call = {key: payload[key] for key in bigquery.BIGQUERY_STRING_KEYS if isinstance(payload.get(key), str)}
        return ScoringRequest(
            bigquery.validated_calls(payload, log), True, context if isinstance(context, dict) else {}, call
        )
    instances = _instances_of(payload)
    log.instance_count = len(instances)
    result = validate_instances(instances)
    if result.problems:
        listed = len(result.problems)
        capped = listed == MAX_PROBLEMS
        summary = f"at least {listed} problems, the first listed" if capped else f"{listed} problem(s) in the request"
        raise ApiError("invalid_input", summary, result.problems)
    return ScoringRequest(result)


def decode_json(body: bytes) -> object:
    """The body decoded by the standard library; a key twice in one object is refused, never last-wins."""
    try:
        return json.loads(body, object_pairs_hook=_without_duplicate_keys)
    except _DuplicateKey as error:
        raise ApiError(
            "invalid_input",
            "a JSON object in the body has the same key twice",
            [Problem(None, shown_name(error.key), "appears more than once in one object")],
        ) from None
    except (ValueError, RecursionError) as error:
        raise ApiError("invalid_json", f"body is not valid JSON: {error}") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    decoded = dict(pairs)
    if len(decoded) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return decoded


def _request_problem(field: str, problem: str, message: str) -> ApiError:
    return ApiError("invalid_input", message, [Problem(None, field, problem)])


def _instances_of(payload: object) -> list:
    """The records of a body: ``{"instances": [...]}``, ``{"inputs": {...}}`` or one bare record ``{...}``."""
    if not isinstance(payload, dict):
        raise ApiError(
            "invalid_input", 'body must be a JSON object: {"instances": [...]}, {"inputs": {...}} or one record'
        )
    envelope = [key for key in (INSTANCES_KEY, INPUTS_KEY) if key in payload]
    if not envelope:
        return [payload]
    unknown = [Problem(None, shown_name(name), "is not a known field") for name in payload if name not in envelope]
    if len(envelope) > 1:
        unknown.insert(0, Problem(None, INPUTS_KEY, f"cannot be sent with {INSTANCES_KEY}: choose one"))
    if unknown:
        raise ApiError("invalid_input", "the request has unknown top-level fields", unknown[:MAX_PROBLEMS])
    if envelope == [INPUTS_KEY]:
        return _records_of_columns(payload[INPUTS_KEY])
    instances = payload[INSTANCES_KEY]
    if not isinstance(instances, list) or not instances:
        raise _request_problem(
            INSTANCES_KEY, "must be a non-empty array", "instances must be a non-empty JSON array of records"
        )
    _check_count(len(instances))
    return instances


def _check_count(count: int) -> None:
    if count > MAX_INSTANCES:
        raise ApiError("too_many_instances", f"{count} instances; the limit is {MAX_INSTANCES} per request")


def _records_of_columns(columns: object) -> list[dict]:
    """The records of a columnar body, so that each value is judged (and named) as in a record."""
    if not isinstance(columns, dict) or not columns:
        raise _request_problem(
            INPUTS_KEY, "must be a non-empty object of columns", "inputs must map each field to an array of values"
        )
    problems = [
        Problem(None, shown_name(name), "must be an array, one value per record")
        for name, values in columns.items()
        if not isinstance(values, list)
    ]
    lengths = {len(values) for values in columns.values() if isinstance(values, list)}
    if len(lengths) > 1:
        problems.append(
            Problem(None, INPUTS_KEY, f"every column must have as many values; got lengths {sorted(lengths)}")
        )
    if problems:
        raise ApiError("invalid_input", "the columns of inputs do not make records", problems[:MAX_PROBLEMS])
    rows = lengths.pop() if lengths else 0
    if rows == 0:
        raise _request_problem(INPUTS_KEY, "must hold at least one record", "inputs holds no values")
    _check_count(rows)
    return [{name: values[row] for name, values in columns.items()} for row in range(rows)]
