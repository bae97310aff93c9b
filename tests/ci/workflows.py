"""Reading the GitHub Actions workflows and running their steps' scripts as Actions would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
CI_WORKFLOW = WORKFLOWS_DIR / "ci.yml"
DEPLOY_WORKFLOW = WORKFLOWS_DIR / "deploy.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(path: Path) -> dict:
    """A workflow as data, with its trigger under ``"on"`` (YAML 1.1 reads a bare ``on`` as True)."""
    workflow = yaml.safe_load(path.read_text())
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def all_workflows() -> dict[str, dict]:
    return {path.name: load(path) for path in sorted(WORKFLOWS_DIR.glob("*.y*ml"))}


def steps(workflow: dict) -> list[dict]:
    """Every step of every job."""
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def step(workflow: dict, step_id: str) -> dict:
    matches = [s for s in steps(workflow) if s.get("id") == step_id]
    assert len(matches) == 1, f"expected one step with id {step_id!r}, found {len(matches)}"
    return matches[0]


def run_step(step_: dict, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a step's ``run`` script as ``shell: bash`` does on GitHub (``bash -eo pipefail``).

    The script must read everything through environment variables (no ``${{ }}`` inside it, which
    is also what keeps it safe from injection); ``env`` supplies them, plus GITHUB_OUTPUT.
    """
    script = step_["run"]
    assert not EXPRESSION.search(script), f"step {step_.get('name')!r} interpolates an expression into its script"
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    full_env = {"PATH": path, "HOME": os.environ.get("HOME", str(cwd))} | env
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def github_outputs(path: Path) -> dict[str, str]:
    """The ``name=value`` lines a step appended to its GITHUB_OUTPUT file."""
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
