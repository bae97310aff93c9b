"""``make reliability``, second part: the findings of the audit of 2026-12-03, side by side with ``BASELINE_COMMIT``.

Each finding is reproduced on two servers on loopback, each served as deployed (functions-framework, 8 threads,
``MALLOC_ARENA_MAX=2``) with its own promoted model: the code of ``BASELINE_COMMIT`` and this checkout. The deploy's
findings are read from each tree's files. Prints one table (finding, measure, baseline, this code, target) and writes
it to ``reports/reliability-versus.md``. Figures, not assertions: a shared machine moves them.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.synchronize
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psutil

from default_risk.contract.artifacts import MODEL_FILE, MODELS_PREFIX
from tests.reliability.hostile import CASES, HEAVIEST, JSON, SAMPLE_RECORD, Case, instances_body, run_at_once
from tests.reliability.load import request_bodies
from tests.reliability.load import run as run_load
from tests.reliability.measure import MB, PeakRss, processes
from tests.reliability.rawhttp import send, send_bytes
from tests.support.baseline import BASELINE_COMMIT, baseline_server, baseline_tree, model_urls, promoted_version_dir
from tests.support.http import log_lines
from tests.support.local_cloud import ROOT, Server, function_server

REPORT = ROOT / "reports" / "reliability-versus.md"
THREADS = 8
SLOW_CLIENTS = 16
WINDOW_SECONDS = 15.0
"""How long each contention scenario runs while a probe measures."""
PROBE = json.dumps(SAMPLE_RECORD).encode()
OUTAGE_ANSWER_SECONDS = 90.0
Row = tuple[str, str, str, str, str]
Figures = dict[str, str]


def seconds(value: float) -> str:
    return f"{value * 1e3:.0f} ms" if value < 1 else f"{value:.1f} s"


def probes(url: str, until: float) -> str:
    """1-record probes, one after another, until ``until``: how many were answered, and their p50 / p99 (a probe
    not answered by the end counts as slower than the window)."""
    latencies, unanswered = [], 0
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            answer = send(url + "/", "POST", PROBE, JSON, timeout=max(0.5, until - time.monotonic() + 1))
            assert answer.status == 200, answer.body[:200]
            latencies.append(time.perf_counter() - started)
        except OSError:
            unanswered += 1
    if not latencies:
        return f"0 answered in {WINDOW_SECONDS:.0f} s"
    ordered = sorted(latencies) + [float("inf")] * unanswered
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(latencies)} answered, p50 / p99 {seconds(statistics.median(ordered))} / "
        f"{'not answered' if p99 == float('inf') else seconds(p99)}"
    )


def slow_sender(url: str, in_headers: bool, stop: threading.Event) -> None:
    """One client sending a byte every 2 s, in the body or in the headers; it reconnects whenever it is cut."""
    host, port = url.removeprefix("http://").split(":")
    while not stop.is_set():
        try:
            connection = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            stop.wait(0.1)
            continue
        with connection:
            try:
                head = (
                    "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: "
                    if in_headers
                    else (
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    )
                )
                connection.sendall(head.encode())
                while not stop.is_set():
                    if select.select([connection], [], [], 2.0)[0]:
                        break  # an answer or a close: the server cut this sender
                    connection.sendall(b" " if not in_headers else b"a")
            except OSError:
                continue


def under_slow_senders(server: Server, in_headers: bool) -> str:
    stop = threading.Event()
    senders = [threading.Thread(target=slow_sender, args=(server.url, in_headers, stop)) for _ in range(SLOW_CLIENTS)]
    for sender in senders:
        sender.start()
    time.sleep(1)  # the senders connect and take their threads
    try:
        return probes(server.url, time.monotonic() + WINDOW_SECONDS)
    finally:
        stop.set()
        for sender in senders:
            sender.join()


def heavy_clients(
    url: str, body: bytes, stop: multiprocessing.synchronize.Event, answers: multiprocessing.Queue
) -> None:
    """``THREADS`` clients sending ``body`` again and again until ``stop`` (after a 503, its Retry-After later);
    puts their statuses' counts."""
    statuses: list[int] = []

    def client() -> None:
        while not stop.is_set():
            try:
                answer = send(url, "POST", body, JSON, timeout=120)
            except OSError:
                statuses.append(0)
                continue
            statuses.append(answer.status)
            if answer.status == 503:  # as a well-behaved client does
                stop.wait(float(answer.headers.get("retry-after", 1)))

    with ThreadPoolExecutor(THREADS) as pool:
        for _ in range(THREADS):
            pool.submit(client)
    answers.put({status: statuses.count(status) for status in sorted(set(statuses))})


def under_heavy_load(server: Server, path: str, body: bytes) -> str:
    """Probes while ``THREADS`` clients send ``body`` to ``path`` again and again, from another process (so that
    they do not share the probe's interpreter); and what the heavy clients got."""
    context = multiprocessing.get_context("fork")
    stop, answers = context.Event(), context.Queue()
    clients = context.Process(target=heavy_clients, args=(server.url + path, body, stop, answers))
    clients.start()
    time.sleep(1)
    try:
        figure = probes(server.url, time.monotonic() + WINDOW_SECONDS)
    finally:
        stop.set()
    counts = answers.get(timeout=300)
    clients.join()
    return f"{figure}; heavy answers {counts}"


def worker_private_mb(server: Server) -> float:
    """Private memory (USS) of the largest process of the server (gunicorn's worker)."""
    return max(p.memory_full_info().uss for p in processes(server)) / MB


def memory(server: Server) -> Figures:
    """Private memory before and after 1,000 mixed requests and the worst bodies, and the highest peak of 8 of one
    kind of worst body at once, over every kind."""
    before = worker_private_mb(server)
    run_load(server.url, 1_000, THREADS, request_bodies())
    peaks = {}
    for case in (*HEAVIEST, utf16_case()):
        _, _, peak = run_at_once(server, case, THREADS)
        peaks[case.name.removeprefix("worst for memory: ")] = peak / MB
    worst = max(peaks, key=peaks.__getitem__)
    return {
        "ratchet": f"{before:.0f} → {worker_private_mb(server):.0f} MB",
        "peak": f"{peaks[worst]:.0f} MB ({worst})",
    }


def utf16_case() -> Case:
    return next(case for case in CASES if case.name.startswith("UTF-16"))


def encoding(server: Server) -> Figures:
    case = utf16_case()
    body = case.body()
    peak = PeakRss(server)
    with peak.watch():
        started_cpu = sum(p.cpu_times().user + p.cpu_times().system for p in processes(server))
        answer = send(server.url + "/", "POST", body, JSON)
        cpu = sum(p.cpu_times().user + p.cpu_times().system for p in processes(server)) - started_cpu
    return {"one": f"{answer.status} in {seconds(answer.seconds)}, {cpu:.2f} CPU-s, +{peak.growth / MB:.0f} MB"}


def logs(server: Server) -> Figures:
    """What a caller's headers and query string put into the request's log line."""
    mark = len(server.output())
    headers = {**JSON, "X-Cloud-Trace-Context": "caller-chosen/1;o=1", "User-Agent": "agent\u0085split"}
    send(server.url + "/?customer=ACCT-7741-SECRET", "POST", PROBE, headers)
    time.sleep(0.5)  # the line is flushed after the answer
    written = server.output()[mark:]
    lines = [line for line in written.split("\n") if line.startswith("{")]
    traces = [line.get("logging.googleapis.com/trace", "none") for line in log_lines(written)]
    return {
        "trace": f"trace field {traces[-1] if traces else 'none'!r}",
        "query": f"query value in the log: {'yes' if 'ACCT-7741-SECRET' in written else 'no'}",
        "lines": f"{sum(len(line.splitlines()) > 1 for line in lines)} of {len(lines)} lines split by str.splitlines",
    }


def raw(url: str, data: bytes) -> tuple[int, str, int]:
    """Send bytes as they are; (status, content type, answer bytes) of the answer."""
    answer = send_bytes(url, data)
    return answer.status, answer.headers.get("content-type", "none").split(";")[0], len(answer.body)


def errors(server: Server) -> Figures:
    framing = send(server.url + "/", "POST", b"zz\r\n{}\r\n0\r\n\r\n", JSON, framed=True)
    code = (framing.json() or {}).get("error", {}).get("code", "?")
    mark = len(server.output())
    status, _, size = raw(server.url, b"GET /docs/" + b"x" * MB + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    time.sleep(0.5)
    longest = max((len(line) for line in server.output()[mark:].split("\n")), default=0)
    bad_line = raw(server.url, b"NOT A REQUEST\r\n\r\n")
    big_header = raw(server.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    return {
        "framing": f"{framing.status} {code}",
        "path": f"{status}, answer {size:,} bytes, longest log line {longest:,} bytes",
        "framework": f"{bad_line[0]} {bad_line[1]}; {big_header[0]} {big_header[1]}",
    }


def explain_over_cap(server: Server) -> Figures:
    body = b"".join(instances_body(json.dumps(SAMPLE_RECORD), 10_000))
    answer = send(server.url + "/explain", "POST", body, JSON)
    return {"cap": f"{answer.status} in {seconds(answer.seconds)}"}


@contextmanager
def silent_storage() -> Iterator[str]:
    """A Cloud Storage endpoint that accepts connections and never answers: storage unreachable, as a hang."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def storage_outage(start: Callable[[dict[str, str], str], Server], version: str) -> Figures:
    """With storage silent: the first request's 503 (its load runs out of time), ``/healthz`` while that load
    runs, and the next request's answer."""
    urls = {"MODEL_URL": f"gs://risk-models/{MODELS_PREFIX}/{version}/model.tflite",
            "PREP_URL": f"gs://risk-models/{MODELS_PREFIX}/{version}/prep.joblib"}  # fmt: skip
    with silent_storage() as endpoint:
        env = urls | {"STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "local-project"}
        with start(env, "outage") as server:
            with ThreadPoolExecutor(1) as pool:
                first = pool.submit(send, server.url + "/", "POST", PROBE, JSON, timeout=OUTAGE_ANSWER_SECONDS)
                time.sleep(1)  # the first request is loading
                health = send(server.url + "/healthz", "GET", timeout=OUTAGE_ANSWER_SECONDS)
                answer = first.result()
            following = send(server.url + "/", "POST", PROBE, JSON, timeout=OUTAGE_ANSWER_SECONDS)
    return {
        "first": f"{answer.status} in {seconds(answer.seconds)}",
        "next": f"{following.status} in {seconds(following.seconds)}",
        "health": f"{health.status} in {seconds(health.seconds)}",
    }


def fifo_model(start: Callable[[dict[str, str], str], Server], version: Path, scratch: Path) -> Figures:
    """``MODEL_URL`` naming a FIFO nobody writes to, in a copy of the version folder."""
    folder = scratch / f"fifo-{len(list(scratch.glob('fifo-*')))}" / MODELS_PREFIX / version.name
    shutil.copytree(version, folder)
    (folder / MODEL_FILE).unlink()
    os.mkfifo(folder / MODEL_FILE)
    with start(model_urls(folder), "fifo") as server:
        try:
            answer = send(server.url + "/", "POST", PROBE, JSON, timeout=30)
            return {"fifo": f"{answer.status} in {seconds(answer.seconds)}"}
        except OSError:
            return {"fifo": "no answer in 30 s"}


def deploy_findings(tree: Callable[[str], str]) -> Figures:
    """From a tree's files (``tree(path)`` gives a file's text, empty if absent)."""
    iam, workflow = tree("infra/iam.tf"), tree(".github/workflows/deploy.yml")
    guard = tree("training/release/plan_guard.py")
    return {
        "public": "refused without PUBLIC_FUNCTION_APPROVED_FOR" if "PUBLIC_FUNCTION_APPROVED_FOR" in guard
        else "passed to the deploy unguarded",
        "setiam": "yes" if '"run.services.setIamPolicy"' in iam else "no",
        "invokers": "added by every deploy, never removed" if "add-iam-policy-binding" in workflow
        else "declared in Terraform (authoritative)",
        "lock": "committed" if tree("infra/.terraform.lock.hcl") else "absent",
        "hashes": "all hashed" if "--hash=" in tree("requirements-dev.txt") else "requirements-dev.txt unhashed",
    }  # fmt: skip


def file_at(commit: str | None) -> Callable[[str], str]:
    def read(path: str) -> str:
        if commit is None:
            file = ROOT / path
            return file.read_text() if file.is_file() else ""
        shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True)
        return shown.stdout if shown.returncode == 0 else ""

    return read


def measure(start: Callable[[dict[str, str], str], Server], version: Path, scratch: Path) -> Figures:
    figures: Figures = {}
    thousand = b"".join(instances_body(json.dumps(SAMPLE_RECORD), 1_000))
    ten_thousand = b"".join(instances_body(json.dumps(SAMPLE_RECORD), 10_000))
    with start(model_urls(version), "served") as server:
        assert send(server.url + "/", "POST", PROBE, JSON).status == 200, "the function does not score"
        print(f"  {server.url}: encoding, slow senders, heavy load ...", flush=True)
        figures |= encoding(server)
        figures["idle"] = probes(server.url, time.monotonic() + 5)
        figures["slow body"] = under_slow_senders(server, in_headers=False)
        figures["slow headers"] = under_slow_senders(server, in_headers=True)
        figures["explain"] = under_heavy_load(server, "/explain", thousand)
        figures["batches"] = under_heavy_load(server, "/", ten_thousand)
        figures |= explain_over_cap(server) | logs(server) | errors(server)
        print("  memory ...", flush=True)
        figures |= memory(server)
    print("  storage outage, FIFO ...", flush=True)
    figures |= storage_outage(start, version.name) | fifo_model(start, version, scratch)
    return figures


def rows(theirs: Figures, ours: Figures) -> list[Row]:
    spec = [
        ("1 encoding", "UTF-16 body of 8 MiB, one request", "one", "4xx before any count or parse"),
        ("2 slow clients", f"probe, {SLOW_CLIENTS} senders trickling bodies", "slow body", "p99 ≤ 200 ms"),
        ("2 slow clients", f"probe, {SLOW_CLIENTS} senders trickling headers", "slow headers", "p99 ≤ 200 ms"),
        ("3 admission", "probe, nothing else running", "idle", ""),
        ("3 admission", "probe, 8 clients of /explain × 1,000", "explain", "p99 ≤ 250 ms"),
        ("3 admission", "probe, 8 clients of 10,000-record batches", "batches", "p99 ≤ 250 ms"),
        ("3 admission", "/explain of 10,000 records (cap 1,000)", "cap", "refused before decoding"),
        ("4 memory", "worker's private memory, before → after 1,000 mixed + worst", "ratchet", ""),
        ("4 memory", "highest peak, 8 at once of one worst kind", "peak", "≤ 384 MiB"),
        ("5 storage", "first request, storage silent", "first", "inside the 60 s timeout"),
        ("5 storage", "/healthz during that load", "health", "≤ 50 ms"),
        ("5 storage", "the next request", "next", "≤ 50 ms"),
        ("5 storage", "MODEL_URL a FIFO", "fifo", "bounded"),
        ("6 deploy", "allow_unauthenticated = true in TF_VARS_JSON", "public", "refused unless approved"),
        ("6 deploy", "deployer holds run.services.setIamPolicy project-wide", "setiam", "no"),
        ("6 deploy", "invoker bindings", "invokers", "what the infra declares"),
        ("7 tooling", "infra/.terraform.lock.hcl", "lock", "committed"),
        ("7 tooling", "CI's Python installs", "hashes", "hashed"),
        ("8 logs", "X-Cloud-Trace-Context: caller-chosen/1;o=1", "trace", "checked"),
        ("8 logs", "?customer=ACCT-7741-SECRET", "query", "no"),
        ("8 logs", "User-Agent with U+0085", "lines", "0 split"),
        ("9 errors", "bad chunk size (zz)", "framing", "400"),
        ("9 errors", "GET /docs/ + 1 MB", "path", "bounded"),
        ("9 errors", "gunicorn's own: bad request line; 20 KB header", "framework", "JSON"),
    ]
    return [(finding, what, theirs[key], ours[key], target) for finding, what, key, target in spec]


def markdown(table: list[Row]) -> str:
    lines = [f"| finding | measure | {BASELINE_COMMIT} | this code | target |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in table]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="reliability-versus-") as name:
        scratch = Path(name)
        old_functions, old_version = baseline_tree(scratch)

        def start_old(env: dict[str, str], label: str) -> Server:
            return baseline_server(old_functions, env, scratch / f"old-{label}", THREADS)

        def start_new(env: dict[str, str], label: str) -> Server:
            return function_server(env, scratch / f"new-{label}", THREADS)

        print(f"code of {BASELINE_COMMIT} ...", flush=True)
        theirs = measure(start_old, old_version, scratch) | deploy_findings(file_at(BASELINE_COMMIT))
        print("this code ...", flush=True)
        ours = measure(start_new, promoted_version_dir(), scratch) | deploy_findings(file_at(None))
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    text = (
        f"Side by side with {BASELINE_COMMIT}: {psutil.cpu_count()} cores, load average {load}, "
        f"{THREADS} threads each, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
        f"{markdown(rows(theirs, ours))}\n"
    )
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text)
    print("\n" + text)
    print(f"(written to {REPORT.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
