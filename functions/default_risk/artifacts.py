"""What one model version is made of, and how its integrity is checked.

A version is a folder holding the files below plus ``manifest.json``. Its name is derived from
the content of the files the function serves, so the same model always gets the same version and
publishing it twice uploads nothing. Training writes versions with these names; publishing
compares these hashes; the function refuses any file whose hash differs from its manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from default_risk.contract import FEATURE_NAMES

KERAS_FILE = "best_tf_model.keras"
MODEL_FILE = "model.tflite"
PREP_FILE = "prep.joblib"
MANIFEST_FILE = "manifest.json"

SERVED_FILES: tuple[str, ...] = (MODEL_FILE, PREP_FILE)
"""The files the function loads; the version is derived from these."""
VERSION_FILES: tuple[str, ...] = (MODEL_FILE, PREP_FILE, KERAS_FILE)
"""Every file of a version besides the manifest."""

MODELS_PREFIX = "models"
"""Folder (locally) and object prefix (in the bucket) under which versions live."""
LATEST_POINTER = "LATEST"
"""A text file in the local models folder naming the newest version."""

MANIFEST_SCHEMA_VERSION = 1


class IntegrityError(ValueError):
    """An artifact does not match its manifest, or the manifest is malformed."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_from_hashes(file_sha256: Mapping[str, str]) -> str:
    """The version name: a short hash over the served files' hashes."""
    digest = hashlib.sha256()
    for name in SERVED_FILES:
        digest.update(f"{name}:{file_sha256[name]}\n".encode())
    return "v" + digest.hexdigest()[:12]


def parse_manifest(raw: bytes) -> dict:
    """Decode a manifest and check that it is self-consistent; raise IntegrityError if not."""
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        hashes = {name: files[name]["sha256"] for name in SERVED_FILES}
        version = manifest["version"]
    except (ValueError, KeyError, TypeError) as error:
        raise IntegrityError(f"{MANIFEST_FILE} is malformed: {error!r}") from error
    if manifest.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise IntegrityError(
            f"{MANIFEST_FILE} has schema_version {manifest.get('schema_version')!r}, expected {MANIFEST_SCHEMA_VERSION}"
        )
    if version_from_hashes(hashes) != version:
        raise IntegrityError(
            f"{MANIFEST_FILE} names version {version!r} but its file hashes give {version_from_hashes(hashes)!r}"
        )
    if manifest.get("feature_order") != list(FEATURE_NAMES):
        raise IntegrityError(
            f"version {version} was trained on features {manifest.get('feature_order')!r}; this code validates "
            f"requests against {list(FEATURE_NAMES)!r} (ship the model and the contract together)"
        )
    return manifest


def verify_file(manifest: dict, name: str, data: bytes) -> None:
    """Raise IntegrityError unless ``data`` is exactly the file the manifest describes."""
    expected = manifest["files"][name]
    if len(data) != expected.get("bytes", len(data)):
        raise IntegrityError(
            f"{name} of version {manifest['version']} has {len(data)} bytes, "
            f"manifest says {expected['bytes']} (truncated or replaced)"
        )
    actual = sha256_hex(data)
    if actual != expected["sha256"]:
        raise IntegrityError(
            f"{name} of version {manifest['version']} has sha256 {actual[:12]}..., "
            f"manifest says {expected['sha256'][:12]}..."
        )
