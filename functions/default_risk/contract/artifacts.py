"""What one model version is made of, and how its integrity is checked.

A version is a folder holding the files below plus ``manifest.json``. Its name is derived from everything
that decides its answers: the bytes of the files the function serves and the manifest's ``serving`` section
(the feature set, the risk bands, the explanation reference, the stability reference). So the same model
always gets the same version, publishing it twice uploads nothing, and a changed file or section, even
with a manifest recomputed to match it, no longer matches the version's name (the function checks it
against the folder it loads from). Names carry 128 bits of the hash: a collision cannot be searched for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.model_inputs import FEATURE_SETS

KERAS_FILE = "best_tf_model.keras"
MODEL_FILE = "model.tflite"
PREP_FILE = "prep.joblib"
MANIFEST_FILE = "manifest.json"

SERVED_FILES: tuple[str, ...] = (MODEL_FILE, PREP_FILE)
"""The files the function loads; the version is derived from these and the ``serving`` section."""
VERSION_FILES: tuple[str, ...] = (MODEL_FILE, PREP_FILE, KERAS_FILE)
"""Every file of a version besides the manifest."""
SERVING_KEY = "serving"
"""The manifest section the function reads (and the version's name covers)."""

MODELS_PREFIX = "models"
"""Folder (locally) and object prefix (in the bucket) under which versions live."""
LATEST_POINTER = "LATEST"
"""A text file in the local models folder naming the newest version."""
PROMOTED_POINTER = "PROMOTED"
"""A text file in the models folder naming the version main declares; committed beside that version's folder."""

MANIFEST_SCHEMA_VERSION = 2
VERSION_HEX_DIGITS = 32
"""128 bits of sha256 in a version's name."""


class IntegrityError(ValueError):
    """An artifact does not match its manifest, or the manifest is malformed."""


class NotDeclared(ValueError):
    """The models folder declares no promoted version."""


def declared_version(models_dir: Path) -> str:
    """The version ``models_dir/PROMOTED`` names; NotDeclared when there is none."""
    pointer = models_dir / PROMOTED_POINTER
    if not pointer.is_file():
        raise NotDeclared(f"{pointer} does not exist: no version is promoted yet (run `make promote`)")
    version = pointer.read_text().strip()
    if not version:
        raise NotDeclared(f"{pointer} is empty: it must name a version folder under {models_dir}")
    return version


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: object) -> bytes:
    """The one byte form of a JSON value that hashes are taken over (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def version_from_hashes(file_sha256: Mapping[str, str], serving: Mapping) -> str:
    """The version name: 128 bits of a hash over the served files' hashes and the ``serving`` section."""
    digest = hashlib.sha256()
    for name in SERVED_FILES:
        digest.update(f"{name}:{file_sha256[name]}\n".encode())
    digest.update(f"{SERVING_KEY}:{sha256_hex(canonical_json(serving))}\n".encode())
    return "v" + digest.hexdigest()[:VERSION_HEX_DIGITS]


def parse_manifest(raw: bytes) -> dict:
    """Decode a manifest and check that it is self-consistent and servable by this code; IntegrityError if not."""
    try:
        manifest = json.loads(raw)
        hashes = {name: manifest["files"][name]["sha256"] for name in SERVED_FILES}
        version, serving = manifest["version"], manifest[SERVING_KEY]
        expected = version_from_hashes(hashes, serving)
    except (ValueError, KeyError, TypeError) as error:
        raise IntegrityError(f"{MANIFEST_FILE} is malformed: {error!r}") from error
    if manifest.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise IntegrityError(
            f"{MANIFEST_FILE} has schema_version {manifest.get('schema_version')!r}, expected {MANIFEST_SCHEMA_VERSION}"
        )
    if expected != version:
        raise IntegrityError(
            f"{MANIFEST_FILE} names version {version!r} but its files and serving section give {expected!r}"
        )
    if serving.get("feature_order") != list(FEATURE_NAMES):
        raise IntegrityError(
            f"version {version} was trained on features {serving.get('feature_order')!r}; this code validates "
            f"requests against {list(FEATURE_NAMES)!r} (ship the model and the contract together)"
        )
    feature_set = serving.get("feature_set")
    if feature_set not in FEATURE_SETS or serving.get("model_inputs") != list(FEATURE_SETS[feature_set]):
        raise IntegrityError(
            f"version {version} takes the model inputs {serving.get('model_inputs')!r} (feature set "
            f"{feature_set!r}); this code computes {', '.join(FEATURE_SETS)} otherwise"
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
