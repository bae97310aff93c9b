"""BigQuery remote-function requests against the real function server, serving from the storage emulator.

The payloads have exactly the shape BigQuery sends; the answers are checked the way BigQuery reads
them: ``replies`` in call order with 200, ``errorMessage`` with 400 (the query fails at once) or 503
(BigQuery retries); each answer as the function's OpenAPI document describes it.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from default_risk.contract.fields import FEATURE_NAMES, PROTECTED_FIELDS
from default_risk.contract.limits import MAX_INSTANCES
from default_risk.contract.telemetry import INSTANCES_FIELD, MODEL_VERSION_FIELD, OUTCOME_FIELD, STATUS_FIELD
from default_risk.protocols.bigquery import ARGUMENT_NAMES
from default_risk.protocols.http import ROUTE_METHODS
from default_risk.protocols.openapi import document
from tests.support.http import Response, post_json, request_logs
from tests.support.local_cloud import Server
from tests.support.openapi_check import assert_conforms
from tests.support.tiny_model import load_rows


def post_call(server: Server, calls: object, timeout: float = 30, mode: str = "score") -> Response:
    """POST a BigQuery request for ``calls``; the answer, checked against the OpenAPI document."""
    answer = post_json(server.url, bigquery_request(calls, mode), timeout=timeout)
    assert_conforms(document(ROUTE_METHODS), "/", "POST", answer)
    return answer


def bigquery_request(calls: list, mode: str = "score") -> dict:
    """A request as BigQuery sends it for ``SELECT dataset.default_risk(...) FROM ...`` (``mode`` explain:
    ``default_risk_reasons``)."""
    return {
        "requestId": uuid.uuid4().hex,
        "caller": "//bigquery.googleapis.com/projects/bank-risk/jobs/bank-risk:EU.bquxjob_4f1c2a_19a7",
        "sessionUser": "risk-analyst@bank.example",
        "userDefinedContext": {"mode": mode},
        "calls": calls,
    }


def book(rows: int, seed: int = 1) -> list[list[int]]:
    """``rows`` accounts of the real data set as BigQuery sends INT64 columns: JSON integers."""
    features, _ = load_rows(rows, seed)
    return features.astype(np.int64).tolist()


def instances_probabilities(server: Server, calls: list[list[int]]) -> list[float]:
    """The same rows scored through the instances API."""
    answer = post_json(server.url, {"instances": [dict(zip(FEATURE_NAMES, call, strict=True)) for call in calls]})
    assert answer.status == 200, answer.json
    return [prediction["probability_of_default"] for prediction in answer.json["predictions"]]


def test_one_row_is_scored_like_the_instances_api(scoring_server: Server) -> None:
    calls = book(1)
    answer = post_call(scoring_server, calls)
    assert answer.status == 200, answer.json
    assert set(answer.json) == {"replies"}
    (probability,) = answer.json["replies"]
    assert 0 < probability < 1
    assert probability == pytest.approx(instances_probabilities(scoring_server, calls)[0], abs=1e-9)


def test_ten_thousand_rows_come_back_in_call_order(scoring_server: Server) -> None:
    calls = book(10_000)
    answer = post_call(scoring_server, calls, timeout=60)
    assert answer.status == 200, answer.json
    replies = answer.json["replies"]
    assert len(replies) == 10_000
    assert all(0 < p < 1 for p in replies)
    # Order: a sample from the middle of the batch matches the same rows scored one request each.
    sample = slice(4_000, 4_050)
    assert replies[sample] == pytest.approx(instances_probabilities(scoring_server, calls[sample]), abs=1e-9)
    assert len(set(replies[sample])) > 1, "distinct accounts should get distinct scores"


def test_bigquery_requests_write_the_request_log_line(scoring_server: Server) -> None:
    request_id_marker = len(request_logs(scoring_server.output()))
    calls = book(7, seed=5)
    assert post_call(scoring_server, calls).status == 200
    calls[3][4] = 150
    assert post_call(scoring_server, calls).status == 400
    ok, invalid = request_logs(scoring_server.output())[request_id_marker:][-2:]
    assert (ok[STATUS_FIELD], ok[OUTCOME_FIELD], ok[INSTANCES_FIELD]) == (200, "ok", 7)
    assert ok[MODEL_VERSION_FIELD]
    assert (invalid[STATUS_FIELD], invalid[OUTCOME_FIELD], invalid[INSTANCES_FIELD]) == (400, "invalid_input", 7)


def test_null_argument_names_row_and_argument(scoring_server: Server) -> None:
    calls = book(3)
    calls[2][5] = None
    answer = post_call(scoring_server, calls)
    assert answer.status == 400
    assert set(answer.json) == {"errorMessage"}
    message = answer.json["errorMessage"]
    assert "row 2 of 3" in message
    assert "argument 6 (pay_0)" in message
    assert "NULL" in message


def test_null_protected_arguments_are_absent_and_change_nothing(scoring_server: Server) -> None:
    calls = book(3)
    nulled = [
        [None if name in PROTECTED_FIELDS else value for name, value in zip(FEATURE_NAMES, row, strict=True)]
        for row in calls
    ]
    answer = post_call(scoring_server, nulled)
    assert answer.status == 200, answer.json
    assert answer.json["replies"] == post_call(scoring_server, calls).json["replies"]


@pytest.mark.parametrize(
    ("argument", "value", "expected"),
    [
        ("age", 150, "must be between 18 and 100, got 150"),
        ("sex", 3, "must be one of [1, 2], got 3"),
        ("limit_bal", -5000, "must be between 0 and 10000000, got -5000"),
        ("pay_0", 1.5, "must be a whole number, got 1.5"),
        ("bill_amt1", "NaN", "got string"),
        # BigQuery sends an INT64 beyond 2**53 as a string of digits: decoded, then out of range.
        ("pay_amt6", "9007199254740993", "got 9007199254740993"),
        # Longer than Python converts (4,300 digits): judged by its length, never converted.
        ("pay_amt5", "9" * 4301, "a number of 4301 digits is beyond every accepted range"),
    ],
)
def test_bad_value_names_row_argument_and_problem(
    scoring_server: Server, argument: str, value: object, expected: str
) -> None:
    calls = book(4)
    position = ARGUMENT_NAMES.index(argument)
    calls[1][position] = value
    answer = post_call(scoring_server, calls)
    assert answer.status == 400
    message = answer.json["errorMessage"]
    assert f"row 1 of 4 in this batch, argument {position + 1} ({argument}): " in message
    assert expected in message


def test_every_problem_is_counted_and_the_first_ones_shown(scoring_server: Server) -> None:
    calls = book(20)
    for row in calls:
        row[4] = 17
    message = post_call(scoring_server, calls).json["errorMessage"]
    assert message.count("(age): must be between 18 and 100, got 17") == 5
    assert message.endswith("and 15 more problems")


@pytest.mark.parametrize("arguments", [22, 24])
def test_wrong_arity_is_a_clear_error(scoring_server: Server, arguments: int) -> None:
    calls = book(2)
    calls[1] = (calls[1] + [0])[:arguments]
    answer = post_call(scoring_server, calls)
    assert answer.status == 400
    message = answer.json["errorMessage"]
    assert "row 1 of 2 in this batch: default_risk takes 23 arguments" in message
    assert f"got {arguments} arguments" in message


@pytest.mark.parametrize("calls", [None, {"0": [1]}, "[[1, 2]]"])
def test_calls_that_are_not_a_list_are_rejected(scoring_server: Server, calls: object) -> None:
    answer = post_call(scoring_server, calls)
    assert answer.status == 400
    assert "'calls' must be a list of argument lists" in answer.json["errorMessage"]


def test_more_rows_than_accepted_asks_for_smaller_batches(scoring_server: Server) -> None:
    answer = post_call(scoring_server, [[0]] * (MAX_INSTANCES + 1))
    assert answer.status == 413
    assert f"at most {MAX_INSTANCES} are accepted" in answer.json["errorMessage"]
    assert "max_batching_rows" in answer.json["errorMessage"]


def test_model_not_ready_is_retryable_503(start_function, emulator: Server) -> None:
    missing = {
        name: url.replace("/models/", "/models/v000000000000-missing/") for name, url in emulator.model_urls.items()
    }
    server = start_function(**missing)
    answer = post_call(server, book(2))
    assert answer.status == 503
    assert set(answer.json) == {"errorMessage"}
    assert "could not be loaded" in answer.json["errorMessage"]
    assert "retry-after" in answer.headers
    (log,) = request_logs(server.output())[-1:]
    assert (log[STATUS_FIELD], log[OUTCOME_FIELD]) == (503, "model_unavailable")


def test_a_call_mixed_with_another_kind_of_body_is_refused_not_half_read(scoring_server: Server) -> None:
    body = bigquery_request(book(2)) | {"instances": [dict(zip(FEATURE_NAMES, book(1)[0], strict=True))]}
    answer = post_json(scoring_server.url, body)
    assert_conforms(document(ROUTE_METHODS), "/", "POST", answer)
    assert answer.status == 400 and answer.json["error"]["code"] == "invalid_input"
    assert [(d["field"], d["instance"]) for d in answer.json["error"]["details"]] == [("instances", None)]


def test_the_reasons_routine_answers_each_row_with_its_band_and_reasons(scoring_server: Server) -> None:
    calls = book(5, seed=8)
    answer = post_call(scoring_server, calls, mode="explain")
    assert answer.status == 200, answer.json
    explained = post_json(
        scoring_server.url + "/explain", {"instances": [dict(zip(FEATURE_NAMES, c, strict=True)) for c in calls]}
    ).json["predictions"]
    assert answer.json["replies"] == [
        {key: prediction[key] for key in ("probability_of_default", "risk_band", "score", "reasons")}
        for prediction in explained
    ]
    scores = post_call(scoring_server, calls).json["replies"]
    assert [reply["probability_of_default"] for reply in answer.json["replies"]] == scores


def test_the_reasons_routine_refuses_batches_larger_than_it_explains_and_unknown_modes(scoring_server: Server) -> None:
    too_many = post_call(scoring_server, book(1) * 1001, mode="explain")
    assert too_many.status == 413 and "at most 1000 are explained" in too_many.json["errorMessage"]
    unknown = post_call(scoring_server, book(1), mode="rescore")
    assert unknown.status == 400 and "mode 'rescore' is not one of score, explain" in unknown.json["errorMessage"]
