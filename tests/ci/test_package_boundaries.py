"""The layout's promises: the release tools and the function import no training library, and no code edits
the import path (every package is imported by its name)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support.local_cloud import ROOT

TRAINING_LIBRARIES = ("tensorflow", "keras", "sklearn", "scipy", "pandas", "joblib", "mlflow", "matplotlib", "xlrd")

_IMPORTED = """
import importlib, json, sys
from functions_framework import _function_registry
for module in sys.argv[1:]:
    if module.endswith(".py"):  # the function's source, loaded as functions-framework loads --source
        source_module, spec = _function_registry.load_function_module(module)
        spec.loader.exec_module(source_module)
    else:
        importlib.import_module(module)
tops = {name.split(".")[0] for name in sys.modules}
print(json.dumps(sorted(tops | {name for name in sys.modules if name.startswith("training")})))
"""


def imported_by(*modules: str) -> set[str]:
    """Top-level modules (and ``training.*`` modules) loaded by importing ``modules`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *modules], cwd=ROOT.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "modules",
    [
        (
            "training.release.publish",
            "training.release.promote",
            "training.release.gate",
            "training.release.smoke_test",
        ),
        (str(ROOT / "functions" / "main.py"),),
    ],
    ids=["release tools", "function"],
)
def test_imports_no_training_library(modules: tuple[str, ...]) -> None:
    loaded = imported_by(*modules)
    assert "default_risk" in loaded
    assert not loaded & set(TRAINING_LIBRARIES), f"imports {sorted(loaded & set(TRAINING_LIBRARIES))}"
    allowed = {"training", "training.config", "training.release"}  # training.config: the gate's figures, read once
    assert {name for name in loaded if name.startswith("training")} <= allowed | {
        name for name in loaded if name.startswith("training.release.")
    }


_PATH_EDIT = re.compile(r"sys\.path\.(insert|append|extend)|PYTHONPATH|site\.addsitedir")


def test_no_code_edits_the_import_path() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    checked = [
        ROOT / name
        for name in tracked.splitlines()
        if name.endswith((".py", ".yml", ".toml", ".cfg")) or name in ("Makefile", ".ci/run")
    ]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in checked
        if path.is_file() and path != ROOT / "tests/ci/test_package_boundaries.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if _PATH_EDIT.search(line)
    ]
    assert not offenders, "the import path is edited:\n" + "\n".join(offenders)
