"""The figures a canary is judged on, read from Cloud Monitoring: the function's log-based metrics, one revision each.

Cloud Logging keeps the Cloud Run resource labels on every request line, so each log-based metric of
infra/monitoring.tf can be filtered by ``resource.labels.revision_name``. One window per revision: requests by
outcome (``prediction_requests``), the p95 of ``prediction_latency_seconds``, and the records per risk band
(``prediction_band_records_b01`` ...). The REST call is Monitoring API v3 ``projects.timeSeries.list``. Any failure
to read gives ``None``: the policy then rolls back, so an unreadable canary never keeps traffic.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from default_risk.contract.bands import BAND_LABELS
from training.release.canary_policy import SERVER_FAILURES, Window

REQUESTS_METRIC = "prediction_requests"
LATENCY_METRIC = "prediction_latency_seconds"
BAND_METRIC_PREFIX = "prediction_band_records_"
"""The names of infra/monitoring.tf's google_logging_metric resources (tests/infra checks they agree)."""

MONITORING_API = "https://monitoring.googleapis.com/v3"
MIN_ALIGNMENT_SECONDS = 60


class MetricsReader(Protocol):
    def read(self, canary: str, stable: str, seconds: float) -> tuple[Window | None, Window | None]:
        """The last ``seconds`` of figures of the canary revision and of the stable one (None: unreadable)."""
        ...


class CloudMonitoring:
    """Reads the windows through the Monitoring API with the deployer's credentials (monitoring.timeSeries.list)."""

    def __init__(self, project: str, service: str, api: str = MONITORING_API) -> None:
        self.project, self.service, self.api = project, service, api.rstrip("/")
        self._session = None

    def read(self, canary: str, stable: str, seconds: float) -> tuple[Window | None, Window | None]:
        return self._window(canary, seconds), self._window(stable, seconds)

    def _window(self, revision: str, seconds: float) -> Window | None:
        try:
            outcomes = {
                series["metric"]["labels"].get("outcome", ""): int(_value(series).get("int64Value", 0))
                for series in self._series(REQUESTS_METRIC, revision, seconds, "REDUCE_SUM", "metric.label.outcome")
            }
            latency = self._series(LATENCY_METRIC, revision, seconds, "REDUCE_PERCENTILE_95")
            bands = {}
            for label in BAND_LABELS:
                series = self._series(BAND_METRIC_PREFIX + label.lower(), revision, seconds, "REDUCE_SUM")
                distribution = _value(series[0]).get("distributionValue", {}) if series else {}
                bands[label] = round(int(distribution.get("count", 0)) * float(distribution.get("mean", 0.0)))
        except (OSError, ValueError, KeyError, IndexError, TypeError):  # unreadable: the policy rolls back
            return None
        return Window(
            requests=sum(outcomes.values()),
            server_failures=sum(count for outcome, count in outcomes.items() if outcome in SERVER_FAILURES),
            p95_latency_seconds=float(_value(latency[0])["doubleValue"]) if latency else None,
            band_records=bands,
        )

    def _series(self, metric: str, revision: str, seconds: float, reducer: str, group_by: str = "") -> list[dict]:
        end = dt.datetime.now(dt.UTC)
        period = max(MIN_ALIGNMENT_SECONDS, int(seconds))
        params = {
            "filter": (
                f'metric.type="logging.googleapis.com/user/{metric}" AND resource.type="cloud_run_revision" '
                f'AND resource.labels.service_name="{self.service}" AND resource.labels.revision_name="{revision}"'
            ),
            "interval.startTime": (end - dt.timedelta(seconds=period)).isoformat().replace("+00:00", "Z"),
            "interval.endTime": end.isoformat().replace("+00:00", "Z"),
            "aggregation.alignmentPeriod": f"{period}s",
            "aggregation.perSeriesAligner": "ALIGN_DELTA",
            "aggregation.crossSeriesReducer": reducer,
        }
        if group_by:
            params["aggregation.groupByFields"] = group_by
        response = self.session().get(f"{self.api}/projects/{self.project}/timeSeries", params=params, timeout=30)
        response.raise_for_status()
        return response.json().get("timeSeries", [])

    def session(self):
        """An authorised session for Google's API; a plain one for another root (a local stand-in)."""
        if self._session is None and self.api != MONITORING_API:
            import requests

            self._session = requests.Session()
        if self._session is None:
            import google.auth
            from google.auth.exceptions import GoogleAuthError
            from google.auth.transport.requests import AuthorizedSession

            try:
                credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/monitoring.read"])
            except GoogleAuthError as error:
                raise OSError(f"no Google Cloud credentials: {error}") from error
            self._session = AuthorizedSession(credentials)
        return self._session


def _value(series: dict) -> dict:
    """The value of a series' newest point (one point per series: the alignment period is the whole window)."""
    return series["points"][0]["value"]
