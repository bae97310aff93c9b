"""A model version as the function serves it, read from its folder and verified before anything of it is used.

``read_version`` is the one way a version's bytes become a ``ServedVersion``: the function's model store
(from Cloud Storage or a local folder), the release tools and training's own proofs all go through it.
The manifest is checked (against a pinned sha256 when one is given), the folder must be named by the
version its content gives, and every served file must match its sha256 before it is unpickled or run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import (
    MANIFEST_FILE,
    MODEL_FILE,
    PREP_FILE,
    SERVED_FILES,
    SERVING_KEY,
    IntegrityError,
    parse_manifest,
    sha256_hex,
    verify_file,
)
from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.model_inputs import FEATURE_REVISIONS, FEATURE_SETS, computes_as_recorded
from default_risk.contract.points import ScoreScale
from default_risk.contract.recourse import ACTIONABLE_FIELDS
from default_risk.model.explainer import Explainer
from default_risk.model.preprocessing import load_preprocessor
from default_risk.model.recourse import RecourseSearch
from default_risk.model.scorer import Scorer

Fetch = Callable[[str], bytes]
"""Reads one object or file by its full URL or path."""


@dataclass(frozen=True)
class ServedVersion:
    version: str
    manifest: dict
    manifest_sha256: str
    """The sha256 of the manifest's bytes: what a decision record names, and what the deploy pins."""
    scorer: Scorer
    score_edges: np.ndarray
    """The risk bands' inner edges (``contract.bands``)."""
    scale: ScoreScale
    """The points scale the version records (``contract.points``)."""
    explainer: Explainer
    recourse: RecourseSearch


def training_range(serving: dict, field: str) -> tuple[float, float]:
    """The lowest and highest training value of a model field: its stability reference's outer edges."""
    edges = serving["stability"]["inputs"][field]["edges"]
    return float(edges[0]), float(edges[-1])


def served_version(manifest: dict, files: dict[str, bytes]) -> ServedVersion:
    """A version from its parsed manifest and the bytes of its manifest and served files (already verified)."""
    serving = manifest[SERVING_KEY]
    feature_set, revision = serving["feature_set"], serving.get("feature_revision")
    if revision not in FEATURE_REVISIONS[feature_set]:
        raise IntegrityError(
            f"version {manifest['version']} was trained on revision {revision!r} of {feature_set}; this code keeps "
            f"revisions {list(FEATURE_REVISIONS[feature_set])}"
        )
    if "score_scale" not in serving:
        raise IntegrityError(f"version {manifest['version']} records no score scale (trained before points)")
    if not computes_as_recorded(feature_set, serving.get("model_inputs_probe_sums", [])):
        raise IntegrityError(
            f"version {manifest['version']} was trained on features this code computes otherwise "
            f"({feature_set}: the probe sums differ); serve it with the code it was trained with"
        )
    preprocessor = load_preprocessor(files[PREP_FILE], len(FEATURE_SETS[feature_set]))
    scorer = Scorer(files[MODEL_FILE], preprocessor, feature_set)
    bands = serving["bands"]
    edges = np.asarray(bands["edges"], dtype=np.float64)
    if bands["labels"] != list(BAND_LABELS) or len(edges) != len(BAND_LABELS) - 1 or np.any(np.diff(edges) <= 0):
        raise IntegrityError(f"version {manifest['version']} has bands this code does not serve: {bands['labels']}")
    scale = ScoreScale.from_dict(serving["score_scale"])
    explainer = Explainer(scorer, serving["explanation"])
    ranges = {field: training_range(serving, field) for field in ACTIONABLE_FIELDS}
    recourse = RecourseSearch(scorer, edges, scale, ranges)
    manifest_sha256 = sha256_hex(files[MANIFEST_FILE])
    return ServedVersion(manifest["version"], manifest, manifest_sha256, scorer, edges, scale, explainer, recourse)


def read_version(fetch: Fetch, folder: str, pinned_manifest_sha256: str | None = None) -> ServedVersion:
    """The version in ``folder`` (a ``gs://`` URL or a local path); IntegrityError when anything does not match."""
    folder = folder.rstrip("/")
    raw = fetch(f"{folder}/{MANIFEST_FILE}")
    if pinned_manifest_sha256 and sha256_hex(raw) != pinned_manifest_sha256.lower():
        raise IntegrityError(
            f"{folder}/{MANIFEST_FILE} has sha256 {sha256_hex(raw)[:12]}..., the deploy pinned "
            f"{pinned_manifest_sha256[:12]}...: it is not the manifest the repository promoted"
        )
    manifest = parse_manifest(raw)
    name = folder.rsplit("/", 1)[-1]
    if manifest["version"] != name:
        raise IntegrityError(f"folder {name} holds version {manifest['version']}: a version lives in its own name")
    files = {MANIFEST_FILE: raw}
    for file_name in SERVED_FILES:
        files[file_name] = fetch(f"{folder}/{file_name}")
        verify_file(manifest, file_name, files[file_name])  # before unpickling, which admits known classes only
    return served_version(manifest, files)


def read_local_version(folder: Path) -> ServedVersion:
    return read_version(lambda path: Path(path).read_bytes(), str(folder))
