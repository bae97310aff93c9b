"""Promotion: which model version main declares, reviewed like code and deployed without training.

``models/PROMOTED`` names one version; that version's folder ``models/<version>/`` is committed
beside it (``make promote`` stages both with ``git add -f``; the rest of ``models/`` stays ignored).
A version is promoted only when its files match its manifest, its test metrics pass the quality
gate of ``training.release.gate``, and this commit's function can serve it (its files load and score
as they will in the function). The deploy workflow runs ``--check`` to learn the declared version
(or to vet a rollback version) before it touches the cloud.

    python -m training.release.promote [VERSION] [--models-dir DIR]          # promote (default: models/LATEST)
    python -m training.release.promote --check [VERSION] [--models-dir DIR]  # vet (default: models/PROMOTED)

Both print ``MODEL_VERSION=...`` and ``MODEL_MANIFEST_SHA256=...`` (the sha256 of the version's manifest as committed:
the deploy pins the function to it) on stdout, ready for ``$GITHUB_OUTPUT``; errors go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import (
    LATEST_POINTER,
    MANIFEST_FILE,
    MODELS_PREFIX,
    PROMOTED_POINTER,
    NotDeclared,
    declared_version,
    sha256_hex,
)
from default_risk.contract.fields import probe_rows
from default_risk.model.preprocessing import UnsupportedPreprocessor
from default_risk.model.version import served_version
from training.release.gate import gate_refusal
from training.release.publish import PublishError, read_version_files, resolve_version_dir


class PromotionError(ValueError):
    """The version cannot be promoted or deployed; the message says why."""


def vet_version(models_dir: Path, version: str | None) -> str:
    """Check that ``version`` (default: the one LATEST names) is complete, intact, passes the gate and
    can be served by this commit's function."""
    if version is not None and (not version or Path(version).name != version or version.startswith(".")):
        raise PromotionError(f"{version!r} is not a version name (a folder name under {models_dir})")
    try:
        manifest, files = read_version_files(resolve_version_dir(models_dir, version))
    except PublishError as error:
        raise PromotionError(str(error)) from error
    refusal = gate_refusal(manifest)
    if refusal:
        raise PromotionError(refusal)
    check_servable(manifest, files)
    return manifest["version"]


def check_servable(manifest: dict, files: dict[str, bytes]) -> None:
    """Load the version's files as the function does and score rows spanning the contract."""
    version = manifest["version"]
    try:
        probabilities = served_version(manifest, files).scorer.probabilities(probe_rows())
    except (UnsupportedPreprocessor, ValueError, KeyError) as error:
        raise PromotionError(f"version {version} cannot be served by this function: {error}") from error
    if not np.all((probabilities >= 0) & (probabilities <= 1)):
        raise PromotionError(f"version {version} cannot be served by this function: it scores outside [0, 1]")


def promote(models_dir: Path, version: str | None = None) -> str:
    """Vet ``version`` (default: the newest, ``LATEST``) and point ``PROMOTED`` at it; return the version."""
    version = vet_version(models_dir, version)
    (models_dir / PROMOTED_POINTER).write_text(version + "\n")
    return version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.release.promote", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "version",
        nargs="?",
        help=f"version folder name (default: {LATEST_POINTER} when promoting, {PROMOTED_POINTER} with --check)",
    )
    parser.add_argument("--models-dir", type=Path, default=Path(MODELS_PREFIX), help="local models folder")
    parser.add_argument("--check", action="store_true", help="only vet the version; change nothing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            version = vet_version(args.models_dir, args.version or declared_version(args.models_dir))
        else:
            version = promote(args.models_dir, args.version)
            print(f"promoted {version}: {args.models_dir / PROMOTED_POINTER} names it", file=sys.stderr)
    except (PromotionError, NotDeclared) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"MODEL_VERSION={version}")
    print(f"MODEL_MANIFEST_SHA256={sha256_hex((args.models_dir / version / MANIFEST_FILE).read_bytes())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
