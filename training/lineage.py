"""Lineage: what made a version, recorded in its manifest so that anyone can rebuild it (``make reproduce``).

A version's manifest names the git commit of the code that trained it, whether the working tree had changes
that commit does not hold (such a version is marked and can never be promoted: nobody could rebuild it), the
command and the whole training configuration, and the settings that make training bit-reproducible
(``DETERMINISM``). The data's sha256 and the library versions sit beside it in the manifest.

What TensorFlow guarantees: with the same seeds, the same program gives the same bits on the same hardware and
software (``enable_op_determinism`` extends that to the ops that are not deterministic by default, none of which
a dense network on a CPU uses); it promises nothing across CPU types, instruction sets or thread counts: oneDNN
picks its kernels at run time by instruction set, and work is split by thread count. So the thread counts are
fixed (``training.DETERMINISM``) and the machine's CPU is recorded: a rebuild is expected to be byte-identical on
the same kind of machine. Measured: the same commit gave the same version on two machines of this kind, and
oneDNN turned off cost 40% more training time (154 s against 108 s) for no gain here.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from training import DETERMINISM
from training.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent

IGNORED_CHANGES = ("models/", "reports/", "mlruns/", "mlflow.db")
"""Training outputs: not code, so a change there does not make the tree dirty."""


def git(*args: str) -> str | None:
    """``git args`` in the project's folder, or None when git or the repository is not there."""
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def code_state() -> dict:
    """The commit checked out and the files the working tree changes against it (outputs of training aside)."""
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "clean": False, "changed_files": ["(not a git checkout: the code is unknown)"]}
    status = git("status", "--porcelain", "--untracked-files=all") or ""
    paths = (line[3:].split(" -> ")[-1] for line in status.splitlines())
    changed = sorted(path for path in paths if not path.startswith(IGNORED_CHANGES))
    return {"commit": commit, "clean": not changed, "changed_files": changed}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.system(), "architecture": platform.machine()}


def lineage(config: TrainConfig, argv: list[str]) -> dict:
    """The manifest's ``lineage`` section for a training run of ``config`` started by ``argv``."""
    return {
        "code": code_state(),
        "command": " ".join(["python -m training.train", *argv]),
        "arguments": list(argv),
        "config": config_as_dict(config),
        "determinism": {name: os.environ.get(name) for name in DETERMINISM},
        "machine": machine(),
        "python": sys.version.split()[0],
    }


def config_as_dict(config: TrainConfig) -> dict:
    """The configuration as JSON data (paths as strings, tuples as lists)."""
    return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(config).items()}


def config_from_dict(recorded: dict) -> TrainConfig:
    """The configuration a manifest records, as a ``TrainConfig`` (the inverse of ``config_as_dict``)."""
    defaults = asdict(TrainConfig())
    unknown = sorted(set(recorded) - set(defaults))
    if unknown:
        raise ValueError(f"the recorded configuration has settings this code does not know: {unknown}")
    values = {}
    for key, value in recorded.items():
        default = defaults[key]
        if isinstance(default, Path):
            values[key] = Path(value)
        elif key == "sizes":
            values[key] = tuple(tuple(size) for size in value)
        elif isinstance(default, tuple):
            values[key] = tuple(value)
        else:
            values[key] = value
    return TrainConfig(**values)
