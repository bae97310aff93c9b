"""The served model: loaded on first use, under a lock, once per instance; verified before use.

``MODEL_URL`` and ``PREP_URL`` name ``model.tflite`` and ``prep.joblib`` of one version folder
(``gs://bucket/models/<version>/...`` or a local path); ``manifest.json`` beside them gives every
file's sha256, checked before anything is unpickled or run. With ``MODEL_URL`` unset, the newest
local version (``models/LATEST``) is served. A failed load is not cached: requests waiting while it
failed get the same 503, and the next request tries again.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from default_risk import telemetry
from default_risk.artifacts import (
    KERAS_FILE,
    LATEST_POINTER,
    MODEL_FILE,
    MODELS_PREFIX,
    PREP_FILE,
)
from default_risk.version import ServedVersion, read_version

logger = telemetry.logger("model_store")

MODEL_URL_ENV = "MODEL_URL"
PREP_URL_ENV = "PREP_URL"
FETCH_TIMEOUT_ENV = "MODEL_FETCH_TIMEOUT_SECONDS"
DEFAULT_FETCH_TIMEOUT = 30.0
"""Seconds a load may spend on Cloud Storage (each call's timeout and its retries' deadline)."""
RETRY_AFTER_SECONDS = 5
LOCAL_MODELS_DIRS = (Path.cwd() / MODELS_PREFIX, Path(__file__).resolve().parents[2] / MODELS_PREFIX)
"""Where the local fallback looks for ``LATEST``: the working directory, then the project root."""

LOADED_MESSAGE = "model_loaded"
LOAD_FAILED_MESSAGE = "model_load_failed"


class ModelUnavailable(Exception):
    """The model cannot be served now; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


class ConfigurationError(ValueError):
    """MODEL_URL / PREP_URL do not name a servable version."""


_lock = threading.Lock()
_model: ServedVersion | None = None
_failure: tuple[float, ModelUnavailable] | None = None


def loaded_model() -> ServedVersion | None:
    """The model if it is loaded; never starts a load (for health checks)."""
    return _model


def get_model() -> ServedVersion:
    """The served model, loading it if no request has yet; raises ModelUnavailable."""
    global _model, _failure
    if _model is not None:
        return _model
    arrived = time.monotonic()
    with _lock:
        if _model is not None:
            return _model
        if _failure is not None and _failure[0] >= arrived:  # a load failed while this request waited
            raise _failure[1]
        started = time.monotonic()
        try:
            model = _load()
        except Exception as error:  # any failure to load means "not servable now"; the cause is logged
            unavailable = ModelUnavailable(f"the model could not be loaded: {error}")
            _failure = (time.monotonic(), unavailable)
            logger.error(
                LOAD_FAILED_MESSAGE, extra={"json_fields": {"error": str(error), "error_type": type(error).__name__}}
            )
            raise unavailable from error
        _model, _failure = model, None
        logger.info(
            LOADED_MESSAGE,
            extra={
                "json_fields": {
                    "model_version": model.version,
                    "load_seconds": round(time.monotonic() - started, 4),
                }
            },
        )
        return model


def artifact_urls() -> tuple[str, str]:
    """(MODEL_URL, PREP_URL) from the environment, or the newest local version's files."""
    model_url, prep_url = os.environ.get(MODEL_URL_ENV), os.environ.get(PREP_URL_ENV)
    if not model_url:
        if prep_url:
            raise ConfigurationError(f"{PREP_URL_ENV} is set but {MODEL_URL_ENV} is not; set both")
        return _latest_local()
    if not prep_url:
        raise ConfigurationError(f"{MODEL_URL_ENV} is set but {PREP_URL_ENV} is not; set both")
    model_folder, model_name = _split(model_url)
    prep_folder, prep_name = _split(prep_url)
    if model_name == KERAS_FILE or model_name.endswith(".keras"):
        raise ConfigurationError(
            f"{MODEL_URL_ENV} names a Keras model ({model_name}); the function runs LiteRT "
            f"without TensorFlow: point it at the version's {MODEL_FILE}"
        )
    if (model_name, prep_name) != (MODEL_FILE, PREP_FILE):
        raise ConfigurationError(
            f"{MODEL_URL_ENV} and {PREP_URL_ENV} must name a version's {MODEL_FILE} and "
            f"{PREP_FILE}, got {model_name} and {prep_name}"
        )
    if model_folder != prep_folder:
        raise ConfigurationError(
            f"{MODEL_URL_ENV} and {PREP_URL_ENV} must be in the same version folder, got "
            f"{model_folder} and {prep_folder}"
        )
    return model_url, prep_url


def _split(url: str) -> tuple[str, str]:
    folder, _, name = url.rstrip("/").rpartition("/")
    return folder, name


def _latest_local() -> tuple[str, str]:
    for models_dir in LOCAL_MODELS_DIRS:
        pointer = models_dir / LATEST_POINTER
        if pointer.is_file():
            folder = models_dir / pointer.read_text().strip()
            return str(folder / MODEL_FILE), str(folder / PREP_FILE)
    raise ConfigurationError(
        f"{MODEL_URL_ENV} is not set and no local {MODELS_PREFIX}/{LATEST_POINTER} exists "
        "(run `make train`, or set MODEL_URL and PREP_URL)"
    )


def _load() -> ServedVersion:
    model_url, _ = artifact_urls()
    fetch = _gcs_fetcher() if model_url.startswith("gs://") else _read_local
    return read_version(fetch, _split(model_url)[0])


def _read_local(path: str) -> bytes:
    return Path(path).read_bytes()


_storage_client = None


def _gcs_fetcher():
    """A function reading ``gs://`` URLs with bounded time (the client is made once, on first use)."""
    global _storage_client
    from google.api_core.retry import Retry
    from google.cloud import storage
    from google.cloud.storage.retry import DEFAULT_RETRY

    timeout = float(os.environ.get(FETCH_TIMEOUT_ENV, DEFAULT_FETCH_TIMEOUT))
    retry: Retry = DEFAULT_RETRY.with_timeout(timeout)
    if _storage_client is None:
        _storage_client = storage.Client()

    def fetch(url: str) -> bytes:
        bucket, _, name = url.removeprefix("gs://").partition("/")
        return _storage_client.bucket(bucket).blob(name).download_as_bytes(timeout=timeout, retry=retry)

    return fetch
