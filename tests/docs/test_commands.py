"""Every shell command in the README and docs/ names things that exist.

Each ```sh / ```bash / ```console block is split into commands (tests/docs/shell.py), and each command
is checked against the project's own sources (tests/docs/project.py): `make` targets and variables,
`python -m` modules and their flags (from the module's own ``--help``), scripts and file paths, environment
variables (read by our code, set earlier in the same page, or a Terraform ``TF_VAR_``), Terraform
variables and outputs, gcloud commands and flags (the installed Cloud SDK's command tree), the deploy
workflow's inputs, and the function's URL paths.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.docs import project
from tests.docs.shell import ROOT, SUBSTITUTED, Command, commands, documents, referenced_variables, working_directory

PYTHONS = frozenset({"python", "python3", ".venv/bin/python"})
PATH_EXTENSIONS = (".py", ".md", ".tf", ".json", ".txt", ".dot", ".png", ".yml", ".yaml", ".toml", ".example", ".csv")
PATH_WORD = re.compile(r"^[\w.-]+(/[\w.-]*)*$")
GENERATED = {
    "models": "training writes models/<version>/ and models/LATEST there (make train)",
    "reports": "training writes its plots to reports/<version>/",
    "mlruns": "MLflow artifacts (make train)",
    "mlflow.db": "MLflow tracking database (make train)",
    ".cache": "downloads and benchmark environments",
    ".venv": "make venv",
}
"""Paths that do not exist in a fresh clone because a documented command makes them."""
PROGRAMS_CHECKED_ELSEWHERE = frozenset({"make", "terraform", "gcloud", "gh"})


def all_commands() -> list[Command]:
    return [command for document in documents() for command in commands(document)]


def test_the_docs_have_commands_to_check() -> None:
    found = all_commands()
    programs = {command.program for command in found}
    print(f"{len(found)} commands in {len(documents())} documents; programs {sorted(p for p in programs if p)}")
    assert len(found) >= 50, "fewer commands than the README and docs hold: the extraction is broken"
    assert {"make", "python", "curl", "gcloud", "terraform"} <= programs


# --- make ---------------------------------------------------------------------------------------------------------


def make_problems(command: Command) -> Iterator[str]:
    words = list(command.words[1:])
    while words:
        word = words.pop(0)
        if word in ("-C", "-f"):
            folder = words.pop(0)
            if not (ROOT / folder).exists():
                yield f"make {word} {folder}: no such path"
        elif word.startswith("-"):
            continue
        elif "=" in word:
            name = word.split("=", 1)[0]
            if name not in project.make_variables() and name not in project.env_vars_read():
                yield f"make variable {name} is neither used by the Makefile nor read by the code"
        elif word not in project.make_targets():
            yield f"make target {word!r} does not exist (targets: {', '.join(sorted(project.make_targets()))})"


# --- python -m / scripts / the virtual environment's programs --------------------------------------------------------


def flags_of(words: list[str]) -> list[str]:
    return [word.split("=", 1)[0] for word in words if word.startswith("-") and word != "-"]


def python_problems(command: Command) -> Iterator[str]:
    words = list(command.words[1:])
    if words[:1] == ["-m"]:
        module, arguments = words[1], words[2:]
        if not project.module_exists(module):
            yield f"python -m {module}: no such module"
            return
        if arguments and module not in ("pytest", "pip"):
            if not project.module_uses_argparse(module):
                yield f"python -m {module} takes no command-line arguments, the docs pass {arguments}"
                return
            known = project.help_flags(str(project.VENV_BIN / "python"), "-m", module)
            yield from (f"python -m {module} has no flag {flag}" for flag in flags_of(arguments) if flag not in known)
    elif words and words[0].endswith(".py"):
        script, arguments = ROOT / words[0], words[1:]
        if not script.is_file():
            yield f"script {words[0]} does not exist"
        elif flags_of(arguments) and "argparse" in script.read_text():
            known = project.help_flags(str(project.VENV_BIN / "python"), str(script))
            yield from (f"{words[0]} has no flag {flag}" for flag in flags_of(arguments) if flag not in known)
    elif words and words[0] != "-c":
        yield f"unexpected python invocation {words}"


def venv_program_problems(command: Command) -> Iterator[str]:
    program = project.venv_program(command.program)
    known = project.help_flags(str(program))
    yield from (
        f"{command.program} has no flag {flag}" for flag in flags_of(list(command.words[1:])) if flag not in known
    )


# --- terraform, gcloud, gh ------------------------------------------------------------------------------------------


def terraform_problems(command: Command) -> Iterator[str]:
    words = list(command.words[1:])
    for index, word in enumerate(words):
        if word.startswith("-chdir=") and not (ROOT / word.removeprefix("-chdir=")).is_dir():
            yield f"terraform {word}: no such folder"
        if word in ("-var", "-var=") or word.startswith("-var="):
            assignment = words[index + 1] if word == "-var" else word.removeprefix("-var=")
            name = assignment.split("=", 1)[0]
            if name not in project.terraform_variables():
                yield f"terraform -var {name}: infra/ declares no such variable"
    positional = [word for word in words if not word.startswith("-")]
    given = {assignment.split("=", 1)[0] for flag, assignment in itertools.pairwise(words) if flag == "-var"}
    given |= {word.removeprefix("-var=").split("=", 1)[0] for word in words if word.startswith("-var=")}
    from_file = any(word.startswith("-var-file") for word in words)
    if "apply" in positional and given and not from_file and project.required_terraform_variables() - given:
        missing = ", ".join(sorted(project.required_terraform_variables() - given))
        yield f"terraform apply -var ...: leaves out the required {missing}"
    if positional[:1] == ["output"]:
        for name in positional[1:]:
            if name not in project.terraform_outputs():
                yield f"terraform output {name}: infra/ declares no such output"


def gcloud_problems(command: Command) -> Iterator[str]:
    tree = project.gcloud_tree()
    if tree is None:  # test_gcloud_command_tree_is_available says so
        return
    node, path = tree, ["gcloud"]
    words = list(command.words[1:])
    while words and not words[0].startswith("-") and words[0] in node["commands"]:
        path.append(words.pop(0))
        node = node["commands"][path[-1]]
    if node["commands"]:
        yield f"{' '.join(path)} is a command group, not a command (next word {words[:1]})"
        return
    for flag in flags_of(words):
        known = node["flags"] | tree["flags"]
        negated = flag.startswith("--no-") and known.get("--" + flag.removeprefix("--no-")) == "bool"
        if flag not in known and not negated and not project.gcloud_parses(tuple(path[1:]), flag):
            yield f"{' '.join(path)} has no flag {flag}"


def gh_problems(command: Command) -> Iterator[str]:
    words = list(command.words[1:])
    if words[:2] != ["workflow", "run"]:
        return
    workflow = words[2]
    if not (project.WORKFLOWS_DIR / workflow).is_file():
        yield f"gh workflow run {workflow}: no such workflow"
        return
    for flag, value in itertools.pairwise(words):
        if flag in ("-f", "--field", "-F", "--raw-field"):
            name = value.split("=", 1)[0]
            if name not in project.workflow_inputs(workflow):
                yield f"{workflow} has no workflow_dispatch input {name!r}"


def bq_problems(command: Command) -> Iterator[str]:
    known = project.bq_commands()
    if known is None:  # test_bq_is_available says so
        return
    words = [word for word in command.words[1:] if not word.startswith("-")]
    if not words or words[0] not in known:
        yield f"bq {words[:1]}: not a bq command ({', '.join(sorted(known))})"
        return
    for flag in flags_of(list(command.words[1:])):
        name = flag.lstrip("-")
        if name not in project.bq_flags(words[0]) and name.removeprefix("no") not in project.bq_flags(words[0]):
            yield f"bq {words[0]} has no flag {flag}"


PROGRAM_CHECKS: dict[str, Callable[[Command], Iterator[str]]] = {
    "make": make_problems,
    "terraform": terraform_problems,
    "gcloud": gcloud_problems,
    "gh": gh_problems,
    "bq": bq_problems,
}


def program_problems(command: Command) -> list[str]:
    program = command.program
    if program is None:
        return []
    if program in PYTHONS:
        return list(python_problems(command))
    if program in PROGRAM_CHECKS:
        return list(PROGRAM_CHECKS[program](command))
    if project.venv_program(program) and program != "python":
        return list(venv_program_problems(command))
    return []


# --- paths ----------------------------------------------------------------------------------------------------------


def path_words(command: Command) -> Iterator[str]:
    if command.program == "gh":  # gh names workflows by file name; gh_problems checks them
        return
    for word in command.words[1:]:
        if word.startswith("-chdir="):  # terraform_problems checks it
            continue
        if word.startswith("-") and "=" in word:
            word = word.split("=", 1)[1]
        elif word.startswith("@"):  # curl -d @file
            word = word[1:]
        if word.startswith(("/", "~")) or not PATH_WORD.match(word) or word in (".", ".."):
            continue
        top = word.removeprefix("./").split("/", 1)[0]
        if word.startswith("../") or top in REPO_TOP or top in GENERATED or word.endswith(PATH_EXTENSIONS):
            yield word


REPO_TOP = frozenset(path.name for path in ROOT.iterdir())


def created_by(command: Command, cwd: Path) -> set[Path]:
    """Files and folders a command makes: redirections, cp/mkdir targets, -out= / -o outputs."""
    made = {cwd / target for target in command.redirected_to}
    words = command.words
    if command.program in ("cp", "mkdir") and len(words) > 1:
        made.add(cwd / words[-1])
    for index, word in enumerate(words):
        if word.startswith("-out="):
            made.add(cwd / word.removeprefix("-out="))
        if word == "-o" and index + 1 < len(words):
            made.add(cwd / words[index + 1])
    return {path.resolve() for path in made}


def path_problems(document: Path) -> Iterator[str]:
    """Paths the commands name must exist; a runnable block's are left to its run (test_runnable), whose output
    may well be the error a missing file gets."""
    made: set[Path] = set()
    cwd_of_block: dict[int, Path] = {}
    for command in commands(document):
        if command.block.runnable:
            continue
        cwd = cwd_of_block.setdefault(command.block.line, working_directory(document))
        if command.program == "cd" and len(command.words) == 2:
            cwd_of_block[command.block.line] = (cwd / command.words[1]).resolve()
        chdir = next((w.removeprefix("-chdir=") for w in command.words if w.startswith("-chdir=")), None)
        here = (ROOT / chdir).resolve() if chdir else cwd
        for word in path_words(command):
            path = (here / word).resolve()
            top = path.relative_to(ROOT).parts[0] if path.is_relative_to(ROOT) and path != ROOT else ""
            if not (path.exists() or path in made or top in GENERATED):
                yield f"{command.where}\n    names {word!r}, which does not exist"
        made |= created_by(command, here)


# --- environment variables ----------------------------------------------------------------------------------------


def known_env(name: str) -> bool:
    if name in project.env_vars_read() or name in project.LIBRARY_ENV or name in project.SHELL_ENV:
        return True
    if name in project.make_variables():
        return True
    return name.startswith("TF_VAR_") and name.removeprefix("TF_VAR_") in project.terraform_variables()


def env_problems(document: Path) -> Iterator[str]:
    """A variable a command expands must be set earlier on the page or be one the code reads; a variable set
    for a program (``NAME=value program`` or ``export NAME=value``) must be one that program's code reads."""
    defined: set[str] = set()
    for command in commands(document):
        for name in sorted(referenced_variables(command) - defined - {SUBSTITUTED}):
            if not known_env(name):
                yield f"{command.where}\n    expands ${name}, set nowhere before on this page and read by no code"
        if command.program is None:
            defined |= set(command.assignments)
        else:
            exported = [w.split("=", 1)[0] for w in command.words[1:] if command.program == "export" and "=" in w]
            for name in [*command.assignments, *exported]:
                if not known_env(name):
                    yield f"{command.where}\n    sets {name} for a program, but no code reads it"
            defined |= set(exported)


# --- URLs of the function -------------------------------------------------------------------------------------------

FUNCTION_URL = re.compile(
    r"(?:\$\{?(?:URL|FUNCTION_URL)\}?|https?://(?:127\.0\.0\.1|localhost):\d+)(?P<path>/[^\s'\"?]*)?"
)


def url_problems(command: Command) -> Iterator[str]:
    if command.program != "curl":
        return
    routes, docs_prefix = project.function_paths()
    for word in command.words[1:]:
        match = FUNCTION_URL.fullmatch(word)
        if match and match["path"] and match["path"] not in routes and not match["path"].startswith(docs_prefix):
            yield f"{command.where}\n    requests {match['path']}, which the function does not route"


# --- the tests ------------------------------------------------------------------------------------------------------


def document_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("document", documents(), ids=document_id)
def test_programs_targets_modules_and_flags_exist(document: Path) -> None:
    problems = [
        f"{command.where}\n    {problem}" for command in commands(document) for problem in program_problems(command)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("document", documents(), ids=document_id)
def test_file_paths_exist(document: Path) -> None:
    problems = list(path_problems(document))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("document", documents(), ids=document_id)
def test_environment_variables_are_set_or_read(document: Path) -> None:
    problems = list(env_problems(document))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("document", documents(), ids=document_id)
def test_function_urls_are_routes(document: Path) -> None:
    problems = [problem for command in commands(document) for problem in url_problems(command)]
    assert not problems, "\n".join(problems)


def test_bq_is_available() -> None:
    if project.bq_commands() is None:
        pytest.skip("bq (the Cloud SDK) is not installed: bq commands in the docs are not checked")
    assert "ls" in project.bq_commands() and "transfer_run" in project.bq_flags("ls")


def test_gcloud_command_tree_is_available() -> None:
    if project.gcloud_tree() is None:
        pytest.skip("gcloud (the Cloud SDK) is not installed: gcloud commands in the docs are not checked")
    assert "functions" in project.gcloud_tree()["commands"]


BROKEN_PAGE = """# A page with one mistake per command

```sh
make no-such-target
make NO_SUCH_MAKE_VARIABLE=1 demo
python -m training.no_such_module
python -m training.train --no-such-flag
python -m tests.support.demo --models-dir models --no-wait
python -m training.release.smoke_test http://127.0.0.1:8080 v1 --retries 3
terraform -chdir=infra output -raw no_such_output
terraform -chdir=infra apply -var no_such_variable=1
terraform -chdir=infra apply -var project_id=p -var region=r
gcloud functions deploy default-risk-predict --gen2 --no-such-flag
gcloud functions describe default-risk-predict --gen3
gcloud functions no-such-command
bq ls --no_such_flag=1 "$CONFIG"
bq no-such-command
gh workflow run deploy.yml --ref main -f no_such_input=v1
cat docs/no_such_page.md
NO_SUCH_ENV=1 python -m training.train
curl -s http://127.0.0.1:8080/no-such-route
echo "$NEVER_SET"
```
"""
EXPECTED_PROBLEMS = [
    "make target 'no-such-target' does not exist",
    "make variable NO_SUCH_MAKE_VARIABLE",
    "python -m training.no_such_module: no such module",
    "python -m training.train has no flag --no-such-flag",
    "python -m tests.support.demo has no flag --no-wait",
    "python -m training.release.smoke_test has no flag --retries",
    "terraform output no_such_output",
    "terraform -var no_such_variable",
    "leaves out the required github_repository, github_repository_id",
    "gcloud functions deploy has no flag --no-such-flag",
    "gcloud functions describe has no flag --gen3",
    "gcloud functions is a command group",
    "bq ls has no flag --no_such_flag",
    "bq ['no-such-command']: not a bq command",
    "deploy.yml has no workflow_dispatch input 'no_such_input'",
    "names 'docs/no_such_page.md', which does not exist",
    "sets NO_SUCH_ENV for a program, but no code reads it",
    "requests /no-such-route, which the function does not route",
    "expands $NEVER_SET",
]


def test_the_checks_catch_each_kind_of_mistake(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text(BROKEN_PAGE)
    found = [problem for command in commands(page) for problem in program_problems(command)]
    found += [*path_problems(page), *env_problems(page)]
    found += [problem for command in commands(page) for problem in url_problems(command)]
    report = "\n".join(found)
    missed = [expected for expected in EXPECTED_PROBLEMS if expected not in report]
    assert not missed, f"the checks missed {missed}; they reported:\n{report}"
