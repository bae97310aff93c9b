"""Loading the model: storage outages, tampered artifacts and wrong configuration answer 503, never a score."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import joblib
import pytest

from default_risk.contract.artifacts import (
    MANIFEST_FILE,
    MODEL_FILE,
    MODELS_PREFIX,
    PREP_FILE,
    SERVED_FILES,
    SERVING_KEY,
    version_from_hashes,
)
from default_risk.model import store as model_store
from default_risk.model.store import (
    FETCH_TIMEOUT_ENV,
    LOAD_FAILED_MESSAGE,
    LOADED_MESSAGE,
    MANIFEST_SHA256_ENV,
    RETRY_AFTER_ENV,
    ConfigurationError,
    ModelUnavailable,
    artifact_urls,
)
from default_risk.protocols.openapi import example_record
from tests.support.gcs import BUCKET, publish, storage_client
from tests.support.http import log_lines, post_json, request
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
        server = start_function(env=emulator_env(emulator) | urls | {FETCH_TIMEOUT_ENV: "2", RETRY_AFTER_ENV: "1"})
        down = post_json(server.url, GOOD)
        assert down.status == 503 and int(down.headers["retry-after"]) == 1
        assert down.json["error"]["code"] == "model_unavailable"
        assert_conforms(openapi_document, "/", "POST", down)
        assert LOAD_FAILED_MESSAGE in messages(server)
        remembered = post_json(server.url, GOOD)  # within Retry-After: the same 503, no new load
        assert remembered.status == 503 and messages(server).count(LOAD_FAILED_MESSAGE) == 1
        emulator.start()  # same port and data directory: the objects are still there
        time.sleep(1)  # the failed load's Retry-After: the next request tries again
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
        server = start_function(env=emulator_env(emulator) | urls | {RETRY_AFTER_ENV: "1"})
        for attempt in range(2):  # and the broken state is not served on a retry either
            time.sleep(attempt)  # past the failed load's Retry-After: a new load
            response = post_json(server.url, GOOD)
            assert response.status == 503 and "predictions" not in response.json
        errors = [line for line in log_lines(server.output()) if line.get("message") == LOAD_FAILED_MESSAGE]
        assert len(errors) == 2 and all(line["severity"] == "ERROR" for line in errors)
        assert all(line["error_type"] == "IntegrityError" and name in line["error"] for line in errors)


def scaler_changed(version_dir: Path, keep_name: bool) -> tuple[bytes, bytes]:
    """The insider's attack: a valid ``prep.joblib`` whose scaler is changed, and a manifest recomputed for it
    (naming the version its files now give, or keeping the folder's name)."""
    preprocessor = joblib.load(version_dir / PREP_FILE)
    scaler = preprocessor.named_transformers_["amounts"].named_steps["scale"]
    scaler.mean_ = scaler.mean_ * 0.5
    buffer = io.BytesIO()
    joblib.dump(preprocessor, buffer)
    prep = buffer.getvalue()
    manifest = json.loads((version_dir / MANIFEST_FILE).read_text())
    manifest["files"][PREP_FILE] = {"sha256": hashlib.sha256(prep).hexdigest(), "bytes": len(prep)}
    if not keep_name:
        hashes = {name: manifest["files"][name]["sha256"] for name in SERVED_FILES}
        manifest["version"] = version_from_hashes(hashes, manifest[SERVING_KEY])
    return prep, json.dumps(manifest, indent=2).encode()


@pytest.mark.parametrize(
    ("keep_name", "says"),
    [(False, "a version lives in its own name"), (True, "but its files and serving section give")],
    ids=["manifest recomputed", "manifest keeps the name"],
)
def test_a_changed_scaler_with_a_recomputed_manifest_in_a_version_folder_is_never_served(
    tmp_path, tiny_version_dir, start_function, keep_name, says
):
    """No pin is set (as in local runs): content addressing alone refuses the folder."""
    with storage_emulator(tmp_path / "gcs") as emulator:
        urls = publish(tiny_version_dir, emulator)
        folder = storage_client(emulator).bucket(BUCKET)
        prep, manifest = scaler_changed(tiny_version_dir, keep_name)
        for name, data in ((PREP_FILE, prep), (MANIFEST_FILE, manifest)):
            folder.blob(f"{MODELS_PREFIX}/{tiny_version_dir.name}/{name}").upload_from_string(data)
        server = start_function(env=emulator_env(emulator) | urls)
        response = post_json(server.url, GOOD)
        assert response.status == 503 and response.json["error"]["code"] == "model_unavailable"
        assert request(server.url + "/readyz").status == 503
        errors = [line for line in log_lines(server.output()) if line.get("message") == LOAD_FAILED_MESSAGE]
        assert errors and all(line["severity"] == "ERROR" and says in line["error"] for line in errors)


def test_a_pinned_manifest_is_served_and_any_other_refused(tmp_path, tiny_version_dir, start_function):
    pin = hashlib.sha256((tiny_version_dir / MANIFEST_FILE).read_bytes()).hexdigest()
    with storage_emulator(tmp_path / "gcs") as emulator:
        urls = publish(tiny_version_dir, emulator)
        pinned = start_function(env=emulator_env(emulator) | urls | {MANIFEST_SHA256_ENV: pin.upper()})
        assert post_json(pinned.url, GOOD).status == 200
        loaded = [line for line in log_lines(pinned.output()) if line.get("message") == LOADED_MESSAGE]
        assert loaded[0]["manifest_pinned"] is True
        # The same manifest, reformatted: every check but the pin would pass.
        blob = storage_client(emulator).bucket(BUCKET).blob(f"{MODELS_PREFIX}/{tiny_version_dir.name}/{MANIFEST_FILE}")
        blob.upload_from_string(json.dumps(json.loads(blob.download_as_bytes())).encode())
        server = start_function(env=emulator_env(emulator) | urls | {MANIFEST_SHA256_ENV: pin})
        assert post_json(server.url, GOOD).status == 503
        unpinned = start_function(env=emulator_env(emulator) | urls)
        assert post_json(unpinned.url, GOOD).status == 200
    errors = [line["error"] for line in log_lines(server.output()) if line.get("message") == LOAD_FAILED_MESSAGE]
    assert errors and "not the manifest the repository promoted" in errors[0]


@pytest.mark.parametrize(
    ("env", "says"),
    [({MANIFEST_SHA256_ENV: "abc"}, "64 hexadecimal digits"), ({FETCH_TIMEOUT_ENV: "soon"}, "number of seconds")],
    ids=["short pin", "timeout not a number"],
)
def test_bad_load_settings_answer_503_naming_the_variable(start_function, env, says):
    server = start_function(**env)
    response = post_json(server.url, GOOD)
    assert response.status == 503 and response.json["error"]["code"] == "model_unavailable"
    errors = [line["error"] for line in log_lines(server.output()) if line.get("message") == LOAD_FAILED_MESSAGE]
    assert errors and next(iter(env)) in errors[0] and says in errors[0]


def test_a_request_waits_for_another_requests_load_only_as_long_as_a_load_may_take(monkeypatch):
    monkeypatch.setenv(FETCH_TIMEOUT_ENV, "0.2")
    monkeypatch.setattr(model_store, "LOAD_WORK_SECONDS", 0.3)
    monkeypatch.setattr(model_store, "_model", None)
    with model_store._lock:  # another request's load, stuck
        started = time.monotonic()
        with pytest.raises(ModelUnavailable, match=r"loading the model for over 0\.5 s"):
            model_store.get_model()
    assert 0.5 <= time.monotonic() - started < 2


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


def test_a_local_artifact_that_is_not_a_regular_file_is_refused_at_once(monkeypatch, tmp_path, tiny_version_dir):
    """A FIFO where the model should be would block its reader until something writes to it: never, here."""
    import os
    import shutil
    import threading

    version = tmp_path / MODELS_PREFIX / tiny_version_dir.name
    shutil.copytree(tiny_version_dir, version)
    (version / MODEL_FILE).unlink()
    os.mkfifo(version / MODEL_FILE)
    monkeypatch.setenv("MODEL_URL", str(version / MODEL_FILE))
    monkeypatch.setenv("PREP_URL", str(version / PREP_FILE))
    monkeypatch.setattr(model_store, "_model", None)
    monkeypatch.setattr(model_store, "_failure", None)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            model_store.get_model()
        except ModelUnavailable as error:
            outcome.append(error)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(timeout=60)  # only a hang reaches this bound; the refusal comes in milliseconds
    assert not loader.is_alive(), "the load is blocked on the FIFO"
    assert outcome and "is not a regular file" in str(outcome[0])
