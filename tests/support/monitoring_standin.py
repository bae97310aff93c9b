"""A stand-in for Cloud Monitoring's ``projects.timeSeries.list`` (REST v3), fed a recorded series by the test.

A recorded series is JSON: ``{"polls": [{"canary": WINDOW, "stable": WINDOW}, ...]}`` where a WINDOW is
``{"outcomes": {"ok": 40, "internal_error": 1}, "p95": 0.12, "bands": {"B01": 5, ...}}`` or ``null`` (the API
answers 503 for that revision). Each judgement reads one poll, in order (the last repeats); a poll starts when the
canary's request counts are asked for. The answers have the documented shape: ``timeSeries[]`` with ``metric``,
``resource``, ``points[].value`` (``int64Value`` as a string, ``doubleValue``, ``distributionValue``), one point per
series since the reader aligns the whole window into one period.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from training.release.canary_metrics import BAND_METRIC_PREFIX, LATENCY_METRIC, REQUESTS_METRIC

_FILTER = re.compile(r'metric\.type="logging\.googleapis\.com/user/(\w+)".*resource\.labels\.revision_name="([^"]+)"')


class Recording:
    """The recorded series, and which poll each revision is at."""

    def __init__(self, series: dict, canary: str, stable: str) -> None:
        self.polls, self.roles = series["polls"], {canary: "canary", stable: "stable"}
        self.canary, self.started, self.queries = canary, -1, []

    def window(self, metric: str, revision: str) -> dict | None:
        if revision == self.canary and metric == REQUESTS_METRIC:
            self.started += 1
        poll = self.polls[min(max(self.started, 0), len(self.polls) - 1)]
        self.queries.append((metric, revision))
        return poll.get(self.roles.get(revision, ""), None)


def answer(metric: str, window: dict) -> list[dict]:
    point = {"interval": {"startTime": "2026-12-02T00:00:00Z", "endTime": "2026-12-02T00:05:00Z"}}
    if metric == REQUESTS_METRIC:
        return [
            {"metric": {"labels": {"outcome": outcome}}, "points": [point | {"value": {"int64Value": str(count)}}]}
            for outcome, count in window["outcomes"].items()
        ]
    if metric == LATENCY_METRIC:
        return [] if window.get("p95") is None else [{"points": [point | {"value": {"doubleValue": window["p95"]}}]}]
    records = window.get("bands", {}).get(metric.removeprefix(BAND_METRIC_PREFIX).upper(), 0)
    requests = max(window["outcomes"].get("ok", 0), 1)
    if not records:
        return []
    return [
        {"points": [point | {"value": {"distributionValue": {"count": str(requests), "mean": records / requests}}}]}
    ]


@contextmanager
def monitoring_standin(series_file: Path, canary: str, stable: str) -> Iterator[tuple[str, Recording]]:
    """Serve the recorded series on loopback; yield (API root URL, recording)."""
    recording = Recording(json.loads(series_file.read_text()), canary, stable)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            match = _FILTER.search(query.get("filter", [""])[0])
            if not urlparse(self.path).path.endswith("/timeSeries") or match is None:
                self._send(400, {"error": {"code": 400, "message": "bad request"}})
                return
            window = recording.window(match[1], match[2])
            if window is None:
                self._send(503, {"error": {"code": 503, "message": "The service is currently unavailable."}})
                return
            self._send(200, {"timeSeries": answer(match[1], window)})

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v3", recording
    finally:
        server.shutdown()
        server.server_close()
