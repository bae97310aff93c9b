"""The debugging guide's log queries are the ones Terraform's metrics use, over the names the code logs.

The filter comes from infra/ (``local.request_log_filter``, resolved with the variables' defaults), the
field names and outcomes from default_risk.contract.telemetry, the load messages from default_risk.model.store,
the metric names from infra/monitoring.tf. Every Cloud Logging query in the README and docs/ that
selects request lines must contain that filter's clauses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from default_risk.contract import telemetry
from default_risk.model import store as model_store
from tests.docs.shell import ROOT, commands, documents
from tests.infra.terraform import locals_, resolve, resources

GUIDE = ROOT / "docs" / "user_guides" / "debugging_pipeline.md"
TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```", re.MULTILINE | re.DOTALL)


def request_log_filter() -> list[str]:
    """The metrics' filter, one clause per line, as Cloud Logging receives it."""
    return [line.strip() for line in resolve(locals_()["request_log_filter"]).strip().splitlines()]


def test_logs_explorer_query_is_the_metrics_filter() -> None:
    blocks = [block.strip().splitlines() for block in TEXT_BLOCK.findall(GUIDE.read_text())]
    assert request_log_filter() in blocks, f"no ```text block of the guide is {request_log_filter()}"


def logging_queries() -> list[tuple[str, str]]:
    """(where, filter) of every `gcloud logging read` in the README and docs/."""
    return [
        (command.where, command.words[3])
        for document in documents()
        for command in commands(document)
        if command.words[:3] == ("gcloud", "logging", "read")
    ]


def test_every_gcloud_logging_query_selects_the_function_as_terraform_does() -> None:
    queries = logging_queries()
    assert len(queries) >= 5, queries
    resource_clauses = [c for c in request_log_filter() if c.startswith("resource.")]
    message_clause = next(c for c in request_log_filter() if c.startswith("jsonPayload.message"))
    for where, query in queries:
        clauses = [clause.strip() for clause in query.split(" AND ")]
        assert clauses[: len(resource_clauses)] == resource_clauses, f"{where}\n    does not select the function"
        if "prediction_request" in query:
            assert message_clause in clauses, f"{where}\n    selects request lines unlike the metrics"


@pytest.mark.parametrize(
    "name",
    [
        telemetry.REQUEST_LOG_MESSAGE,
        telemetry.LATENCY_FIELD,
        telemetry.INSTANCES_FIELD,
        telemetry.OUTCOME_FIELD,
        telemetry.STATUS_FIELD,
        telemetry.MODEL_VERSION_FIELD,
        telemetry.MEAN_PROBABILITY_FIELD,
        telemetry.BAND_COUNTS_FIELD,
        *telemetry.OUTCOMES,
        model_store.LOADED_MESSAGE,
        model_store.LOAD_FAILED_MESSAGE,
        *(resolve(body["name"]) for body in resources("google_logging_metric").values()),
    ],
)
def test_the_guide_names_every_logged_field_outcome_message_and_metric(name: str) -> None:
    assert f"`{name}`" in GUIDE.read_text(), f"the debugging guide does not explain `{name}`"


def test_the_guide_lists_exactly_the_outcomes_the_function_logs() -> None:
    sentence = re.search(r"`outcome` is one of (.*?)\. ", GUIDE.read_text(), re.DOTALL)
    assert sentence, "the guide does not list the outcomes"
    listed = re.findall(r"`(\w+)`", sentence[1])
    assert listed == list(telemetry.OUTCOMES), (
        f"the guide lists {listed}, functions/default_risk/contract/telemetry.py has {telemetry.OUTCOMES}"
    )


RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
FIRST_STEP = re.compile(r"^(## |1\. )", re.MULTILINE)
PREREQUISITES = re.compile(r"^(\*\*Prerequisites\*\*|## 0\. Prerequisites$)", re.MULTILINE)
VERIFY = "**Verify it worked**"


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=lambda path: path.name)
def test_a_runbook_starts_with_its_prerequisites_and_ends_with_how_to_verify(runbook: Path) -> None:
    text = runbook.read_text()
    prerequisites, first_step = PREREQUISITES.search(text), FIRST_STEP.search(text)
    assert prerequisites, f"{runbook.name} does not state its prerequisites"
    assert first_step is None or prerequisites.start() <= first_step.start(), "prerequisites come after a step"
    assert text.rstrip().split("\n\n")[-1].startswith(VERIFY), f"{runbook.name} does not end with {VERIFY}"
