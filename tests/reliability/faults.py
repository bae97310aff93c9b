"""The fault matrix: storage and configuration faults, each observed on a real function server.

Each scenario breaks one thing, checks what the function does while it is broken (a 503 or the
documented error, bounded in time, a clear log line, never a score), removes the cause and checks
that the function recovers and then scores with exactly the right model. A scenario returns one
row of evidence for the report and raises AssertionError when the function misbehaves; the tests
call the scenarios, and ``make reliability`` prints their rows.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import MANIFEST_FILE, MODEL_FILE, MODELS_PREFIX, PREP_FILE
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.telemetry import OUTCOME_FIELD, STATUS_FIELD
from default_risk.model.store import FETCH_TIMEOUT_ENV, RETRY_AFTER_ENV
from default_risk.model.version import read_local_version
from default_risk.protocols.request_budget import BUDGET_ENV
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.hostile import SAMPLE_RECORD
from tests.support.gcs import artifact_urls, publish, storage_client
from tests.support.http import Response, log_lines, post_json, request_logs
from tests.support.local_cloud import RECORDS_FOLDER, Server, function_server

FETCH_TIMEOUT = 3
"""The function's Cloud Storage timeout and retry deadline in these scenarios (its default is longer)."""
ANSWER_BOUND = FETCH_TIMEOUT + 3.0
"""Seconds within which every request must be answered while storage is broken: a load's storage time, and
a margin for the rest of the load and the answer."""
UNAVAILABLE = 503
SEVERE = ("WARNING", "ERROR", "CRITICAL")


@dataclass
class Row:
    """One line of the fault matrix: what was broken, what the function did, how it recovered."""

    fault: str
    while_broken: str
    log: str
    recovered: str


@dataclass
class FaultBench:
    """A storage emulator behind a ``FaultProxy``, two published versions, and function servers."""

    emulator: Server
    proxy: FaultProxy
    bucket: str
    version_dir: Path
    other_version_dir: Path
    work_dir: Path
    servers: list[Server] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        """The function's environment: storage through the proxy, the first version's URLs."""
        return {
            "STORAGE_EMULATOR_HOST": self.proxy.url,
            "GOOGLE_CLOUD_PROJECT": "local-project",
            FETCH_TIMEOUT_ENV: str(FETCH_TIMEOUT),
            RETRY_AFTER_ENV: "1",
            **artifact_urls(self.bucket, self.version_dir.name),
            **overrides,
        }

    def start(self, **overrides: str) -> Server:
        server = function_server(self.env(**overrides), self.work_dir / f"function-{len(self.servers)}")
        self.servers.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def bucket_handle(self):
        return storage_client(self.emulator).bucket(self.bucket)


def expected_probability(version_dir: Path) -> float:
    """The probability the version gives ``SAMPLE_RECORD``, computed here from its files."""
    scorer = read_local_version(version_dir).scorer
    row = np.array([[SAMPLE_RECORD[name] for name in FEATURE_NAMES]], dtype=np.float64)
    return float(scorer.probabilities(row)[0])


def score(server: Server, timeout: float = ANSWER_BOUND + 30) -> tuple[Response, float]:
    started = time.perf_counter()
    answer = post_json(server.url + "/", SAMPLE_RECORD, timeout=timeout)
    return answer, time.perf_counter() - started


def assert_unavailable(server: Server, attempts: int = 2) -> str:
    """Every attempt answers 503 with Retry-After within the bound, never a score; describe it."""
    seconds = []
    for _ in range(attempts):
        answer, elapsed = score(server)
        assert answer.status == UNAVAILABLE, f"expected 503 while broken, got {answer.status}: {answer.body[:300]!r}"
        assert "retry-after" in answer.headers, f"503 without Retry-After: {answer.headers}"
        assert b"probability_of_default" not in answer.body, "a score left while the model was broken"
        assert elapsed <= ANSWER_BOUND, f"answer took {elapsed:.1f} s > {ANSWER_BOUND} s"
        seconds.append(elapsed)
    return f"{attempts}× 503 (Retry-After {answer.headers['retry-after']}) in ≤ {max(seconds):.2f} s"


def assert_scores_with(server: Server, version_dir: Path) -> str:
    """The server answers 200 with ``version_dir``'s version and exactly its probability, to a client that honours
    Retry-After (a failed load is remembered for that long: the first request after it loads again)."""
    answer, elapsed = score(server)
    if answer.status == UNAVAILABLE:
        time.sleep(int(answer.headers["retry-after"]))
        answer, elapsed = score(server)
    assert answer.status == 200, f"expected recovery, got {answer.status}: {answer.body[:300]!r}"
    body = answer.json
    assert body["model_version"] == version_dir.name, f"served {body['model_version']}, expected {version_dir.name}"
    probability = body["predictions"][0]["probability_of_default"]
    expected = expected_probability(version_dir)
    assert abs(probability - expected) <= 1e-6, f"served p={probability}, the version gives {expected}"
    return f"200 {version_dir.name} p={probability:.4f} (= its files) in {elapsed:.2f} s"


def severe_log(server: Server, *keywords: str) -> str:
    """The first warning/error log line whose text names the cause (one of ``keywords``); fail if none."""
    lines = [line for line in log_lines(server.output()) if line.get("severity") in SEVERE]
    for line in lines:
        text = json.dumps(line, ensure_ascii=False)
        if any(keyword.lower() in text.lower() for keyword in keywords):
            cause = f"{line.get('error_type', '')}: {line.get('error', '')}" if "error" in line else ""
            return f"{line.get('severity')} {line.get('message')} {cause}"[:150]
    raise AssertionError(f"no warning/error log line names the cause ({keywords}); severe lines: {lines[:5]}")


def storage_down_at_cold_start(bench: FaultBench) -> Row:
    bench.proxy.set("reset")
    server = bench.start()
    try:
        broken = assert_unavailable(server)
        log = severe_log(server, "Connection reset", "Connection refused", "Connection aborted")
    finally:
        bench.proxy.set("pass")
    return Row("storage down at cold start, then back", broken, log, assert_scores_with(server, bench.version_dir))


def storage_slow(bench: FaultBench, delay: float = 120.0) -> Row:
    """Storage accepts but answers after ``delay`` s: concurrent requests still get bounded 503s."""
    bench.proxy.set("slow", match=MODELS_PREFIX, delay=delay)
    server = bench.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: score(server), range(4)))
        for answer, elapsed in answers:
            assert answer.status == UNAVAILABLE, f"slow storage gave {answer.status}: {answer.body[:200]!r}"
            assert elapsed <= ANSWER_BOUND, f"a request waited {elapsed:.1f} s for slow storage"
        broken = f"4 concurrent: 503 in ≤ {max(e for _, e in answers):.1f} s (storage delay {delay:.0f} s)"
        log = severe_log(server, "timed out", "Timeout of")
    finally:
        bench.proxy.set("pass")
    return Row("storage answering slowly", broken, log, assert_scores_with(server, bench.version_dir))


def storage_slow_per_object(bench: FaultBench) -> Row:
    """Each object answers within the per-call timeout, but the load's three together would take longer than
    its storage time: the load ends at its deadline, not three timeouts later."""
    delay = 0.6 * FETCH_TIMEOUT
    bench.proxy.set("slow", match=MODELS_PREFIX, delay=delay)
    server = bench.start()
    try:
        answer, elapsed = score(server)
        assert answer.status == UNAVAILABLE, f"slow objects gave {answer.status}: {answer.body[:200]!r}"
        assert elapsed <= ANSWER_BOUND, f"the load ran {elapsed:.1f} s, past its {FETCH_TIMEOUT} s of storage time"
        broken = f"503 in {elapsed:.1f} s ({delay:.1f} s per object, {FETCH_TIMEOUT} s of storage time per load)"
        log = severe_log(server, "storage time", "timed out", "Timeout of")
    finally:
        bench.proxy.set("pass")
    return Row(
        "storage slow on every object, the load past its deadline",
        broken,
        log,
        assert_scores_with(server, bench.version_dir),
    )


def load_past_the_budget(bench: FaultBench) -> Row:
    """The model loads, but slower than the request's time budget: the request gets 503 ``deadline_exceeded``
    before anything is decided or recorded; the next request, the model loaded, is answered."""
    budget, delay = 0.5, 0.3 * FETCH_TIMEOUT  # three objects: at least 2.7 s of loading, well past 0.5 s
    bench.proxy.set("slow", match=MODELS_PREFIX, delay=delay)
    server = bench.start(**{BUDGET_ENV: str(budget)})
    try:
        answer, elapsed = score(server)
        assert answer.status == UNAVAILABLE and answer.json["error"]["code"] == "deadline_exceeded", answer.body[:300]
        assert "retry-after" in answer.headers
        records = list((server.cwd / RECORDS_FOLDER).rglob("*"))
        assert not [path for path in records if path.is_file()], f"a decision past its budget was recorded: {records}"
        (line,) = [line for line in request_logs(server.output()) if line.get(STATUS_FIELD) == UNAVAILABLE]
        broken = f"503 deadline_exceeded in {elapsed:.1f} s ({delay:.1f} s per object, budget {budget} s); no record"
        log = f"request line: outcome {line[OUTCOME_FIELD]}, status {line[STATUS_FIELD]}"
    finally:
        bench.proxy.set("pass")
    return Row(
        "a model load slower than the request's budget", broken, log, assert_scores_with(server, bench.version_dir)
    )


def truncated_download(bench: FaultBench) -> Row:
    bench.proxy.set("truncate", match=MODEL_FILE, keep=0.5)
    server = bench.start()
    try:
        broken = assert_unavailable(server)
        assert bench.proxy.count("truncate") >= 1, "the proxy cut no download: the scenario did not happen"
        log = severe_log(server, "Connection broken", "IncompleteRead", "truncated")
    finally:
        bench.proxy.set("pass")
    return Row("artifact truncated mid-download", broken, log, assert_scores_with(server, bench.version_dir))


def _replace_object(bench: FaultBench, version_dir: Path, name: str, data: bytes) -> None:
    bench.bucket_handle().blob(f"{MODELS_PREFIX}/{version_dir.name}/{name}").upload_from_string(data)


def hash_mismatch(bench: FaultBench) -> Row:
    """The stored model differs from what its manifest states (one byte flipped, same size)."""
    original = (bench.version_dir / MODEL_FILE).read_bytes()
    middle = len(original) // 2
    tampered = original[:middle] + bytes([original[middle] ^ 0xFF]) + original[middle + 1 :]
    _replace_object(bench, bench.version_dir, MODEL_FILE, tampered)
    try:
        server = bench.start()
        broken = assert_unavailable(server)
        log = severe_log(server, "sha256")
    finally:
        _replace_object(bench, bench.version_dir, MODEL_FILE, original)
    return Row("manifest hash does not match the model", broken, log, assert_scores_with(server, bench.version_dir))


def mixed_versions(bench: FaultBench) -> Row:
    """MODEL_URL from one version, PREP_URL from another; the cause goes with a corrected deployment."""
    publish(bench.other_version_dir, bench.emulator, bench.bucket)
    prep_url = artifact_urls(bench.bucket, bench.other_version_dir.name)["PREP_URL"]
    server = bench.start(PREP_URL=prep_url)
    broken = assert_unavailable(server)
    log = severe_log(server, "same version folder")
    server.stop()
    fixed = bench.start()
    return Row(
        "model and preprocessor from different versions", broken, log, assert_scores_with(fixed, bench.version_dir)
    )


def model_url_nowhere(bench: FaultBench) -> Row:
    """MODEL_URL names a version not (yet) in the bucket; publishing it is the cure, no restart."""
    version = bench.other_version_dir.name
    for name in (MODEL_FILE, PREP_FILE, MANIFEST_FILE):
        blob = bench.bucket_handle().blob(f"{MODELS_PREFIX}/{version}/{name}")
        if blob.exists():
            blob.delete()
    server = bench.start(**artifact_urls(bench.bucket, version))
    broken = assert_unavailable(server)
    log = severe_log(server, "404", "NotFound")
    publish(bench.other_version_dir, bench.emulator, bench.bucket)
    return Row("MODEL_URL pointing nowhere", broken, log, assert_scores_with(server, bench.other_version_dir))


SCENARIOS: tuple[Callable[[FaultBench], Row], ...] = (
    storage_down_at_cold_start,
    storage_slow,
    storage_slow_per_object,
    load_past_the_budget,
    truncated_download,
    hash_mismatch,
    mixed_versions,
    model_url_nowhere,
)


def sigterm_in_flight(bench: FaultBench, in_flight: int = 7) -> Row:
    """SIGTERM while ``in_flight`` requests are half sent: all finish with 200, the process exits 0.

    One fewer than the server's 8 threads: with every thread held by a stalled body, the instance would cut them
    (408, ``body_deadline``), which is another test's subject."""
    server = bench.start()
    assert_scores_with(server, bench.version_dir)
    body = json.dumps({"instances": [SAMPLE_RECORD] * 100}).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sockets = []
    for _ in range(in_flight):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_BOUND)
        sock.sendall(head + body[: len(body) // 2])
        sockets.append(sock)
    _wait_until_read(server.port, in_flight)  # the worker has accepted them and is reading their bodies
    started = time.perf_counter()
    server.process.send_signal(signal.SIGTERM)
    _wait_until_arbiter_closed_its_listener(server)  # it handled the signal and is stopping its worker
    answers = []
    for sock in sockets:
        sock.sendall(body[len(body) // 2 :])
        answers.append(_read_all(sock))
        sock.close()
    code = server.process.wait(ANSWER_BOUND)
    exited = time.perf_counter() - started
    statuses = [answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1") else "none" for answer in answers]
    assert statuses == ["200"] * in_flight, f"in-flight requests after SIGTERM got {statuses}"
    assert all(answer.count(b"probability_of_default") == 100 for answer in answers), "an in-flight answer is partial"
    assert code == 0, f"the server exited with {code} after SIGTERM"
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    assert refused, "the port still accepts connections after the process exited"
    return Row(
        "SIGTERM with requests in flight",
        f"{in_flight} half-sent requests all 200 (100 scores each)",
        f"exit code {code} {exited:.1f} s after SIGTERM",
        "port closed; a new instance starts cold",
    )


def _server_sockets(port: int) -> list[int]:
    """The bytes waiting unread in each established server-side socket of loopback ``port`` (/proc/net/tcp)."""
    waiting = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _, state, queues = line.split()[1:5]
        if int(local.rsplit(":", 1)[1], 16) == port and state == "01":  # 01: ESTABLISHED
            waiting.append(int(queues.split(":")[1], 16))
    return waiting


def _wait_until_read(port: int, connections: int) -> None:
    """Until ``connections`` server-side sockets of ``port`` exist and the server has read all they received
    (accepted and being read, not merely queued in the kernel's backlog)."""
    deadline = time.monotonic() + ANSWER_BOUND * 10
    while (waiting := _server_sockets(port)).count(0) < connections:
        assert time.monotonic() < deadline, f"the server read only part of {connections} requests: {waiting}"
        time.sleep(0.02)


def _wait_until_arbiter_closed_its_listener(server: Server) -> None:
    """Until gunicorn's arbiter (the server's own process) holds no listening socket: on SIGTERM it closes them,
    then signals its worker, which stops accepting and finishes the requests it has."""
    import psutil

    arbiter = psutil.Process(server.process.pid)
    deadline = time.monotonic() + ANSWER_BOUND * 10
    while any(c.status == psutil.CONN_LISTEN for c in arbiter.net_connections("tcp")):
        assert time.monotonic() < deadline, "gunicorn's arbiter still listens after SIGTERM"
        time.sleep(0.02)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
