"""Happy paths against a real functions-framework server fed by the storage emulator."""

from __future__ import annotations

import threading

import numpy as np

from default_risk.contract.telemetry import (
    INSTANCES_FIELD,
    LATENCY_FIELD,
    MEAN_PROBABILITY_FIELD,
    MODEL_VERSION_FIELD,
    OUTCOME_FIELD,
    STATUS_FIELD,
)
from default_risk.model.store import LOADED_MESSAGE
from tests.support.http import log_lines, post_json, request, request_logs
from tests.support.openapi_check import assert_conforms
from tests.support.records import record, records

TOLERANCE = 1e-5


def test_one_bare_record_scores_like_keras(scoring_server, keras_reference, tiny_version_dir, openapi_document):
    rows, expected = keras_reference
    response = post_json(scoring_server.url, record(rows[0]))
    assert response.status == 200
    assert_conforms(openapi_document, "/", "POST", response)
    assert response.json["model_version"] == tiny_version_dir.name
    [prediction] = response.json["predictions"]
    assert abs(prediction["probability_of_default"] - expected[0]) <= TOLERANCE
    assert response.headers["cache-control"] == "no-store"


def test_batch_keeps_order_echoes_ids_and_scores_like_keras(scoring_server, keras_reference, openapi_document):
    rows, expected = keras_reference
    instances = records(rows)
    for index in range(0, len(instances), 3):
        instances[index]["id"] = f"client-{index}"
    response = post_json(scoring_server.url, {"instances": instances})
    assert response.status == 200
    assert_conforms(openapi_document, "/", "POST", response)
    predictions = response.json["predictions"]
    served = np.array([p["probability_of_default"] for p in predictions])
    assert np.max(np.abs(served - expected)) <= TOLERANCE
    assert [p.get("id") for p in predictions] == [instance.get("id") for instance in instances]


def decided(answer: dict) -> dict:
    """An answer without its decision ids (checked unique and new): what two requests for the same records share."""
    ids = [prediction.pop("decision_id") for prediction in answer["predictions"]]
    assert len(set(ids)) == len(ids)
    return answer


def test_columnar_inputs_score_like_the_same_records(scoring_server, keras_reference, openapi_document):
    rows, expected = keras_reference
    instances = [{"id": f"c-{i}", **r} for i, r in enumerate(records(rows[:50]))]
    columns = {name: [instance[name] for instance in instances] for name in instances[0]}
    response = post_json(scoring_server.url, {"inputs": columns})
    assert response.status == 200, response.json
    assert_conforms(openapi_document, "/", "POST", response)
    by_records = post_json(scoring_server.url, {"instances": instances}).json
    assert decided(response.json) == decided(by_records)  # the same answers, each its own decision
    served = np.array([p["probability_of_default"] for p in response.json["predictions"]])
    assert np.max(np.abs(served - expected[:50])) <= TOLERANCE


def test_each_request_logs_one_structured_line_without_customer_data(scoring_server, keras_reference):
    rows, _ = keras_reference
    secret_id = "customer-7b3f9e"
    distinctive = record(rows[1]) | {"LIMIT_BAL": 123457.25, "id": secret_id}
    before = len(request_logs(scoring_server.output()))
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = post_json(
        scoring_server.url,
        {"instances": [distinctive, record(rows[2])]},
        headers={"X-Cloud-Trace-Context": f"{trace}/1;o=1"},
    )
    assert response.status == 200
    output = scoring_server.output()
    lines = request_logs(output)[before:]
    assert len(lines) == 1
    [line] = lines
    assert line[OUTCOME_FIELD] == "ok" and line[STATUS_FIELD] == 200 and line[INSTANCES_FIELD] == 2
    assert line[MODEL_VERSION_FIELD] == response.json["model_version"]
    assert 0 < line[LATENCY_FIELD] < 5
    probabilities = [p["probability_of_default"] for p in response.json["predictions"]]
    assert abs(line[MEAN_PROBABILITY_FIELD] - np.mean(probabilities)) < 1e-12
    assert line["logging.googleapis.com/trace"] == f"projects/local-project/traces/{trace}"
    assert secret_id not in output and "123457.25" not in output


def test_health_does_not_load_then_32_simultaneous_first_requests_load_once(
    start_function, keras_reference, openapi_document
):
    rows, expected = keras_reference
    server = start_function(threads=32)
    for path in ("/healthz", "/"):
        health = request(server.url + path)
        assert health.status == 200 and health.json == {"status": "ok", "model_loaded": False, "model_version": None}
        assert_conforms(openapi_document, path, "GET", health)
    barrier = threading.Barrier(32)
    answers: list = [None] * 32

    def client(index: int) -> None:
        barrier.wait()
        answers[index] = post_json(server.url, record(rows[index]), timeout=60)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status for answer in answers] == [200] * 32
    served = np.array([answer.json["predictions"][0]["probability_of_default"] for answer in answers])
    assert np.max(np.abs(served - expected[:32])) <= TOLERANCE
    loads = [line for line in log_lines(server.output()) if line.get("message") == LOADED_MESSAGE]
    assert len(loads) == 1
    scored = [line for line in request_logs(server.output()) if line["httpRequest"]["requestMethod"] == "POST"]
    assert [line[OUTCOME_FIELD] for line in scored] == ["ok"] * 32
    ready = request(server.url + "/readyz")
    assert ready.status == 200 and ready.json["model_version"] == loads[0][MODEL_VERSION_FIELD]
    assert_conforms(openapi_document, "/readyz", "GET", ready)


def test_serves_the_newest_local_version_when_model_url_is_unset(
    start_function, tiny_version_dir, tmp_path, keras_reference
):
    import shutil

    from default_risk.contract.artifacts import LATEST_POINTER, MODELS_PREFIX

    rows, expected = keras_reference
    models = tmp_path / "function-0" / MODELS_PREFIX
    shutil.copytree(tiny_version_dir, models / tiny_version_dir.name)
    (models / LATEST_POINTER).write_text(tiny_version_dir.name + "\n")
    server = start_function(env={})
    response = post_json(server.url, record(rows[0]))
    assert response.status == 200 and response.json["model_version"] == tiny_version_dir.name
    assert abs(response.json["predictions"][0]["probability_of_default"] - expected[0]) <= TOLERANCE


def test_callers_cannot_shape_the_log_line(start_function, keras_reference) -> None:
    """A forged trace is not logged, the query string never is (nor in the model's load line the same request
    causes), and a user agent with U+0085 (a line break for str.splitlines) leaves one line."""
    scoring_server = start_function()
    before = len(request_logs(scoring_server.output()))
    response = post_json(
        scoring_server.url + "/?customer=123457.25",
        record(keras_reference[0][3]),
        headers={"X-Cloud-Trace-Context": "projects/evil/traces/x", "User-Agent": "agent\u0085" + "x" * 5000},
    )
    assert response.status == 200
    output = scoring_server.output()
    (line,) = request_logs(output)[before:]
    assert "logging.googleapis.com/trace" not in line and "123457.25" not in output
    assert line["httpRequest"]["requestUrl"].endswith("/") and len(line["httpRequest"]["userAgent"]) < 300
    assert all(len(text.splitlines()) == 1 for text in output.splitlines() if "123457" in text or "agent" in text)
