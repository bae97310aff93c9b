"""The function's dependency lock: complete, hashed, what the tests run on, and what `make lock` produces.

functions/requirements.in holds the direct pins; `make lock` resolves them into functions/requirements.txt with
every transitive dependency and the hashes of its files. The deploy ships that file (`--source=functions`), the
tests' environment is installed from it with --require-hashes (Makefile), and CI audits it (ci.yml).
"""

from __future__ import annotations

import importlib.metadata
import re
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


def direct_pins() -> dict[str, str]:
    pins = {}
    for line in DIRECT.read_text().splitlines():
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


def test_make_lock_reproduces_the_committed_lock(tmp_path: Path) -> None:
    output = tmp_path / "requirements.txt"
    result = subprocess.run(
        ["make", "lock", f"LOCK_OUTPUT={output}"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert output.read_text() == LOCK.read_text(), "functions/requirements.txt is not what `make lock` gives: run it"


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
