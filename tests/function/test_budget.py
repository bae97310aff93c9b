"""The memory budget: what a body may hold is counted before anything decodes it, and the largest valid
requests of every shape pass."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from default_risk.contract.fields import FEATURES
from default_risk.contract.limits import MAX_INSTANCES
from default_risk.protocols import budget, decoding
from default_risk.protocols.answers import ApiError
from default_risk.protocols.openapi import example_record
from default_risk.protocols.request_log import RequestLog

GOOD = example_record("uci-1")
LARGEST = {feature.name: feature.codes[-1] if feature.codes else feature.maximum for feature in FEATURES}


def refusal(body: bytes) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as refused:
        decoding.scoring_request(body, RequestLog())
    return refused.value.status, refused.value.code, refused.value.message


def without_strings(value: object) -> object:
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return [without_strings(item) for item in value]
    if isinstance(value, dict):
        return {str(number): without_strings(item) for number, item in enumerate(value.values())}
    return value


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('{}[],"\\:ab\u00e9')),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON, st.booleans())
def test_structure_is_the_brackets_and_commas_outside_strings(value: object, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    expected = json.dumps(without_strings(value)).encode().translate(None, b'":0123456789-truefalsn ')
    assert budget.structure(body) == expected


@pytest.mark.parametrize("offset", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("filler", ["[", "\\", '"', '\\"'], ids=["bracket", "backslash", "quote", "both"])
def test_structure_reads_strings_across_its_megabyte_pieces(offset: int, filler: str) -> None:
    """A string spanning the boundary of two pieces, the boundary at every position around an escape."""
    text = "x" * (budget._CHUNK_BYTES - 3 + offset) + filler * 8
    body = json.dumps([text, [[]], "],", {"a": text}]).encode()
    assert budget.structure(body) == b"[,[[]],,{}]"


@pytest.mark.parametrize("empty", [b"{}", b"[]"], ids=["objects", "arrays"])
def test_more_containers_than_any_request_holds_are_refused_before_decoding(empty: bytes) -> None:
    body = b'{"instances": [' + b",".join([empty] * (budget.MAX_CONTAINERS - 1)) + b"]}"
    status, code, message = refusal(body)
    assert (status, code) == (413, "body_too_large")
    assert f"more than {budget.MAX_CONTAINERS} JSON objects and arrays" in message


def test_more_values_than_any_request_holds_are_refused_before_decoding() -> None:
    body = b'{"instances": [' + b",".join([b"0"] * (budget.MAX_VALUES + 2)) + b"]}"
    assert refusal(body)[:2] == (413, "body_too_large")
    assert f"more than {budget.MAX_VALUES} JSON values" in refusal(body)[2]


def test_commas_and_brackets_inside_ids_are_not_counted() -> None:
    records = [{"id": '{[,"\\' * 51, **GOOD}] * MAX_INSTANCES
    body = json.dumps({"instances": records}).encode()
    assert body.count(b",") > budget.MAX_VALUES and body.count(b"{") > budget.MAX_CONTAINERS
    assert decoding.scoring_request(body, RequestLog()).count == MAX_INSTANCES


@pytest.mark.parametrize(
    "body",
    [
        {"instances": [{"id": "x" * 256, **LARGEST}] * MAX_INSTANCES},
        {"inputs": {**{name: [value] * MAX_INSTANCES for name, value in LARGEST.items()}, "id": ["x"] * MAX_INSTANCES}},
        {"calls": [list(LARGEST.values())] * MAX_INSTANCES, "requestId": "r", "userDefinedContext": {"mode": "score"}},
    ],
    ids=["records", "columns", "bigquery"],
)
def test_the_largest_valid_requests_are_within_the_budget(body: dict) -> None:
    encoded = json.dumps(body).encode()
    budget.check_counts(encoded)
    budget.check_object_sizes(encoded)
    assert decoding.scoring_request(encoded, RequestLog()).count == MAX_INSTANCES


def test_an_object_with_more_members_than_any_record_is_refused_before_the_standard_library() -> None:
    widest = {**GOOD, **{f"x{number}": 0 for number in range(budget.MAX_OBJECT_MEMBERS - len(GOOD))}}
    with pytest.raises(ApiError) as refused:  # 128 members is allowed: the unknown fields are named
        decoding.scoring_request(json.dumps({"instances": [widest]}).encode(), RequestLog())
    assert refused.value.details[0].field == "x0" and refused.value.details[0].problem == "is not a known field"
    wider = {**widest, "one_more": 0}
    status, code, message = refusal(json.dumps({"instances": [wider]}).encode())
    assert (status, code) == (400, "invalid_input")
    assert f"more than {budget.MAX_OBJECT_MEMBERS} fields" in message


def test_members_of_nested_containers_are_counted_in_their_own_object() -> None:
    nested = {"a": [0] * 500, "b": {"c": ",,,,"}, "d": [{"e": 0}] * 300}
    budget.check_object_sizes(json.dumps(nested).encode())
    with pytest.raises(ApiError, match="more than 128 fields"):
        budget.check_object_sizes(json.dumps({"a": [{str(n): 0 for n in range(129)}]}).encode())


@pytest.mark.parametrize(
    ("encoding", "problem"),
    [
        ("utf-16-le", "NUL bytes"),
        ("utf-16", "NUL bytes"),  # with its byte-order mark
        ("utf-32-be", "NUL bytes"),
        ("utf-32", "NUL bytes"),
        ("utf-8-sig", "byte-order mark"),
    ],
)
def test_only_utf8_json_is_read_whatever_the_standard_library_would_accept(encoding: str, problem: str) -> None:
    """The UTF-16 attack: a string that never closes for a UTF-8 reader, then 1.4 million `,{}`, is refused before
    any count or parse (the standard library alone would decode it)."""
    body = ('["\\u0122"' + ",{}" * 1000 + "]").encode(encoding)
    json.loads(body)  # the standard library takes every one of these encodings
    status, code, message = refusal(body)
    assert (status, code) == (415, "unsupported_media_type") and problem in message


def test_invalid_utf8_is_refused_with_where() -> None:
    status, code, message = refusal(b'{"LIMIT_BAL": 1, "id": "caf\xe9"}')
    assert (status, code) == (415, "unsupported_media_type") and "byte 27 is not valid UTF-8" in message


def test_an_explanation_over_its_cap_is_refused_before_anything_is_decoded() -> None:
    record = json.dumps(example_record("uci-1")).encode()
    body = b'{"instances": [' + b",".join([record] * 1001) + b"]}"
    with pytest.raises(ApiError) as refused:
        budget.check_explained_count(body)
    assert refused.value.status == 413 and "1001 records; at most 1000 are explained" in refused.value.message
    budget.check_explained_count(b'{"instances": [' + b",".join([record] * 1000) + b"]}")  # the cap itself passes
    ids = b'{"instances": [' + b",".join([record[:-1] + b', "id": "{{{{"}'] * 1000) + b"]}"
    budget.check_explained_count(ids)  # braces inside strings are not records
