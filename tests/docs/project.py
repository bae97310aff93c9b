"""What the project really has, read from its sources, for checking what the docs say about it.

Make targets and variables from the Makefile, environment variables from the code that reads them,
Terraform variables and outputs from infra/, flags from our CLIs' own ``--help``, gcloud commands and
flags from the installed Cloud SDK's command tree, workflow inputs from .github/workflows/.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from tests.ci.test_workflow_contract import module_string_constants
from tests.ci.workflows import WORKFLOWS_DIR, load
from tests.docs.shell import ROOT
from tests.infra.terraform import named_blocks

MAKEFILE = ROOT / "Makefile"
VENV_BIN = Path(sys.executable).parent
ENV_READING_CODE = ("functions", "training")
"""Folders whose modules read the environment variables a user sets (the function, training, the deploy scripts)."""
LIBRARY_ENV = {
    "STORAGE_EMULATOR_HOST": "google-cloud-storage sends every request there (the local stand-in of GCS)",
    "GOOGLE_APPLICATION_CREDENTIALS": "Google's client libraries read credentials from that file",
    "PYTHONUNBUFFERED": "Python itself: stdout unbuffered, so each log line shows at once",
}
"""Environment variables our code leaves to a library or to Python, with what reads them."""
SHELL_ENV = frozenset({"HOME", "PATH", "PWD", "USER"})


@cache
def make_targets() -> frozenset[str]:
    return frozenset(re.findall(r"^([a-z][\w-]*):(?!=)", MAKEFILE.read_text(), re.MULTILINE))


@cache
def make_variables() -> frozenset[str]:
    """Variables the Makefile assigns or expands (``make NAME=value`` sets them)."""
    text = MAKEFILE.read_text()
    assigned = re.findall(r"^(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*[?:+]?=", text, re.MULTILINE)
    expanded = re.findall(r"\$\$?[({]([A-Z_][A-Z0-9_]*)", text)
    return frozenset(assigned) | frozenset(expanded)


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


@cache
def env_vars_read() -> dict[str, str]:
    """Every environment variable the code in ENV_READING_CODE reads -> the file that reads it.

    Finds ``os.environ.get(X, ...)``, ``os.getenv(X, ...)`` and ``os.environ[X]`` where ``X`` is a string
    literal or a module-level string constant of a scanned module.
    """
    paths = sorted(path for folder in ENV_READING_CODE for path in (ROOT / folder).rglob("*.py"))
    trees = {path: ast.parse(path.read_text()) for path in paths}
    constants = {name: value for tree in trees.values() for name, value in module_string_constants(tree).items()}

    def name_of(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return constants.get(node.id) if isinstance(node, ast.Name) else None

    found: dict[str, str] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                owner = node.func.value
                if node.func.attr in ("get", "getenv") and (
                    _is_environ(owner) or (isinstance(owner, ast.Name) and owner.id == "os")
                ):
                    name = name_of(node.args[0])
            elif isinstance(node, ast.Subscript) and _is_environ(node.value):
                name = name_of(node.slice)
            if name:
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


@cache
def terraform_variables() -> frozenset[str]:
    return frozenset(named_blocks("variable"))


@cache
def required_terraform_variables() -> frozenset[str]:
    """The variables without a default: an apply must be given each."""
    return frozenset(name for name, body in named_blocks("variable").items() if "default" not in body)


@cache
def terraform_outputs() -> frozenset[str]:
    return frozenset(named_blocks("output"))


FLAG = re.compile(r"(?<![\w-])(-{1,2}[A-Za-z][\w-]*)")


@cache
def help_flags(*command: str) -> frozenset[str]:
    """The flags a program's ``--help`` names (our argparse CLIs, functions-framework, pytest, ...)."""
    result = subprocess.run([*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(command)} --help failed: {result.stderr[-2000:]}"
    return frozenset(FLAG.findall(result.stdout))


def module_exists(module: str) -> bool:
    """Whether ``python -m module`` finds it (the project's packages are installed in the venv)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def module_uses_argparse(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.origin is not None and "argparse" in Path(spec.origin).read_text()


def venv_program(program: str) -> Path | None:
    """``program`` when it is an executable of the project's virtual environment (functions-framework, ...)."""
    path = VENV_BIN / Path(program).name
    return path if path.is_file() and os.access(path, os.X_OK) else None


@cache
def gcloud_tree() -> dict | None:
    """The installed Cloud SDK's static command tree (commands and flags), or None without gcloud."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    sdk = Path(gcloud).resolve().parent.parent
    source = sdk / "data" / "cli" / "gcloud_completions.py"
    if not source.is_file():
        return None
    namespace: dict = {}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # a module holding one dict literal
    return namespace["STATIC_COMPLETION_CLI_TREE"]


@cache
def gcloud_parses(command: tuple[str, ...], flag: str) -> bool:
    """Whether gcloud accepts ``flag`` on ``command`` (``("functions", "describe")``): for hidden flags, which the
    static tree leaves out. Runs gcloud with an empty configuration, so it stops at "no active account" before
    any request is made; an unknown flag stops it earlier with "unrecognized arguments"."""
    with tempfile.TemporaryDirectory() as config:
        result = subprocess.run(
            ["gcloud", *command, "name", flag, "--project=docs-check", "--quiet"],
            env=os.environ | {"CLOUDSDK_CONFIG": config, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return "unrecognized arguments" not in result.stderr


BQ_FLAG = re.compile(r"^\s+(?:-\w,)?--(?:\[no\])?([\w-]+):", re.MULTILINE)


def _bq_help(*arguments: str) -> str:
    with tempfile.TemporaryDirectory() as config:
        return subprocess.run(
            ["bq", *arguments],
            env=os.environ | {"CLOUDSDK_CONFIG": config},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout


@cache
def bq_commands() -> frozenset[str] | None:
    """The installed ``bq``'s commands (from ``bq help``), or None without bq."""
    if shutil.which("bq") is None:
        return None
    listing = _bq_help("help").split("Any of the following commands:", 1)[1].split("\n\n", 1)[0]
    joined = re.sub(r"-\n\s*", "-", listing)
    return frozenset(name.strip() for name in joined.replace("\n", " ").split(",") if name.strip())


@cache
def bq_flags(command: str) -> frozenset[str]:
    """The flags ``bq command`` takes: its own (``bq help command``) and the global ones (``bq --helpfull``)."""
    own = _bq_help("help", command).split(f"\n{command} ", 1)[-1]
    return frozenset(BQ_FLAG.findall(own)) | frozenset(BQ_FLAG.findall(_bq_help("--helpfull")))


@cache
def workflow_inputs(workflow_file: str) -> frozenset[str]:
    """The ``workflow_dispatch`` inputs of ``.github/workflows/<workflow_file>``."""
    dispatch = load(WORKFLOWS_DIR / workflow_file)["on"].get("workflow_dispatch") or {}
    return frozenset((dispatch.get("inputs") or {}).keys())


@cache
def function_paths() -> tuple[frozenset[str], str]:
    """The function's exact routes and the prefix of its docs assets."""
    from default_risk.protocols import docs_page
    from default_risk.protocols import http as app

    return frozenset(app.ROUTES), docs_page.DOCS_PATH + "/"
