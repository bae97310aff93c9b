"""The typed fast path and the precise path agree on every body: the fast path only ever accepts what the
precise path accepts, with the same matrix and ids; everything else gets the precise path's own answer.

Bodies are written by hand (not by ``json.dumps`` alone) so that they can repeat a key, escape a key or a
string, and mix the request shapes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.protocols import decoding
from default_risk.protocols.answers import ApiError
from default_risk.protocols.bigquery import BIGQUERY_KEYS, CALLS_KEY
from default_risk.protocols.openapi import example_record
from default_risk.protocols.request_log import RequestLog
from tests.reliability.records import invalid_records, valid_records

GOOD = example_record("uci-1")


def outcome(body: bytes, decode=None) -> tuple:
    """What a decoder makes of ``body``: the accepted matrix, ids and kind, or the error it answers."""
    try:
        request = (decode or (lambda b: decoding.scoring_request(b, RequestLog())))(body)
    except ApiError as error:
        details = [(p.instance, p.field, p.problem) for p in error.details]
        return ("error", type(error).__name__, error.status, error.code, error.message, details)
    features = request.result.features
    return ("ok", features.shape, np.nan_to_num(features, nan=-1e300).tolist(), request.result.ids, request.bigquery)


def precise(body: bytes) -> tuple:
    return outcome(body, lambda b: decoding._precise(b, RequestLog()))


# --- writing bodies ---------------------------------------------------------------------------------------------


@st.composite
def key_text(draw: st.DrawFn, key: str) -> str:
    """A key as JSON text: plain, or with a character written as a \\u escape (the same key once decoded)."""
    if key and draw(st.integers(0, 99)) == 0:
        at = draw(st.integers(0, len(key) - 1))
        return '"' + key[:at] + f"\\u{ord(key[at]):04x}" + key[at + 1 :] + '"'
    return json.dumps(key)


@st.composite
def json_text(draw: st.DrawFn, value: object) -> str:
    """``value`` as JSON text; objects may repeat a key (with another value) or escape one."""
    if isinstance(value, dict):
        pairs = [(key, item) for key, item in value.items()]
        if pairs and draw(st.integers(0, 39)) == 0:
            key, item = draw(st.sampled_from(pairs))
            pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(st.sampled_from([item, 0, "x", None]))))
        members = [f"{draw(key_text(key))}:{draw(json_text(item))}" for key, item in pairs]
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(draw(json_text(item)) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=draw(st.integers(0, 4)) == 0)
    return json.dumps(value)  # numbers (NaN and Infinity as their literals), booleans, null


def any_record() -> st.SearchStrategy:
    return st.one_of(valid_records(), valid_records(), valid_records(), invalid_records().map(lambda pair: pair[0]))


def columns_of(records: list[dict]) -> dict:
    names = dict.fromkeys(name for record in records for name in record)
    return {name: [record.get(name, 0) for record in records] for name in names}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    records = draw(st.lists(any_record(), min_size=0, max_size=4))
    shape = draw(st.sampled_from(["instances", "bare", "inputs", "calls", "mixed", "not an object"]))
    if shape == "instances":
        payload: object = {"instances": records}
    elif shape == "bare":
        payload = records[0] if records else {}
    elif shape == "inputs":
        payload = {"inputs": columns_of(records)}
    elif shape == "calls":
        rows = [[record.get(name) for name in FEATURE_NAMES] for record in records]
        payload = {key: draw(st.sampled_from(["a", "x:y", "projects/p:q"])) for key in BIGQUERY_KEYS[:-1]}
        payload |= {BIGQUERY_KEYS[-1]: {"mode": draw(st.sampled_from(["score", "a:b"]))}, CALLS_KEY: rows}
    elif shape == "mixed":
        payload = {"instances": records, draw(st.sampled_from(["inputs", CALLS_KEY, "LIMIT_BAL"])): []}
    else:
        payload = records
    return draw(json_text(payload)).encode()


# --- the properties ---------------------------------------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_the_fast_path_agrees_with_the_precise_path_on_every_body(body: bytes) -> None:
    fast = decoding._fast(body)
    expected = precise(body)
    if fast is not None:
        assert expected[0] == "ok", f"the fast path accepted a body the precise path refuses: {expected}"
    assert outcome(body) == expected


@settings(max_examples=200, deadline=None)
@given(st.booleans().flatmap(lambda with_id: st.lists(valid_records(with_id=with_id), min_size=1, max_size=5)))
def test_valid_bodies_without_escapes_take_the_fast_path(records: list[dict]) -> None:
    """Valid bodies as clients write them (no escape, no repeated key) are never sent the slow way."""
    shared = set.intersection(*(set(record) for record in records))  # a column holds every record's value
    columns = {name: values for name, values in columns_of(records).items() if name in shared}
    for payload in ({"instances": records}, {"inputs": columns}, records[0]):
        body = json.dumps(payload, ensure_ascii=False).encode()
        if b"\\" not in body:
            assert decoding._fast(body) is not None, body[:300]


def test_a_repeated_key_is_refused_naming_it_whatever_the_path() -> None:
    body = json.dumps({"instances": [GOOD]}).replace('"AGE": 24', '"AGE": 24, "AGE": 61').encode()
    assert decoding._fast(body) is None
    with pytest.raises(ApiError, match="same key twice") as refused:
        decoding.scoring_request(body, RequestLog())
    assert [(p.field, p.problem) for p in refused.value.details] == [("AGE", "appears more than once in one object")]


def test_columnar_and_records_give_the_same_matrix() -> None:
    records = [{"id": f"c-{i}", **example_record(name)} for i, name in enumerate(("uci-1", "uci-2", "uci-3"))]
    by_records = decoding.scoring_request(json.dumps({"instances": records}).encode(), RequestLog())
    by_columns = decoding.scoring_request(json.dumps({"inputs": columns_of(records)}).encode(), RequestLog())
    assert by_columns.result.ids == by_records.result.ids == ["c-0", "c-1", "c-2"]
    np.testing.assert_array_equal(by_columns.result.features, by_records.result.features)


@pytest.mark.parametrize(
    ("inputs", "field", "problem"),
    [
        ({**columns_of([GOOD]), "LIMIT_BAL": [20000, 1]}, "inputs", "every column must have as many values"),
        ({**columns_of([GOOD]), "AGE": 24}, "AGE", "must be an array, one value per record"),
        ({**columns_of([GOOD]), "INCOME": [1]}, "INCOME", "is not a known field"),
        ({k: v for k, v in columns_of([GOOD]).items() if k != "PAY_0"}, "PAY_0", "is required"),
        ({**columns_of([GOOD]), "AGE": [16]}, "AGE", "must be between 18 and 100, got 16"),
        ({}, "inputs", "must be a non-empty object of columns"),
    ],
    ids=["ragged", "not an array", "unknown column", "missing column", "bad value", "empty"],
)
def test_columnar_problems_name_the_field(inputs: dict, field: str, problem: str) -> None:
    with pytest.raises(ApiError) as refused:
        decoding.scoring_request(json.dumps({"inputs": inputs}).encode(), RequestLog())
    assert refused.value.status == 400
    assert [(p.field, p.problem[: len(problem)]) for p in refused.value.details] == [(field, problem)]
