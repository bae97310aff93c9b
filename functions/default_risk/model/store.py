"""The served model: loaded on first use, under a lock, once per instance; verified before use.

``MODEL_URL`` and ``PREP_URL`` name ``model.tflite`` and ``prep.joblib`` of one version folder
(``gs://bucket/models/<version>/...`` or a local path); ``manifest.json`` beside them gives every
file's sha256, checked before anything is unpickled or run, and the folder must be named by the
version its files give. ``MODEL_MANIFEST_SHA256`` (the deploy sets it from the repository's copy)
pins the manifest itself: any other is refused, so a writer of the bucket cannot change what is
served. With ``MODEL_URL`` unset, the newest local version (``models/LATEST``) is served.

A load spends at most ``MODEL_FETCH_TIMEOUT_SECONDS`` on Cloud Storage in all, and a request waits
for another's load at most as long as a load may take. A failed load is remembered for its Retry-After
(``MODEL_RETRY_AFTER_SECONDS``, default 5): requests waiting while it failed, and requests in that time, get the
same 503 at once; the first request after it tries again.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from pathlib import Path

from default_risk.contract import telemetry
from default_risk.contract.artifacts import KERAS_FILE, LATEST_POINTER, MODEL_FILE, MODELS_PREFIX, PREP_FILE
from default_risk.contract.settings import seconds_setting
from default_risk.model.version import ServedVersion, read_version

logger = telemetry.logger("model_store")

MODEL_URL_ENV = "MODEL_URL"
PREP_URL_ENV = "PREP_URL"
MANIFEST_SHA256_ENV = "MODEL_MANIFEST_SHA256"
FETCH_TIMEOUT_ENV = "MODEL_FETCH_TIMEOUT_SECONDS"
DEFAULT_FETCH_TIMEOUT = 30.0
"""Seconds one load may spend on Cloud Storage in all (each call and its retries get what is left), so that a
load ends well within the function's request timeout (60 s by default)."""
LOAD_WORK_SECONDS = 10.0
"""Beyond the storage time, what a load may take (verifying, unpickling, building the interpreters: ~1 s)."""
RETRY_AFTER_ENV = "MODEL_RETRY_AFTER_SECONDS"
RETRY_AFTER_SECONDS = 5
LOCAL_MODELS_DIRS = (Path.cwd() / MODELS_PREFIX, Path(__file__).resolve().parents[2] / MODELS_PREFIX)
"""Where the local fallback looks for ``LATEST``: the working directory, then the project root."""

_SHA256 = re.compile(r"[0-9a-f]{64}")

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
    """The served model, loading it if no request has yet; raises ModelUnavailable.

    A failed load is remembered for its ``Retry-After``: meanwhile requests get its 503 at once, without waiting
    for the lock or starting a load; the first request after it tries again. A request waits for another's load at
    most as long as a load may take."""
    global _model
    if _model is not None:
        return _model
    arrived = time.monotonic()
    failure = _failure
    if failure is not None and arrived - failure[0] < failure[1].retry_after:
        raise failure[1]
    wait = _lock_wait()
    if not _lock.acquire(timeout=wait):
        raise ModelUnavailable(f"another request has been loading the model for over {wait:g} s; retry")
    try:
        if _model is None:
            if _failure is not None and _failure[0] >= arrived:  # a load failed while this request waited
                raise _failure[1]
            _model = _logged_load()
        return _model
    finally:
        _lock.release()


def _logged_load() -> ServedVersion:
    global _failure
    started = time.monotonic()
    try:
        model = _load()
    except Exception as error:  # any failure to load means "not servable now"; the cause is logged
        unavailable = ModelUnavailable(f"the model could not be loaded: {error}", _retry_after())
        _failure = (time.monotonic(), unavailable)
        logger.error(
            LOAD_FAILED_MESSAGE, extra={"json_fields": {"error": str(error), "error_type": type(error).__name__}}
        )
        raise unavailable from error
    _failure = None
    fields = {
        "model_version": model.version,
        "load_seconds": round(time.monotonic() - started, 4),
        "manifest_pinned": pinned_manifest_sha256() is not None,
    }
    logger.info(LOADED_MESSAGE, extra={"json_fields": fields})
    return model


def _retry_after() -> int:
    """Seconds a failed load is remembered, and the 503's Retry-After (``MODEL_RETRY_AFTER_SECONDS``, 1 to 300)."""
    raw = os.environ.get(RETRY_AFTER_ENV, "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 300 else RETRY_AFTER_SECONDS


def _lock_wait() -> float:
    try:
        return _fetch_timeout() + LOAD_WORK_SECONDS
    except ConfigurationError:  # the load itself reports it (model_load_failed)
        return DEFAULT_FETCH_TIMEOUT + LOAD_WORK_SECONDS


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


def pinned_manifest_sha256() -> str | None:
    """``MODEL_MANIFEST_SHA256``, when set: the sha256 the served manifest must have."""
    pinned = os.environ.get(MANIFEST_SHA256_ENV, "").strip().lower()
    if pinned and not _SHA256.fullmatch(pinned):
        raise ConfigurationError(f"{MANIFEST_SHA256_ENV} must be 64 hexadecimal digits, got {pinned[:80]!r}")
    return pinned or None


def _load() -> ServedVersion:
    model_url, _ = artifact_urls()
    pinned = pinned_manifest_sha256()
    fetch = gcs_reader() if model_url.startswith("gs://") else _read_local
    return read_version(fetch, _split(model_url)[0], pinned)


def _read_local(path: str) -> bytes:
    """A local artifact, which must be a regular file: a FIFO, socket or device could keep the load (and the lock)
    waiting for good, so it is refused before any read (opened without blocking, then checked)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as artifact:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ConfigurationError(f"{path} is not a regular file")
        return artifact.read()


_storage_client = None


def _fetch_timeout() -> float:
    try:
        return seconds_setting(FETCH_TIMEOUT_ENV, os.environ.get(FETCH_TIMEOUT_ENV, ""), DEFAULT_FETCH_TIMEOUT)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


def gcs_reader():
    """A function reading ``gs://`` URLs within one load's storage time (the client is made once, on first use)."""
    global _storage_client
    from google.cloud import storage
    from google.cloud.storage.retry import DEFAULT_RETRY

    budget = _fetch_timeout()
    deadline = time.monotonic() + budget
    if _storage_client is None:
        _storage_client = storage.Client()

    def fetch(url: str) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the load spent its {budget:g} s of Cloud Storage time before reading {url}")
        bucket, _, name = url.removeprefix("gs://").partition("/")
        blob = _storage_client.bucket(bucket).blob(name)
        return blob.download_as_bytes(timeout=left, retry=DEFAULT_RETRY.with_timeout(left))

    return fetch
