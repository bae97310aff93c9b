"""Every class of bad input gets its documented status and error body, and its log line; never a 500."""

from __future__ import annotations

import http.client
import json

import pytest

from default_risk.contract.limits import MAX_BODY_BYTES, MAX_INSTANCES, MAX_REQUEST_LINE_BYTES
from default_risk.contract.telemetry import INSTANCES_FIELD, OUTCOME_FIELD, STATUS_FIELD
from default_risk.protocols.openapi import example_record
from tests.support.http import post_json, request, request_logs
from tests.support.openapi_check import assert_conforms

GOOD = example_record("uci-1")
JSON = {"Content-Type": "application/json"}


COLUMNS = {name: [value, value] for name, value in GOOD.items()}


def without(name: str) -> dict:
    return {key: value for key, value in GOOD.items() if key != name}


# (case, body, expected code, expected (instance, field) pairs in details)
INVALID_BODIES = [
    ("missing field", without("PAY_0"), "invalid_input", [(0, "PAY_0")]),
    ("null protected field", GOOD | {"SEX": None}, "invalid_input", [(0, "SEX")]),
    ("bad protected field", GOOD | {"AGE": 17}, "invalid_input", [(0, "AGE")]),
    ("unknown field", GOOD | {"INCOME": 5}, "invalid_input", [(0, "INCOME")]),
    ("string number", GOOD | {"LIMIT_BAL": "20000"}, "invalid_input", [(0, "LIMIT_BAL")]),
    ("boolean", GOOD | {"SEX": True}, "invalid_input", [(0, "SEX")]),
    ("null", GOOD | {"PAY_0": None}, "invalid_input", [(0, "PAY_0")]),
    ("fractional code", GOOD | {"EDUCATION": 2.5}, "invalid_input", [(0, "EDUCATION")]),
    ("fractional age", GOOD | {"AGE": 30.5}, "invalid_input", [(0, "AGE")]),
    ("unknown code", GOOD | {"MARRIAGE": 7}, "invalid_input", [(0, "MARRIAGE")]),
    ("age out of range", GOOD | {"AGE": 150}, "invalid_input", [(0, "AGE")]),
    ("negative limit", GOOD | {"LIMIT_BAL": -1}, "invalid_input", [(0, "LIMIT_BAL")]),
    ("non-string id", GOOD | {"id": 17}, "invalid_input", [(0, "id")]),
    ("record not an object", {"instances": [GOOD, [1, 2]]}, "invalid_input", [(1, "")]),
    (
        "every problem at once",
        {"instances": [GOOD, without("LIMIT_BAL") | {"AGE": "x"}, GOOD | {"BILL_AMT3": 1e9}]},
        "invalid_input",
        [(1, "LIMIT_BAL"), (1, "AGE"), (2, "BILL_AMT3")],
    ),
    ("empty instances", {"instances": []}, "invalid_input", [(None, "instances")]),
    ("instances not a list", {"instances": GOOD}, "invalid_input", [(None, "instances")]),
    ("unknown top-level field", {"instances": [GOOD], "parameters": {}}, "invalid_input", [(None, "parameters")]),
    ("body not an object", [GOOD], "invalid_input", []),
    ("columns of unequal length", {"inputs": COLUMNS | {"AGE": [24, 25, 26]}}, "invalid_input", [(None, "inputs")]),
    ("bad value in a column", {"inputs": COLUMNS | {"AGE": [24, 16]}}, "invalid_input", [(1, "AGE")]),
    ("both records and columns", {"instances": [GOOD], "inputs": COLUMNS}, "invalid_input", [(None, "inputs")]),
]


@pytest.mark.parametrize(("case", "body", "code", "where"), INVALID_BODIES, ids=[case[0] for case in INVALID_BODIES])
def test_invalid_records_get_400_naming_every_problem(scoring_server, openapi_document, case, body, code, where):
    response = post_json(scoring_server.url, body)
    assert response.status == 400
    assert_conforms(openapi_document, "/", "POST", response)
    assert response.json["error"]["code"] == code
    assert [(d["instance"], d["field"]) for d in response.json["error"]["details"]] == where


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_rejected(scoring_server, openapi_document, literal):
    body = json.dumps(GOOD).replace('"BILL_AMT1": 3913', f'"BILL_AMT1": {literal}')
    response = request(scoring_server.url, "POST", body.encode(), JSON)
    assert response.status == 400
    assert_conforms(openapi_document, "/", "POST", response)
    assert response.json["error"]["details"] == [
        {"instance": 0, "field": "BILL_AMT1", "problem": "must be a finite number"}
    ]


@pytest.mark.parametrize("body", [b"", b"{", b"[" * 5_000], ids=["empty", "truncated", "deep"])
def test_malformed_json_gets_400(scoring_server, openapi_document, body):
    response = request(scoring_server.url, "POST", body, JSON)
    assert response.status == 400 and response.json["error"]["code"] == "invalid_json"
    assert_conforms(openapi_document, "/", "POST", response)


@pytest.mark.parametrize("body", [b"\xff\xfe{", b"{\x00}", '{"id": "caf\u00e9"}'.encode("latin-1")])
def test_a_body_that_is_not_utf8_gets_415(scoring_server, openapi_document, body):
    response = request(scoring_server.url, "POST", body, JSON)
    assert response.status == 415 and response.json["error"]["code"] == "unsupported_media_type"
    assert "UTF-8" in response.json["error"]["message"]
    assert_conforms(openapi_document, "/", "POST", response)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_non_json_gets_415(scoring_server, openapi_document, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = request(scoring_server.url, "POST", json.dumps(GOOD).encode(), headers)
    assert response.status == 415 and response.json["error"]["code"] == "unsupported_media_type"
    assert_conforms(openapi_document, "/", "POST", response)


def test_too_many_instances_gets_413(scoring_server, openapi_document):
    response = post_json(scoring_server.url, {"instances": [GOOD] * (MAX_INSTANCES + 1)})
    assert response.status == 413 and response.json["error"]["code"] == "too_many_instances"
    assert_conforms(openapi_document, "/", "POST", response)


def test_body_over_the_limit_gets_413_from_content_length(scoring_server, openapi_document):
    response = request(scoring_server.url, "POST", b" " * (MAX_BODY_BYTES + 1), JSON)
    assert response.status == 413 and response.json["error"]["code"] == "body_too_large"
    assert_conforms(openapi_document, "/", "POST", response)


def test_chunked_body_over_the_limit_gets_413(scoring_server):
    chunk = b" " * 65536
    connection = http.client.HTTPConnection("127.0.0.1", scoring_server.port, timeout=30)
    connection.request(
        "POST",
        "/",
        body=iter([chunk] * (MAX_BODY_BYTES // len(chunk) + 2)),
        headers={**JSON, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    answer = connection.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read())["error"]["code"] == "body_too_large"
    connection.close()


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY_BYTES, 200), (MAX_BODY_BYTES + 1, 413)])
def test_chunked_body_at_the_limit_is_read_whole_and_one_byte_more_is_refused(scoring_server, size, status):
    record = json.dumps(GOOD).encode()
    body = record + b" " * (size - len(record))  # whitespace after the record: still one valid record
    connection = http.client.HTTPConnection("127.0.0.1", scoring_server.port, timeout=30)
    pieces = (body[start : start + 100_000] for start in range(0, size, 100_000))  # not a divisor of the limit
    connection.request("POST", "/", body=pieces, headers={**JSON, "Transfer-Encoding": "chunked"}, encode_chunked=True)
    answer = connection.getresponse()
    assert answer.status == status, answer.read()[:300]
    connection.close()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/", "GET, POST"),
        ("DELETE", "/", "GET, POST"),
        ("POST", "/healthz", "GET"),
        ("POST", "/openapi.json", "GET"),
    ],
)
def test_wrong_method_gets_405_with_allow(scoring_server, openapi_document, method, path, allow):
    response = request(scoring_server.url + path, method, b"{}", JSON)
    assert response.status == 405 and response.headers["allow"] == allow
    assert response.json["error"]["code"] == "method_not_allowed"
    assert_conforms(openapi_document, path, "GET" if path != "/" else "POST", response)


def test_unknown_path_gets_404_json(scoring_server):
    response = request(scoring_server.url + "/predict")
    assert response.status == 404 and response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("prefix", ["/", "/docs/"])
def test_a_long_unknown_path_is_never_echoed_whole(scoring_server, prefix):
    """As long as a request line may be (``MAX_REQUEST_LINE_BYTES``; past it the server answers 414 itself)."""
    response = request(scoring_server.url + prefix + "a" * (MAX_REQUEST_LINE_BYTES - 200))
    assert response.status == 404 and response.json["error"]["code"] == "not_found"
    assert len(response.body) < 1_000, len(response.body)


def test_errors_are_logged_with_their_outcome(scoring_server):
    before = len(request_logs(scoring_server.output()))
    post_json(scoring_server.url, {"instances": [without("PAY_0"), GOOD]})
    request(scoring_server.url, "POST", b"x", {"Content-Type": "text/plain"})
    post_json(scoring_server.url, {"instances": [GOOD] * (MAX_INSTANCES + 1)})
    lines = request_logs(scoring_server.output())[before:]
    assert [(line[OUTCOME_FIELD], line[STATUS_FIELD], line[INSTANCES_FIELD]) for line in lines] == [
        ("invalid_input", 400, 2),
        ("unsupported", 415, 0),
        ("too_large", 413, 0),
    ]
