"""The code this wave is measured against, ``BASELINE_COMMIT`` with its own promoted model, and this checkout's promoted
version.

``make bench`` and ``make reliability`` extract its ``functions/`` folder and model version from git and serve them
beside this checkout's, the same way (functions-framework, 8 threads, the deploy's process settings).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from default_risk.contract.artifacts import MODEL_FILE, MODELS_PREFIX, PREP_FILE, declared_version
from tests.support.local_cloud import PROCESS_ENV, ROOT, Server, functions_framework

BASELINE_COMMIT = "c16feec"
"""The last commit before the layers, decision records and points (its model: ``BASELINE_VERSION``)."""
BASELINE_VERSION = "vc533fb9fe0dc8c5f7644e46230f00089"


def baseline_tree(scratch: Path) -> tuple[Path, Path]:
    """(functions folder, model version folder) of ``BASELINE_COMMIT``, extracted from git into ``scratch``."""
    target = scratch / "baseline"
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", BASELINE_COMMIT, "functions", f"{MODELS_PREFIX}/{BASELINE_VERSION}"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "functions", target / MODELS_PREFIX / BASELINE_VERSION


def promoted_version_dir() -> Path:
    """This checkout's promoted version folder (``models/PROMOTED``)."""
    return ROOT / MODELS_PREFIX / declared_version(ROOT / MODELS_PREFIX)


def model_urls(version: Path) -> dict[str, str]:
    """``MODEL_URL`` and ``PREP_URL`` of a local version folder."""
    return {"MODEL_URL": str(version / MODEL_FILE), "PREP_URL": str(version / PREP_FILE)}


def baseline_server(functions_dir: Path, env: Mapping[str, str], work_dir: Path, threads: int = 8) -> Server:
    """``BASELINE_COMMIT``'s function (its ``functions_dir``) served as this checkout's is, with ``env``."""

    def command(port: int) -> list[str]:
        return [
            f"--source={functions_dir / 'main.py'}" if arg.startswith("--source=") else arg
            for arg in functions_framework(port)
        ]

    full_env = os.environ | PROCESS_ENV | {"PYTHONUNBUFFERED": "1", "THREADS": str(threads)} | dict(env)
    return Server(command, full_env, work_dir, ready_path="/healthz")
