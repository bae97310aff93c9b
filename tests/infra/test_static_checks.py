"""The offline stand-ins for `terraform validate`: tfcheck (the provider's schema), checkov, terraform fmt."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.terraform import CHECKOV, INFRA, TFCHECK


def tfcheck(folder: Path) -> subprocess.CompletedProcess[str]:
    if not TFCHECK.exists() and os.environ.get("GITHUB_ACTIONS") == "true":
        pytest.skip(
            "the offline schema tool lives beside the clone only here; on GitHub the CI terraform job runs "
            "the real `terraform validate`"
        )
    assert TFCHECK.exists(), f"{TFCHECK} is missing: the shared tools folder must sit beside the clone"
    return subprocess.run([sys.executable, str(TFCHECK), str(folder)], capture_output=True, text=True, timeout=60)


def test_tfcheck_finds_no_schema_problem() -> None:
    result = tfcheck(INFRA)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"tfcheck: \d+ resources checked, 0 problems", result.stdout), result.stdout


def test_tfcheck_reports_an_attribute_the_provider_lacks(tmp_path: Path) -> None:
    for path in INFRA.glob("*.tf"):
        shutil.copy(path, tmp_path)
    storage = tmp_path / "storage.tf"
    storage.write_text(storage.read_text().replace("uniform_bucket_level_access", "uniform_access", 1))
    result = tfcheck(tmp_path)
    assert result.returncode == 1
    assert 'google_storage_bucket.models: unknown attribute "uniform_access"' in result.stdout


def test_checkov_has_no_failed_check_and_every_skip_has_a_reason() -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make .venv-checkov/.installed`"
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(INFRA), "--framework", "terraform", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 0
    print(f"checkov: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason.split()) >= 5, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


def test_every_inline_skip_names_a_check_and_a_reason() -> None:
    lines = [(path.name, line) for path in INFRA.glob("*.tf") for line in path.read_text().splitlines()]
    skips = [(name, line) for name, line in lines if "checkov:skip" in line]
    assert skips, "expected the documented skips"
    for name, line in skips:
        assert re.search(r"checkov:skip=CKV2?_[A-Z]+_\d+:\S.{20,}", line), f"{name}: {line.strip()}"


def test_terraform_files_are_formatted() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        print("NOTICE: terraform is not on PATH; `terraform fmt -check` was not run")
        pytest.skip("terraform is not on PATH (fmt check runs where it is installed)")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(INFRA)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"not formatted (run `terraform fmt -recursive infra`): {result.stdout}"
