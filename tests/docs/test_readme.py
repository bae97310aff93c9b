"""The README states what the code does: its commands, configuration, errors, figures and links.

Each expected value is read from its source: environment variables from the code that reads them,
Terraform variables and defaults from infra/variables.tf, error codes from
functions/default_risk/protocols/answers.py, the model's figures from the manifest of the version the README names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from default_risk.contract.artifacts import MANIFEST_FILE, MODELS_PREFIX, PROMOTED_POINTER
from default_risk.model.version import read_local_version
from default_risk.protocols.answers import ERROR_STATUSES
from tests.docs import project
from tests.docs.markdown import first_code, relative_links, section, tables
from tests.docs.running import expected_answer, json_values, request_body
from tests.docs.shell import ROOT, commands, documents
from tests.infra.terraform import named_blocks

README = ROOT / "README.md"


def readme() -> str:
    return README.read_text()


def test_readme_opens_with_the_title_and_the_two_commands() -> None:
    lines = readme().splitlines()
    assert lines[0] == "# Credit-card default-risk scoring on Cloud Functions"
    assert lines[2] == "```sh"
    assert re.fullmatch(r"make demo +# .+", lines[3]), lines[3]
    assert re.fullmatch(r"make test +# .+", lines[4]), lines[4]
    assert lines[5] == "```"


def test_readme_shows_the_architecture_picture() -> None:
    assert "](docs/architecture/architecture.png)" in readme()
    assert (ROOT / "docs" / "architecture" / "architecture.png").is_file()


# --- configuration ------------------------------------------------------------------------------------------------


def configuration_rows() -> dict[str, list[str]]:
    (table,) = tables(section(readme(), "Configuration"))
    header, *rows = table
    assert header == ["name", "where", "default", "what"]
    return {first_code(row[0]): row for row in rows}


def terraform_default_text(value: object) -> str:
    """A variable's default as the README writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        decoded = json.loads(value)
        return decoded or '""'
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def test_configuration_lists_every_env_var_the_code_reads_and_every_terraform_variable() -> None:
    listed = set(configuration_rows())
    env_vars, variables = set(project.env_vars_read()), set(project.terraform_variables())
    print(f"README lists {len(listed)}: env vars {sorted(env_vars)}, {len(variables)} Terraform variables")
    assert env_vars, "found no environment variable read by the code: the scan is broken"
    assert not env_vars - listed, f"env vars the code reads, missing from the README: {sorted(env_vars - listed)}"
    assert not variables - listed, f"Terraform variables missing from the README: {sorted(variables - listed)}"
    unknown = listed - env_vars - variables - project.make_variables()
    assert not unknown, f"the README lists names nothing reads: {sorted(unknown)}"


def test_configuration_states_terraform_defaults_as_variables_tf_has_them() -> None:
    rows = configuration_rows()
    for name, body in named_blocks("variable").items():
        row = rows[name]
        assert row[1] == "Terraform", name
        stated = first_code(row[2]) if "`" in row[2] else row[2]
        expected = terraform_default_text(body["default"]) if "default" in body else "required"
        assert stated == expected, f"{name}: README says default {stated!r}, variables.tf has {expected!r}"


# --- errors ---------------------------------------------------------------------------------------------------------


def test_error_table_is_exactly_the_codes_the_api_answers_with() -> None:
    errors = next(t for t in tables(section(readme(), "API")) if t[0] == ["status", "code", "when"])
    stated = {(int(row[0]), first_code(row[1])) for row in errors[1:]}
    expected = {(status, code) for code, status in ERROR_STATUSES.items()}
    assert stated == expected, (
        f"README only: {stated - expected}; functions/default_risk/protocols/answers.py only: {expected - stated}"
    )


# --- figures ----------------------------------------------------------------------------------------------------------


def stated_model_version() -> str:
    match = re.search(r"model `(v[0-9a-f]{32})`", section(readme(), "Model quality"))
    assert match, "the Model quality section names no model version"
    return match[1]


def test_model_quality_is_that_of_the_promoted_version() -> None:
    promoted = ROOT / MODELS_PREFIX / PROMOTED_POINTER
    assert promoted.is_file(), "no models/PROMOTED: the README describes the model main deploys"
    assert stated_model_version() == promoted.read_text().strip(), "update the README's figures: make promote ran"


def test_model_quality_figures_are_those_of_the_named_version() -> None:
    version = stated_model_version()
    manifest_path = ROOT / MODELS_PREFIX / version / MANIFEST_FILE
    if not manifest_path.is_file():
        pytest.skip(f"{manifest_path.relative_to(ROOT)} is not in this checkout (promote it with `make promote`)")
    metrics = json.loads(manifest_path.read_text())["metrics"]
    by_model = {"MLP (served)": metrics["test"], **metrics["baselines_test"]}
    quality = next(t for t in tables(section(readme(), "Model quality")) if t[0][0] == "test set")
    header, *rows = quality
    assert len(rows) == len(by_model)
    for row in rows:
        name = first_code(row[0]) or row[0]
        for metric, cell in zip(header[1:], row[1:], strict=True):
            expected = by_model[name][metric]
            assert cell == f"{expected:.4f}", f"{name} {metric}: README {cell}, manifest {expected:.4f}"


# --- links ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_at_files(document: Path) -> None:
    missing = [link for link in relative_links(document) if not (document.parent / link).exists()]
    assert not missing, f"{document.relative_to(ROOT)} links to missing files: {missing}"


def test_example_answers_are_what_the_named_version_scores() -> None:
    """The README's shown answers to its local curl commands, recomputed with the named version's files."""
    version = stated_model_version()
    folder = ROOT / MODELS_PREFIX / version
    if not folder.is_dir():
        pytest.skip(f"models/{version} is not in this checkout (promote it with `make promote`)")
    local = section(readme(), "Try it locally")
    posts = [c for c in commands(README) if c.program == "curl" and "-X POST" in c.source and c.source in local]
    (shown,) = re.findall(r"^```json\n(.*?)^```", local, re.MULTILINE | re.DOTALL)
    answers = json_values(shown)
    assert len(answers) == len(posts) >= 2
    scorer = read_local_version(folder).scorer
    for command, answer in zip(posts, answers, strict=True):
        kind, features = expected_answer(request_body(command))
        assert kind == "predictions" and answer["model_version"] == version
        expected = scorer.probabilities(features)
        shown_p = [p["probability_of_default"] for p in answer["predictions"]]
        assert shown_p == pytest.approx(expected.tolist(), abs=1e-6), command.where
