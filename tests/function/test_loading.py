"""Loading the model: storage outages, tampered artifacts and wrong configuration answer 503, never a score."""

from __future__ import annotations

import pytest

from default_risk.artifacts import MODEL_FILE, MODELS_PREFIX, PREP_FILE
from default_risk.model_store import (
    FETCH_TIMEOUT_ENV,
    LOAD_FAILED_MESSAGE,
    LOADED_MESSAGE,
    ConfigurationError,
    artifact_urls,
)
from default_risk.openapi import example_record
from tests.support.gcs import BUCKET, publish, storage_client
from tests.support.http import log_lines, post_json
from tests.support.local_cloud import emulator_env, storage_emulator
from tests.support.openapi_check import assert_conforms

GOOD = example_record("uci-2")


def messages(server) -> list[str]:
    return [line.get("message") for line in log_lines(server.output())]


def test_storage_down_at_first_request_then_back_without_restart(
    tmp_path, tiny_version_dir, start_function, openapi_document
):
    emulator = storage_emulator(tmp_path / "gcs").start()
    try:
        urls = publish(tiny_version_dir, emulator)
        emulator.stop()
        server = start_function(env=emulator_env(emulator) | urls | {FETCH_TIMEOUT_ENV: "2"})
        down = post_json(server.url, GOOD)
        assert down.status == 503 and int(down.headers["retry-after"]) > 0
        assert down.json["error"]["code"] == "model_unavailable"
        assert_conforms(openapi_document, "/", "POST", down)
        assert LOAD_FAILED_MESSAGE in messages(server)
        emulator.start()  # same port and data directory: the objects are still there
        back = post_json(server.url, GOOD)
        assert back.status == 200 and back.json["model_version"] == tiny_version_dir.name
        assert messages(server).count(LOADED_MESSAGE) == 1
    finally:
        emulator.stop()


@pytest.mark.parametrize("name", [MODEL_FILE, PREP_FILE])
def test_tampered_artifact_answers_503_and_logs_an_error_never_a_score(
    tmp_path, tiny_version_dir, start_function, name
):
    with storage_emulator(tmp_path / "gcs") as emulator:
        urls = publish(tiny_version_dir, emulator)
        blob = storage_client(emulator).bucket(BUCKET).blob(f"{MODELS_PREFIX}/{tiny_version_dir.name}/{name}")
        data = bytearray(blob.download_as_bytes())
        data[len(data) // 2] ^= 0x01  # one flipped bit
        blob.upload_from_string(bytes(data))
        server = start_function(env=emulator_env(emulator) | urls)
        for _ in range(2):  # and the broken state is not served on a retry either
            response = post_json(server.url, GOOD)
            assert response.status == 503 and "predictions" not in response.json
        errors = [line for line in log_lines(server.output()) if line.get("message") == LOAD_FAILED_MESSAGE]
        assert len(errors) == 2 and all(line["severity"] == "ERROR" for line in errors)
        assert all(line["error_type"] == "IntegrityError" and name in line["error"] for line in errors)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"MODEL_URL": "gs://b/models/v1/best_tf_model.keras", "PREP_URL": "gs://b/models/v1/prep.joblib"}, "Keras"),
        ({"MODEL_URL": "gs://b/models/v1/model.tflite", "PREP_URL": "gs://b/models/v2/prep.joblib"}, "same version"),
        ({"MODEL_URL": "gs://b/models/v1/model.tflite"}, "PREP_URL is not"),
        ({"MODEL_URL": "gs://b/models/v1/other.tflite", "PREP_URL": "gs://b/models/v1/prep.joblib"}, "must name"),
    ],
)
def test_misconfigured_urls_are_refused_with_a_clear_message(monkeypatch, env, says):
    monkeypatch.delenv("PREP_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=says):
        artifact_urls()
