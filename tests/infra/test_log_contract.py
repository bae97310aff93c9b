"""The log-based metrics match what the function really logs.

A real functions-framework server (the session's ``scoring_server``) answers a successful and a
failing request; its stdout, Cloud Logging's structured JSON lines written by ``contract.telemetry``, is the
jsonPayload Cloud Logging stores. Each metric's filter (resolved from infra/) is evaluated against
those entries, and its value and label extractors must find their fields there.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from default_risk.contract.bands import BAND_LABELS
from default_risk.protocols.openapi import example_record
from tests.infra.terraform import literal, locals_, resolve, resources
from tests.support.local_cloud import Server

# Cloud Functions 2nd gen runs on Cloud Run: Cloud Logging files its entries under this resource,
# labelled with the service, whose name is the function's name.
RESOURCE = {"resource.type": "cloud_run_revision"}
_CLAUSE = re.compile(r'^([\w.]+)="([^"]*)"$')
_EXTRACT = re.compile(r"^EXTRACT\(jsonPayload\.([\w.]+)\)$")
BANDS = [f'band_records["{band}"]' for band in BAND_LABELS]
ONLY_OK = {"instances", "probability", *BANDS}
"""Metrics over successful requests only (they read what only a scoring request logs)."""


def field_of(entry: dict[str, Any], path: str) -> Any:
    """``entry``'s value at a dotted jsonPayload path (``risk_band_counts.B01``), or None."""
    for part in path.split("."):
        entry = entry.get(part) if isinstance(entry, dict) else None
    return entry


def post(url: str, body: object) -> int:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def request_entries(server: Server, message: str) -> list[dict[str, Any]]:
    """The server's structured log lines carrying ``message``."""
    entries = []
    for line in server.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == message:
                entries.append(entry)
    return entries


def matches(log_filter: str, entry: dict[str, Any], service_name: str) -> bool:
    """Evaluate a filter of ``field="value"`` lines (implicitly ANDed) against one stdout entry."""
    context = RESOURCE | {"resource.labels.service_name": service_name}
    for line in log_filter.strip().splitlines():
        clause = _CLAUSE.match(line.strip())
        assert clause, f"unsupported filter clause {line!r}"
        field, value = clause.groups()
        if field.startswith("jsonPayload."):
            actual = entry.get(field.removeprefix("jsonPayload."))
        else:
            assert field in context, f"filter names {field}, which Cloud Logging does not set for the function"
            actual = context[field]
        if str(actual) != value:
            return False
    return True


@pytest.fixture(scope="module")
def logged(scoring_server: Server) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(entries of successful requests, entries of failed requests), both written by the real server."""
    record = example_record("uci-1")
    message = resolve(resources("google_logging_metric")["latency"]["filter"])
    message = re.search(r'jsonPayload\.message="([^"]+)"', message)[1]
    before = len(request_entries(scoring_server, message))
    assert post(scoring_server.url, {"instances": [record, record]}) == 200
    assert post(scoring_server.url, {"instances": [{**record, "AGE": -1}]}) == 400
    entries = request_entries(scoring_server, message)[before:]
    assert len(entries) == 2, f"expected one '{message}' line per request, got {entries}"
    return [entries[0]], [entries[1]]


def test_every_metric_filter_selects_exactly_the_intended_requests(logged) -> None:
    ok, failed = logged
    service_name = resolve('"${local.function_name}"')
    only_ok = ONLY_OK
    metrics = resources("google_logging_metric")
    assert set(metrics) == {"latency", "requests", "instances", "probability", *BANDS}
    for name, metric in metrics.items():
        log_filter = resolve(metric["filter"])
        assert all(matches(log_filter, entry, service_name) for entry in ok), f"{name} misses successful requests"
        expect_failed = name not in only_ok
        assert all(matches(log_filter, e, service_name) == expect_failed for e in failed), f"{name}: failed requests"
        assert not matches(log_filter, ok[0], "another-service"), f"{name} must select the function's service only"


def test_value_extractors_read_numbers_the_function_logs(logged) -> None:
    ok, failed = logged
    metrics = resources("google_logging_metric")
    for name, metric in metrics.items():
        kind = metric["metric_descriptor"][0]["value_type"].strip('"')
        if kind == "INT64":
            assert "value_extractor" not in metric, f"{name}: a counter counts entries"
            continue
        assert kind == "DISTRIBUTION", name
        field = _EXTRACT.match(resolve(metric["value_extractor"]))[1]
        selected = ok if name in ONLY_OK else ok + failed
        for entry in selected:
            assert isinstance(field_of(entry, field), int | float), f"{name} extracts {field}, not a number in {entry}"
    assert ok[0]["instance_count"] == 2
    assert 0 <= ok[0]["mean_probability_of_default"] <= 1


def test_label_extractors_read_fields_the_function_logs(logged) -> None:
    ok, failed = logged
    for name, metric in resources("google_logging_metric").items():
        extractors = metric.get("label_extractors", {})
        declared = {label["key"].strip('"') for label in metric["metric_descriptor"][0].get("labels", [])}
        assert set(extractors) == declared, f"{name}: extracted labels {set(extractors)} != declared {declared}"
        for label, extractor in extractors.items():
            field = _EXTRACT.match(resolve(extractor))[1]
            for entry in ok + failed if name in {"latency", "requests"} else ok:
                assert field_of(entry, field) is not None, f"{name}.{label} extracts {field}, absent from {entry}"
    assert [ok[0]["outcome"], failed[0]["outcome"]] == ["ok", "invalid_input"]


def test_the_band_metrics_are_the_risk_bands_and_their_counts_sum_to_the_records(logged) -> None:
    ok, _ = logged
    assert [literal(band) for band in locals_()["risk_bands"]] == list(BAND_LABELS)
    assert sum(ok[0]["risk_band_counts"].values()) == ok[0]["instance_count"]
