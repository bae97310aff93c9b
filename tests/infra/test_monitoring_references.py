"""The dashboard and the alert policies use only metrics defined in infra/, in ways valid for their kind."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.infra.terraform import INFRA, literal, locals_, resolve, resources
from training.release.canary_metrics import BAND_METRIC_PREFIX, LATENCY_METRIC, REQUESTS_METRIC

USER_METRIC = re.compile(r'metric\.type="logging\.googleapis\.com/user/([\w.-]+)"')
PROMQL_USER_METRIC = re.compile(r"logging_googleapis_com:user_(\w+?)(_sum|_count|_bucket)?\{")
OTHER_METRIC = re.compile(r'metric\.type="((?!logging\.googleapis\.com/user/)[^"]+)"')
# The built-in metrics the dashboard must show: the function's Cloud Run service and the scheduled back-test's runs.
BUILT_IN_METRICS = {
    "run.googleapis.com/container/instance_count",
    "run.googleapis.com/container/memory/utilizations",
    "bigquerydatatransfer.googleapis.com/transfer_config/completed_runs",
}


def defined_metrics() -> dict[str, str]:
    """``{metric name: value type}`` of the google_logging_metric resources."""
    return {
        resolve(metric["name"]): metric["metric_descriptor"][0]["value_type"].strip('"')
        for metric in resources("google_logging_metric").values()
    }


def template_bindings() -> dict[str, str]:
    """``{template variable: expression}`` of the dashboard's templatefile call in monitoring.tf."""
    call = (INFRA / "monitoring.tf").read_text().split("templatefile(", 1)[1].split("})", 1)[0]
    return dict(re.findall(r"^\s*(\w+)\s*=\s*(.+?)\s*$", call, re.MULTILINE))


_FOR = re.compile(r"%\{ for index, (\w+) in (\w+) ~\}\n(.*?)%\{ endfor ~\}\n", re.DOTALL)


def _expand_loops(template: str, lists: dict[str, list[str]]) -> str:
    """templatefile's ``%{ for index, item in list ~}`` loops, as the dashboard writes them."""

    def expand(match: re.Match[str]) -> str:
        item, name, body = match.groups()
        return "".join(
            body.replace("%{ if index > 0 },%{ endif }", "," if index else "")
            .replace(f"${{lower({item})}}", value.lower())
            .replace(f"${{{item}}}", value)
            for index, value in enumerate(lists[name])
        )

    return _FOR.sub(expand, template)


def _static(expression: str) -> bool:
    """Whether an HCL string expression is made of literals, locals and variables only (no resource attributes)."""
    try:
        resolve(expression)
    except ValueError:
        return False
    return True


def rendered_dashboard() -> dict[str, Any]:
    """dashboard.json rendered as templatefile would, metric variables bound to the metric resources."""
    metrics = resources("google_logging_metric")
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for variable, expression in template_bindings().items():
        bound = re.fullmatch(r"google_logging_metric\.(\w+)\.name", expression)
        local = re.fullmatch(r"local\.(\w+)", expression)
        if bound:
            values[variable] = resolve(metrics[bound[1]]["name"])
        elif local and isinstance(locals_()[local[1]], list):
            lists[variable] = [literal(item) for item in locals_()[local[1]]]
        elif local and _static(locals_()[local[1]]):
            values[variable] = resolve(f'"${{local.{local[1]}}}"')
        else:  # known only once applied: a number stands in, which JSON takes as a string's content or a value
            values[variable] = "0.5"
    template = _expand_loops((INFRA / "dashboard.json").read_text(), lists)
    used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", template))
    assert used <= set(values), f"dashboard.json uses {used - set(values)}, which monitoring.tf does not pass"
    text = re.sub(r"(?<!\$)\$\{(\w+)\}", lambda match: values[match[1]], template).replace("$${", "${")
    return json.loads(text)


def datasets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (tile["widget"]["title"], dataset)
        for tile in dashboard["mosaicLayout"]["tiles"]
        for dataset in tile["widget"].get("xyChart", {}).get("dataSets", [])
    ]


def filters_with_aggregation(query: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if "timeSeriesFilter" in query:
        return [(query["timeSeriesFilter"]["filter"], query["timeSeriesFilter"]["aggregation"])]
    if "timeSeriesFilterRatio" in query:
        ratio = query["timeSeriesFilterRatio"]
        return [(ratio[part]["filter"], ratio[part]["aggregation"]) for part in ("numerator", "denominator")]
    return []


def test_dashboard_uses_only_defined_metrics_and_shows_every_panel() -> None:
    defined = defined_metrics()
    dashboard = rendered_dashboard()
    text = json.dumps(dashboard)
    used_user = set(USER_METRIC.findall(text.replace('\\"', '"')))
    used_promql = {name for name, _ in PROMQL_USER_METRIC.findall(text)}
    assert used_user | used_promql <= set(defined), f"undefined metrics: {(used_user | used_promql) - set(defined)}"
    assert used_user | used_promql == set(defined), "every log-based metric has a panel"
    assert set(OTHER_METRIC.findall(text.replace('\\"', '"'))) == BUILT_IN_METRICS
    reducers = {aggregation.get("crossSeriesReducer") for _, d in datasets(dashboard)
                for _, aggregation in filters_with_aggregation(d["timeSeriesQuery"])}  # fmt: skip
    assert {"REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_95", "REDUCE_PERCENTILE_99"} <= reducers


def test_dashboard_never_rates_a_distribution() -> None:
    defined = defined_metrics()
    for title, dataset in datasets(rendered_dashboard()):
        for metric_filter, aggregation in filters_with_aggregation(dataset["timeSeriesQuery"]):
            names = USER_METRIC.findall(metric_filter)
            if names and defined[names[0]] == "DISTRIBUTION":
                assert aggregation["perSeriesAligner"] == "ALIGN_DELTA", f"{title}: ALIGN_DELTA on a DELTA distribution"


def test_alerts_use_defined_metrics_with_valid_aggregations() -> None:
    metric_resources = resources("google_logging_metric")
    policies = resources("google_monitoring_alert_policy")
    assert set(policies) == {"latency_p95", "failed_ratio", "score_psi_act", "backtest_red"}
    for name, policy in policies.items():
        if name in ("score_psi_act", "backtest_red"):  # page on scheduled queries' failed runs, not a log metric
            assert "transfer_config/completed_runs" in policy["conditions"][0]["condition_threshold"][0]["filter"]
            continue
        assert policy["notification_channels"] == "${local.notification_channels}", name
        threshold = policy["conditions"][0]["condition_threshold"][0]
        for key in ("filter", "denominator_filter"):
            if key in threshold:
                referenced = re.findall(r"google_logging_metric\.(\w+)\.name", threshold[key])
                assert referenced and set(referenced) <= set(metric_resources), f"{name}.{key}: {threshold[key]}"
    latency = policies["latency_p95"]["conditions"][0]["condition_threshold"][0]
    assert "google_logging_metric.latency.name" in latency["filter"]
    assert latency["aggregations"][0]["per_series_aligner"] == '"ALIGN_DELTA"'
    assert latency["aggregations"][0]["cross_series_reducer"] == '"REDUCE_PERCENTILE_95"'
    ratio = policies["failed_ratio"]["conditions"][0]["condition_threshold"][0]
    assert 'metric.labels.outcome!=\\"ok\\"' in ratio["filter"]
    assert "outcome" not in ratio["denominator_filter"]
    assert ratio["aggregations"] == ratio["denominator_aggregations"]


def test_the_backtest_tiles_chart_the_runs_and_the_alert_that_pages() -> None:
    bindings = template_bindings()
    alert_filter = resources("google_monitoring_alert_policy")["backtest_red"]["conditions"][0]["condition_threshold"]
    assert bindings["backtest_config_id"] == "local.backtest_config_id"
    assert "${local.backtest_config_id}" in alert_filter[0]["filter"]
    assert bindings["backtest_alert_policy"] == "google_monitoring_alert_policy.backtest_red.name"
    assert "google_bigquery_table.backtest_results.table_id" in bindings["backtest_results_table"]
    assert "google_bigquery_table.backtest_groups.table_id" in bindings["backtest_groups_table"]
    tiles = {tile["widget"]["title"]: tile["widget"] for tile in rendered_dashboard()["mosaicLayout"]["tiles"]}
    assert "alertChart" in tiles["Outcome back-test red"]
    runs = next(widget for title, widget in tiles.items() if title.startswith("Scheduled outcome back-test runs"))
    assert runs["xyChart"]["dataSets"][0]["legendTemplate"] == "${metric.labels.completion_state}"


def test_the_canary_reads_the_metrics_terraform_declares() -> None:
    """training/release/canary_metrics.py names the log-based metrics it judges a canary on."""
    names = {literal(body["name"]) for body in resources("google_logging_metric").values()}
    assert {REQUESTS_METRIC, LATENCY_METRIC} <= names
    assert literal(locals_()["band_metric_prefix"]) == BAND_METRIC_PREFIX
