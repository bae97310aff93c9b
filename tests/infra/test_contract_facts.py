"""Terraform reads the contract's facts from one generated file, and nothing in infra/ copies them by hand."""

from __future__ import annotations

import re

from default_risk.contract.bands import BAND_LABELS
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.limits import MAX_EXPLAIN_INSTANCES, MAX_INSTANCES
from default_risk.contract.telemetry import REQUEST_LOG_MESSAGE
from tests.infra.terraform import INFRA
from training.release.infra_contract import OUTPUT, facts, generated


def test_the_committed_file_is_what_the_contract_generates() -> None:
    assert OUTPUT.read_text() == generated(), "infra/contract.tf.json is stale: run `make infra-contract`"


def test_no_other_infra_file_spells_a_fact_out() -> None:
    copies = {
        "a band label": re.compile("|".join(f'"{band}"' for band in BAND_LABELS)),
        "the request log message": re.compile(re.escape(f'"{REQUEST_LOG_MESSAGE}"')),
        "the feature arguments": re.compile(f'"{FEATURE_NAMES[0].lower()}"'),
        "the batch limits": re.compile(rf"batching_rows <= ({MAX_INSTANCES}|{MAX_EXPLAIN_INSTANCES})\b"),
    }
    found = [
        f"{path.name}: {what}"
        for path in [*INFRA.glob("*.tf"), INFRA / "dashboard.json"]
        for what, pattern in copies.items()
        if pattern.search(path.read_text())
    ]
    assert not found, f"copied by hand instead of read from contract.tf.json: {found}"
    assert set(facts()) >= {"risk_bands", "default_risk_arguments", "request_log_message", "max_instances"}
