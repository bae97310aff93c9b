"""A bounded load on loopback: N requests at concurrency C, single records and batches mixed.

Threads with one keep-alive connection each; every answer is checked (status 200 and one
probability in [0, 1] per record sent). Only loopback is a target, the count is fixed, and a
per-request timeout bounds the run.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from tests.reliability.measure import tree_rss
from tests.reliability.records import record_from_row
from tests.support.local_cloud import Server
from tests.support.tiny_model import load_rows

BATCH_SHARE = 0.2
MAX_BATCH = 100


@dataclass
class LoadResult:
    requests: int
    records: int
    concurrency: int
    seconds: float
    statuses: Counter
    errors: list[str]
    latencies: np.ndarray
    rss_start: int
    rss_end: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """Latency percentile ``q`` in milliseconds."""
        return float(np.percentile(self.latencies, q) * 1000)

    @property
    def rss_growth(self) -> float:
        """Relative growth of the server's RSS over the measured run (0.05 = 5 %)."""
        return self.rss_end / self.rss_start - 1


def request_bodies(count: int = 400, seed: int = 0) -> list[tuple[bytes, int]]:
    """(body, records) pairs from real rows: mostly one bare record, some batches up to ``MAX_BATCH``."""
    rows, _ = load_rows(5000, seed)
    records = [record_from_row(row) for row in rows]
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        if rng.random() < BATCH_SHARE:
            batch = rng.sample(records, rng.randint(2, MAX_BATCH))
            bodies.append((json.dumps({"instances": batch}).encode(), len(batch)))
        else:
            bodies.append((json.dumps(rng.choice(records)).encode(), 1))
    return bodies


def _check(status: int, data: bytes, records: int) -> str | None:
    if status != 200:
        return f"status {status}: {data[:200]!r}"
    predictions = json.loads(data).get("predictions", [])
    if len(predictions) != records:
        return f"{len(predictions)} predictions for {records} records"
    if not all(0.0 <= p["probability_of_default"] <= 1.0 for p in predictions):
        return "a probability outside [0, 1]"
    return None


def run(url: str, requests: int, concurrency: int, bodies: list[tuple[bytes, int]], timeout: float = 30) -> tuple:
    """Send ``requests`` requests from ``concurrency`` threads; return (seconds, statuses, errors, latencies)."""
    parts = urlsplit(url)
    latencies = np.zeros(requests)
    statuses: Counter = Counter()
    errors: list[str] = []
    next_index = iter(range(requests))
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            body, records = bodies[index % len(bodies)]
            started = time.perf_counter()
            try:
                connection.request("POST", "/", body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                data = answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException) as error:
                status, data = 0, repr(error).encode()
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            latencies[index] = time.perf_counter() - started
            problem = _check(status, data, records)
            with lock:
                statuses[status] += 1
                if problem:
                    errors.append(problem)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, statuses, errors, latencies


def load_test(server: Server, requests: int = 20_000, concurrency: int = 32, warmup: int = 1_000) -> LoadResult:
    """Warm the server up, then measure ``requests`` requests and the server's RSS before and after."""
    bodies = request_bodies()
    run(server.url, warmup, concurrency, bodies)
    rss_start = tree_rss(server)
    seconds, statuses, errors, latencies = run(server.url, requests, concurrency, bodies)
    records = sum(bodies[i % len(bodies)][1] for i in range(requests))
    return LoadResult(requests, records, concurrency, seconds, statuses, errors, latencies, rss_start, tree_rss(server))
