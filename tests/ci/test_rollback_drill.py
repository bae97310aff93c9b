"""The rollback runbook drilled as a platform engineer runs it: its own commands, read from
docs/runbooks/rollback.md, against the stand-in gcloud (tests/support/gcloud_standin.py), the storage emulator and a
real function server.

- the traffic path: lever 2A (all traffic back to the revision that served before) and 2C by hand (abort a canary
  in flight), then the next deploy brings the release again as a canary;
- the model path: lever 2B without GitHub (vet, publish and deploy a retained version), step 3 (the smoke test
  through the function's URL), then back to the promoted version the same way.

Terraform cannot run here: a stand-in answers ``terraform output -raw NAME``, and the outputs the runbook reads are
checked against those infra/outputs.tf declares.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from default_risk.contract.artifacts import MODEL_FILE, MODELS_PREFIX, PREP_FILE, declared_version
from tests.ci.test_canary_release import CANARY, SERVICE, STABLE, Release
from tests.support.gcloud_standin import read_state, service_with, write_state
from tests.support.gcs import storage_client
from tests.support.local_cloud import ROOT, emulator_env, function_server, storage_emulator

RUNBOOK = ROOT / "docs" / "runbooks" / "rollback.md"
PLACEHOLDER = "v0123456789abcdef0123456789abcdef"
"""The version the runbook's commands name; the engineer types the one they roll back to."""
ENGINEER = {"FUNCTION": SERVICE, "PROJECT": "acme-risk-prod", "REGION": "europe-west1"}
"""What the runbook's step 0 has the engineer set."""
PROMOTED = declared_version(ROOT / MODELS_PREFIX)
RETAINED = sorted(path.name for path in (ROOT / MODELS_PREFIX).glob("v*/") if path.name != PROMOTED)
TERRAFORM_OUTPUTS = {
    "model_bucket": "acme-models",
    "decision_records_url": "gs://acme-decisions/decisions",
    "runtime_service_account_email": "default-risk-runtime@acme-risk-prod.iam.gserviceaccount.com",
    "artifact_registry_repository": "projects/acme-risk-prod/locations/europe-west1/repositories/default-risk",
    "function_memory": "512Mi",
    "function_cpu": "1",
    "function_concurrency": "8",
    "function_min_instances": "0",
    "function_max_instances": "10",
    "function_timeout_seconds": "60",
}


def section(heading: str) -> str:
    """The runbook's section that starts with ``## heading``, up to the next one."""
    text = RUNBOOK.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def shell_blocks(heading: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section(heading), re.DOTALL)


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A runbook command as the engineer runs it: bash in the checkout, this Python first on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env | {"PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )


def install_terraform(folder: Path) -> str:
    """A `terraform` that answers ``-chdir=infra output -raw NAME`` as an applied configuration would."""
    folder.mkdir(parents=True)
    cases = "\n".join(f"  {name}) printf %s '{value}' ;;" for name, value in TERRAFORM_OUTPUTS.items())
    script = folder / "terraform"
    script.write_text(
        f'#!/bin/sh\n[ "$1 $2 $3" = "-chdir=infra output -raw" ] || exit 1\ncase "$4" in\n{cases}\n'
        '  *) echo "Error: Output \\"$4\\" not found" >&2; exit 1 ;;\nesac\n'
    )
    script.chmod(0o755)
    return str(folder)


def test_the_terraform_outputs_the_runbook_reads_are_declared() -> None:
    declared = set(re.findall(r'^output "(\w+)"', (ROOT / "infra" / "outputs.tf").read_text(), re.MULTILINE))
    read = set(re.findall(r"output -raw (\w+)", RUNBOOK.read_text(encoding="utf-8")))
    assert read and read <= declared, f"the runbook reads outputs infra/outputs.tf lacks: {sorted(read - declared)}"
    assert read - {"project_id", "region", "function_name", "dashboard_url"} <= set(TERRAFORM_OUTPUTS)


def test_lever_2a_sends_all_traffic_back_and_the_next_deploy_brings_the_release_again(tmp_path: Path) -> None:
    release = Release(tmp_path, service_with(SERVICE, [STABLE], STABLE, labels={"release-id": "f1"}))
    release.start()
    assert release.canary("promote").returncode == 0 and release.split() == {CANARY: 100}

    send_back, check = shell_blocks("2A.")
    sent = run(send_back.replace("PREVIOUS_REVISION", STABLE), release._env() | ENGINEER)
    assert sent.returncode == 0, sent.stderr
    assert release.split() == {STABLE: 100}
    checked = run(check, release._env() | ENGINEER)
    assert checked.returncode == 0 and STABLE in checked.stdout, checked.stderr

    again = release.canary("prepare", "--fingerprint=f2")  # main unchanged: the same release, deployed again
    assert again.stdout.splitlines() == ["deploy=true", "first_release=false", f"stable_revision={STABLE}"]


def test_lever_2c_by_hand_aborts_a_canary_in_flight(tmp_path: Path) -> None:
    release = Release(tmp_path, service_with(SERVICE, [STABLE], STABLE, labels={"release-id": "f1"}))
    release.start()
    assert release.gcloud("run", "services", "update-traffic", SERVICE, f"--to-revisions={CANARY}=10").returncode == 0

    by_hand = re.search(r"the same by hand: `(gcloud run services update-traffic .*?)`", section("2C."), re.DOTALL)
    assert by_hand, "2C gives the command without GitHub"
    aborted = run(" ".join(by_hand[1].split()).replace("STABLE_REVISION", STABLE), release._env() | ENGINEER)
    assert aborted.returncode == 0, aborted.stderr
    assert release.split() == {STABLE: 100} and release.service()["tags"] == {}


def test_lever_2b_without_github_serves_a_retained_version_then_the_promoted_one_again(tmp_path: Path) -> None:
    assert RETAINED, "main keeps a version besides the promoted one, for a model rollback"
    _, vet, by_hand = shell_blocks("2B.")
    (smoke,) = shell_blocks("3. Confirm")[:1]
    release = Release(tmp_path, service_with(SERVICE, [STABLE], STABLE, labels={"release-id": "f1"}))
    with storage_emulator(tmp_path / "gcs") as emulator:
        for bucket in ("acme-models", "acme-decisions"):
            storage_client(emulator).create_bucket(bucket)
        env = release._env() | ENGINEER | emulator_env(emulator)
        env["PATH"] = os.pathsep.join([install_terraform(tmp_path / "terraform"), env["PATH"]])

        for version in (RETAINED[0], PROMOTED):  # the rollback, then back
            vetted = run(vet.replace(PLACEHOLDER, version), env)
            assert vetted.returncode == 0 and vetted.stdout.startswith(f"MODEL_VERSION={version}\n"), vetted.stderr

            deployed = run(by_hand.replace(PLACEHOLDER, version).replace(".venv/bin/python", "python"), env)
            assert deployed.returncode == 0, deployed.stderr
            state = read_state(release.state_file)
            newest = state["services"][SERVICE]["latest_ready"]
            assert release.split() == {newest: 100}  # without a canary, as the runbook says
            settings = dict(
                pair.split("=", 1) for pair in _flag(state["calls"][-1], "--set-env-vars=").split(",")
            )  # fmt: skip
            prefix = f"gs://acme-models/{MODELS_PREFIX}/{version}"
            assert (settings["MODEL_URL"], settings["PREP_URL"]) == (f"{prefix}/{MODEL_FILE}", f"{prefix}/{PREP_FILE}")

            with function_server(emulator_env(emulator) | settings, tmp_path / version) as function:
                state["services"][SERVICE]["uri"] = function.url + "/"
                write_state(release.state_file, state)
                confirmed = run(smoke.replace(PLACEHOLDER, version), env)
            assert confirmed.returncode == 0, confirmed.stderr
            assert f"smoke test passed: model {version} scored the sample record p=0." in confirmed.stdout


def _flag(call: list[str], prefix: str) -> str:
    (value,) = [arg.removeprefix(prefix) for arg in call if arg.startswith(prefix)]
    return value
