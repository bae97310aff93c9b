"""Rebuild a version from its lineage and say whether it is byte-identical: ``make reproduce [VERSION=...]``.

``python -m training.reproduce [VERSION] [--models-dir DIR]`` (default: the promoted version) reads the version's
manifest, trains again with the configuration it records (on the same data: its sha256 must match) into a scratch
folder, and compares the two versions: the version names (which cover the served files and the serving section),
every file, every figure of the manifest and, when they differ, the largest |Δp| over the test set.

Exit status: 0 byte-identical; 1 rebuilt but different (what differs is printed); 3 it cannot be rebuilt here (no
lineage, other data, no such version).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import (
    KERAS_FILE,
    MANIFEST_FILE,
    MODELS_PREFIX,
    VERSION_FILES,
    declared_version,
    sha256_hex,
)
from default_risk.model.version import read_local_version
from training import pipeline
from training.export import canonical_keras
from training.lineage import code_state, config_from_dict, git
from training.train import run_training

IDENTICAL, DIFFERENT, CANNOT = 0, 1, 3
RUN_SPECIFIC = ("created_at", "mlflow", "lineage", "files")
"""Manifest sections that name the run, not the model: compared apart (files) or not at all."""
MACHINE_SPECIFIC = ("data.source",)
"""Figures that name where this machine keeps the data (its sha256 is compared, and must match)."""
CODE_PATHS = ("functions/", "training/", "pyproject.toml", "requirements-dev.txt")
"""What decides a training run's result, for telling whether this checkout holds the recorded commit's code."""


class CannotReproduce(Exception):
    """The version cannot be rebuilt here; the message says why."""


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    """``{"a.b.c": leaf}`` for every leaf of nested dicts (lists are leaves)."""
    if not isinstance(value, dict):
        return {prefix: value}
    found = {}
    for key, inner in value.items():
        found |= flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    return found


def differing_figures(recorded: dict, rebuilt: dict) -> list[str]:
    """One line per figure of the manifests (run-specific sections aside) that is not the same in both."""
    before = flatten({k: v for k, v in recorded.items() if k not in RUN_SPECIFIC})
    after = flatten({k: v for k, v in rebuilt.items() if k not in RUN_SPECIFIC})
    return [
        f"{key}: {before.get(key, '(absent)')!r} -> {after.get(key, '(absent)')!r}"
        for key in sorted(before.keys() | after.keys())
        if key != "version" and key not in MACHINE_SPECIFIC and before.get(key) != after.get(key)
    ]


def differing_files(recorded_dir: Path, rebuilt_dir: Path) -> tuple[list[str], list[str]]:
    """(files that differ, files equal only once made canonical): a Keras file saved before ``canonical_keras``
    existed holds the saving process's object ids, which no rebuild can give again."""
    differing, canonical_only = [], []
    for name in VERSION_FILES:
        before, after = (folder.joinpath(name).read_bytes() for folder in (recorded_dir, rebuilt_dir))
        if before == after:
            continue
        if name == KERAS_FILE and canonical_keras(before) == canonical_keras(after):
            canonical_only.append(name)
        else:
            differing.append(f"{name}: sha256 {sha256_hex(before)[:12]}... -> {sha256_hex(after)[:12]}...")
    return differing, canonical_only


def largest_probability_difference(recorded_dir: Path, rebuilt_dir: Path, config) -> float:
    """max |p_recorded - p_rebuilt| over the test set of ``config``'s split."""
    _, split = pipeline.load_data(config, lambda line: None)
    before = read_local_version(recorded_dir).scorer.probabilities(split.x_test)
    after = read_local_version(rebuilt_dir).scorer.probabilities(split.x_test)
    return float(np.max(np.abs(before - after)))


def reproduce(models_dir: Path, version: str, scratch: Path, log) -> int:
    """Rebuild ``version`` under ``scratch``; print the comparison; the exit status."""
    recorded_dir = models_dir / version
    manifest_path = recorded_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        raise CannotReproduce(f"{manifest_path} does not exist")
    recorded = json.loads(manifest_path.read_text())
    lineage = recorded.get("lineage")
    if not lineage:
        raise CannotReproduce(f"version {version} records no lineage (trained before lineage was recorded)")
    config = replace(
        config_from_dict(lineage["config"]),
        models_dir=scratch / MODELS_PREFIX,
        reports_dir=scratch / "reports",
        tracking_uri=f"sqlite:///{scratch / 'mlflow.db'}",
        artifact_root=scratch / "mlruns",
    )
    commit = lineage["code"]["commit"]
    here = code_state()
    same_code = commit and git("diff", "--quiet", commit, "--", *CODE_PATHS) == "" and here["clean"]
    log(
        f"rebuilding {version} (trained from {commit}) with this checkout ({here['commit']}"
        f"{'' if here['clean'] else ', with uncommitted changes'}): "
        f"{'the same training code' if same_code else 'training code that differs from that commit'}"
    )
    data_info, _ = pipeline.load_data(config, log)
    if data_info["sha256"] != recorded["data"]["sha256"]:
        raise CannotReproduce(
            f"the data here has sha256 {data_info['sha256'][:12]}..., the version was trained on "
            f"{recorded['data']['sha256'][:12]}... (set UCI_CREDIT_DATA to that file)"
        )
    result = run_training(config, log=log, argv=lineage["arguments"])
    files, canonical_only = differing_files(recorded_dir, result.version_dir)
    figures = differing_figures(recorded, result.manifest)
    if result.version == version and not files:
        same = [name for name in VERSION_FILES if name not in canonical_only]
        print(f"{version}: rebuilt byte-identical ({', '.join(same)} and the serving section)")
        for name in canonical_only:
            print(f"  {name}: identical once made canonical (it holds the saving process's object ids, which the "
                  "export writes canonically since)")  # fmt: skip
        for line in figures:
            print(f"  but a figure differs: {line}")
        return IDENTICAL if not figures else DIFFERENT
    print(f"{version}: NOT rebuilt byte-identical; the rebuild is {result.version}")
    for line in files:
        print(f"  file {line}")
    for line in figures:
        print(f"  figure {line}")
    delta = largest_probability_difference(recorded_dir, result.version_dir, config)
    print(f"  largest |Δp| over the {recorded['split']['rows']['test']:,} test rows: {delta:.3e}")
    return DIFFERENT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("version", nargs="?", help="version folder name (default: the one models/PROMOTED names)")
    parser.add_argument("--models-dir", type=Path, default=Path(MODELS_PREFIX))
    args = parser.parse_args(argv)
    try:
        version = args.version or declared_version(args.models_dir)
        with tempfile.TemporaryDirectory(prefix="reproduce-") as scratch:
            return reproduce(args.models_dir, version, Path(scratch), lambda line: print(line, file=sys.stderr))
    except (CannotReproduce, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return CANNOT


if __name__ == "__main__":
    sys.exit(main())
