"""`make bench`: this code's scoring path beside the code of an earlier commit, side by side in one run.

Whole requests in-process (``harness``: the entry point ``main.predict`` from body bytes to response
bytes, through Flask's request object) for one record, 10,000 records as ``instances`` and as columnar
``inputs``, and a BigQuery call of 10,000 rows; each three ways in the same run: this code recording its
decisions to a local folder, this code with the records' write dropped (what recording costs), and the code of
``BASELINE_COMMIT`` (serving its own promoted model, which that code can load), beside yardsticks no request of
the body can go below (``json.loads`` and ``orjson.loads`` of it, LiteRT on its rows). The trees run alternately,
several rounds, each figure the best round's p50. Then HTTP on loopback (the same three, this code recording to the
storage emulator, and functions-framework alone answering a fixed object: the framework's ceiling), cold start
(process start to the first 200 with the model fetched from the storage emulator, in a virtual environment
holding only ``functions/requirements.txt``, beside a minimal TensorFlow server), memory after the first score and
the installed size of the requirements. Serves the promoted version (``models/PROMOTED``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import (
    KERAS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
)
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.protocols.admission import CPUS_ENV
from default_risk.service.records import RECORDS_URL_ENV
from tests.bench.harness import IDLE_SECONDS
from tests.support.baseline import (
    BASELINE_COMMIT,
    BASELINE_VERSION,
    baseline_server,
    baseline_tree,
    model_urls,
    promoted_version_dir,
)
from tests.support.gcs import BUCKET, publish
from tests.support.http import post_json
from tests.support.local_cloud import (
    FUNCTIONS_DIR,
    PROCESS_ENV,
    ROOT,
    Server,
    emulator_env,
    function_server,
    functions_framework,
    storage_emulator,
)
from tests.support.records import record, records
from tests.support.tiny_model import load_rows

ROUNDS = 3
SERVING_VENV = ROOT / ".cache" / "bench" / "serving-venv"
BASELINE_VENV = ROOT / ".cache" / "bench" / "baseline-venv"
REQUIREMENTS = FUNCTIONS_DIR / "requirements.txt"
COLD_STARTS = 5
Row = tuple[str, str, str, str]


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1e3, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3


def timings(call: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    call()
    samples = []
    for _ in range(runs):
        started = clock()
        call()
        samples.append(clock() - started)
    return samples


def cpu_p50(call: Callable[[], object], runs: int) -> float:
    """p50 of the calling thread's CPU time per call (ms): about the wall time on an idle core, for
    our single-threaded path (not comparable for Keras, which computes on other threads)."""
    return percentiles(timings(call, runs, time.thread_time))[0]


def min_cpu_ms(call: Callable[[], object], runs: int = 30) -> float:
    """The least CPU time of the calling thread per call (ms), after a warm-up call: a stage's own cost,
    the figure least disturbed by other load on a shared machine."""
    return min(timings(call, runs, time.thread_time)) * 1e3


def bench_bodies(scratch: Path) -> dict[str, Path]:
    """The request bodies, written once: real rows of the data set as clients send them."""
    rows, _ = load_rows(10_000, seed=5)
    batch = records(rows)
    columns = {name: [instance[name] for instance in batch] for name in batch[0]}
    calls = {
        "requestId": "bench",
        "caller": "//bigquery.googleapis.com/projects/bench/jobs/bench:EU.bquxjob_bench",
        "sessionUser": "bench@bank.example",
        "userDefinedContext": {},
        "calls": rows.astype(np.int64).tolist(),
    }
    payloads = {
        ONE: batch[0],
        INSTANCES: {"instances": batch},
        COLUMNAR: {"inputs": columns},
        BIGQUERY: calls,
        THOUSAND: {"instances": batch[:1000]},
        EXPLAIN_ONE: batch[0],
        EXPLAIN_THOUSAND: {"instances": batch[:1000]},
    }
    paths = {}
    for name, payload in payloads.items():
        paths[name] = scratch / f"{len(paths)}.json"
        paths[name].write_text(json.dumps(payload))
    return paths


ONE, INSTANCES, COLUMNAR, BIGQUERY = "1 record", "10,000 records", "10,000 records, columnar", "BigQuery, 10,000 rows"
THOUSAND, EXPLAIN_ONE, EXPLAIN_THOUSAND = "1,000 records", "1 record, /explain", "1,000 records, /explain"
RUNS = {ONE: 2000, INSTANCES: 20, COLUMNAR: 20, BIGQUERY: 20, THOUSAND: 50, EXPLAIN_ONE: 1000, EXPLAIN_THOUSAND: 10}
EXPLAINED = (EXPLAIN_ONE, EXPLAIN_THOUSAND)
SHAP_RECORDS = 1000


def explain_rows(ours: list[dict], version: Path, bodies: dict[str, Path]) -> list[Row]:
    """``POST /explain`` beside ``POST /`` and beside shap's exact explainer."""
    one, thousand = best(ours, "requests", EXPLAIN_ONE), best(ours, "requests", EXPLAIN_THOUSAND)
    one_p99 = min(r["requests"][EXPLAIN_ONE]["p99_ms"] for r in ours)
    shap_one, shap_thousand = shap_timings(version, bodies)
    plain_one, plain_thousand = best(ours, "requests", ONE), best(ours, "requests", THOUSAND)
    return [
        (f"{EXPLAIN_ONE}: whole request p50 / p99 (ms)", f"{one:.3f} / {one_p99:.3f}", "", "p50 ≤ 1 ms"),
        ("  beside POST / of the same record (×)", f"{one / plain_one:.1f}×", "", ""),
        (f"{EXPLAIN_THOUSAND}: whole request p50 (ms)", f"{thousand:.1f}", "", "≤ 600 ms"),
        ("  beside POST / of the same records (×)", f"{thousand / plain_thousand:.1f}×", "", ""),
        (f"shap's exact explainer, 1 / {SHAP_RECORDS:,} records (ms)", f"{shap_one:.1f} / {shap_thousand:.0f}", "", ""),
        ("  /explain faster than shap, 1 / 1,000 records", f"{shap_one / one:.0f}× / {shap_thousand / thousand:.0f}×",
         "", ""),
    ]  # fmt: skip


def shap_timings(version: Path, bodies: dict[str, Path]) -> tuple[float, float]:
    """shap's exact explainer on the benchmark's first record (p50 of 20) and on its first 1,000 (one run), ms."""
    from default_risk.model.version import read_local_version
    from tests.support.shap_reference import shap_values

    served = read_local_version(version)
    rows = np.array(
        [[r[name] for name in FEATURE_NAMES] for r in json.loads(bodies[EXPLAIN_THOUSAND].read_text())["instances"]],
        dtype=np.float64,
    )
    one = statistics.median(timings(lambda: shap_values(served, rows[:1]), 20)) * 1e3
    started = time.perf_counter()
    shap_values(served, rows[:SHAP_RECORDS])
    return one, (time.perf_counter() - started) * 1e3


def run_harness(functions_dir: Path, version: Path, spec: dict, scratch: Path) -> dict:
    spec_path = scratch / f"spec-{functions_dir.parent.name}.json"
    spec_path.write_text(json.dumps(spec))
    harness = Path(__file__).with_name("harness.py")
    env = os.environ | model_urls(version)
    if spec.get("records"):
        env[RECORDS_URL_ENV] = spec["records"]
    done = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(harness)!r}, run_name='__main__')", str(spec_path)],
        cwd=functions_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the harness failed in {functions_dir}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def best(rounds: list[dict], kind: str, name: str, figure: str = "p50_ms") -> float:
    return min(result[kind][name][figure] for result in rounds)


def whole_requests(version: Path, scratch: Path) -> tuple[list[Row], list[Row]]:
    """Bytes in to bytes out, this code (recording, and with the write dropped) beside ``BASELINE_COMMIT``'s,
    alternately, ``ROUNDS`` rounds: the requests' rows and the records' rows."""
    bodies = bench_bodies(scratch)
    old_functions, old_version = baseline_tree(scratch)
    named = {k: str(v) for k, v in bodies.items()}
    ours_spec = {"bodies": named, "runs": RUNS, "yardstick": [INSTANCES, COLUMNAR], "core": [ONE],
                 "after_idle": [ONE], "stages": [INSTANCES, COLUMNAR, BIGQUERY],
                 "paths": dict.fromkeys(EXPLAINED, "/explain"), "records": str(scratch / "records")}  # fmt: skip
    dropped_spec = {"bodies": named, "runs": RUNS, "after_idle": [ONE], "paths": dict.fromkeys(EXPLAINED, "/explain"),
                    "records": None}  # fmt: skip
    theirs_spec = {"bodies": named, "runs": RUNS, "core": [ONE], "after_idle": [ONE],
                   "paths": dict.fromkeys(EXPLAINED, "/explain")}  # fmt: skip
    ours, dropped, theirs = [], [], []
    for _ in range(ROUNDS):
        ours.append(run_harness(ROOT / "functions", version, ours_spec, scratch))
        dropped.append(run_harness(ROOT / "functions", version, dropped_spec, scratch))
        theirs.append(run_harness(old_functions, old_version, theirs_spec, scratch))
    for result in (*ours, *dropped, *theirs):
        assert all(r["status"] == 200 for r in result["requests"].values()), result["requests"]
    return (
        request_rows(ours, theirs) + idle_rows(ours, dropped, theirs) + explain_rows(ours, version, bodies),
        record_rows(ours, dropped, bodies),
    )


def idle_rows(ours: list[dict], dropped: list[dict], theirs: list[dict]) -> list[Row]:
    """One record's whole request after a pause, as a server meets it between two requests (caches cold), in CPU."""
    mine, without, old = (best(rounds, "after_idle", ONE, "cpu_p50_ms") for rounds in (ours, dropped, theirs))
    return [(f"{ONE}: whole request after {IDLE_SECONDS * 1e3:g} ms idle, CPU p50 (ms): recording / write dropped",
             f"{mine:.2f} / {without:.2f}", f"{old:.2f}", "")]  # fmt: skip


def request_rows(ours: list[dict], theirs: list[dict]) -> list[Row]:
    def ms(value: float) -> str:
        return f"{value:.3f}" if value < 1 else f"{value:.1f}"

    rows: list[Row] = []
    for name in (INSTANCES, COLUMNAR, BIGQUERY):
        mine, old = best(ours, "requests", name), best(theirs, "requests", name)
        rows.append((f"{name}: whole request in-process p50 (ms)", ms(mine), ms(old), "no slower"))
        rows.append((f"  {BASELINE_COMMIT} / this code", f"{old / mine:.2f}×", "1×", ""))
        split = {stage: min(r["stages"][name][stage]["p50_ms"] for r in ours) for stage in ours[0]["stages"][name]}
        rows.append((f"  of which {' / '.join(split)} (ms)", " / ".join(ms(v) for v in split.values()), "", ""))
        if name in YARDSTICK_TARGETS:
            rows += yardstick_rows(ours, name, mine, sum(split[stage] for stage in SCORING_STAGES))
    for kind, what, target in (
        ("requests", "whole request", "no slower"),
        ("core", "scoring core, bytes to p", "≤ 0.12 ms"),
    ):
        rows.append(
            (f"{ONE}: {what} in-process p50 (ms)", ms(best(ours, kind, ONE)), ms(best(theirs, kind, ONE)), target)
        )
    for name in EXPLAINED:
        rows.append((f"{name}: whole request in-process p50 (ms)", ms(best(ours, "requests", name)),
                     ms(best(theirs, "requests", name)), "no slower"))  # fmt: skip
    return rows


YARDSTICK_TARGETS = {INSTANCES: 1.3, COLUMNAR: 2.0}
"""The most a body's request may take, in multiples of orjson's decode of the body and LiteRT's invoke on its rows."""
SCORING_STAGES = ("decode and validate", "score")
"""A request's stages but the records' (``harness.stages``)."""


def yardstick_rows(ours: list[dict], name: str, whole: float, scoring: float) -> list[Row]:
    """A body's request beside what it cannot go below: orjson's decode of the body and LiteRT on its rows, each
    alone; the whole request, and its decoding and scoring without the records' encoding and write."""
    loads, fast, litert = (
        min(r["yardsticks"][name][stick]["p50_ms"] for r in ours) for stick in ("json.loads", "orjson.loads", "LiteRT")
    )
    floor, target = fast + litert, YARDSTICK_TARGETS[name]
    return [
        ("  json.loads / orjson.loads of the body; LiteRT on its rows (ms)", f"{loads:.1f} / {fast:.1f}; {litert:.1f}",
         "", ""),
        ("  whole request / (orjson.loads + LiteRT)", f"{whole / floor:.2f}×", "", f"≤ {target:g}×"),
        ("  decode, validate and score, no records / (orjson.loads + LiteRT)", f"{scoring / floor:.2f}×", "", ""),
    ]  # fmt: skip


def record_rows(ours: list[dict], dropped: list[dict], bodies: dict[str, Path]) -> list[Row]:
    """What recording costs in-process (records written to a local folder and flushed, against the write dropped),
    and the memory a 10,000-record request's records take."""
    rows = []
    for name in (ONE, INSTANCES, COLUMNAR, BIGQUERY, EXPLAIN_ONE):
        mine, without = best(ours, "requests", name), best(dropped, "requests", name)
        rows.append((f"{name}: recording to a local folder / write dropped (ms)",
                     f"{mine:.3f} / {without:.3f}: {mine / without - 1:+.0%}", "", "10,000: ≤ +25 %"))  # fmt: skip
    encode = min(r["stages"][INSTANCES]["encode records"]["p50_ms"] for r in ours)
    rows.append((f"{INSTANCES}: encoding their records (ms), of the whole request", f"{encode:.1f}", "", ""))
    rows.append((f"{INSTANCES}: their records' size and peak memory to encode (MB)", records_memory(bodies), "",
                 "within the memory budget"))  # fmt: skip
    return rows


def records_memory(bodies: dict[str, Path]) -> str:
    """The bytes of a 10,000-record request's records and the peak Python allocation while encoding them."""
    import tracemalloc

    from default_risk.protocols.decoding import scoring_request
    from default_risk.protocols.request_log import RequestLog
    from default_risk.service import records
    from default_risk.service.ids import new_ids

    result = scoring_request(bodies[INSTANCES].read_bytes(), RequestLog()).result
    count = len(result.ids)
    probabilities = np.linspace(0.01, 0.99, count)
    batch = records.Batch(new_ids(count), "predict", "bench", "v" * 33, "0" * 64, result.features, result.ids, None,
                          probabilities, ["B05"] * count, probabilities * 500)  # fmt: skip
    tracemalloc.start()
    size = sum(map(len, records.encode(batch)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return f"{size / 2**20:.1f} / {peak / 2**20:.1f}"


def server_processes(server: Server) -> list:
    """gunicorn's arbiter and its worker."""
    import psutil

    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(server: Server) -> float:
    """The CPU time (user and system) the server's processes have used so far."""
    return sum(sum(process.cpu_times()[:2]) for process in server_processes(server))


def context_switches(server: Server) -> int:
    """The context switches of every thread of the server's processes so far."""
    total = 0
    for process in server_processes(server):
        for thread in Path(f"/proc/{process.pid}/task").iterdir():
            for line in (thread / "status").read_text().splitlines():
                if "ctxt_switches:" in line:  # voluntary and nonvoluntary
                    total += int(line.split()[1])
    return total


RATE_SECONDS = 3.0
HTTP_ROUNDS = 3
"""Rounds of the single-record load, every server in turn in each: a figure is its server's best round."""


def single_record_load(server: Server, singles: list[dict], clients: int) -> dict[str, float]:
    """Requests a second from ``clients`` clients sending one record each, again and again, for ``RATE_SECONDS``; the
    server's CPU time (ms) and context switches per request."""
    done, stop = [0] * clients, threading.Event()

    def client(index: int) -> None:
        while not stop.is_set():
            assert post_json(server.url, singles[index]).status == 200
            done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every client under way
    answered, started, cpu, switches = sum(done), time.perf_counter(), cpu_seconds(server), context_switches(server)
    time.sleep(RATE_SECONDS)
    answered, elapsed = sum(done) - answered, time.perf_counter() - started
    cpu, switches = cpu_seconds(server) - cpu, context_switches(server) - switches
    stop.set()
    for thread in threads:
        thread.join()
    return {"rate": answered / elapsed, "cpu": cpu / answered * 1e3, "switches": switches / answered}


def latencies(server: Server, singles: list[dict], batch: dict) -> dict[str, float]:
    """Sequential 1-record p50 / p99 (ms), a 10,000-record p50 (ms) and the server's CPU time per one (ms)."""
    sequential = []
    for instance in singles[:300]:
        started = time.perf_counter()
        assert post_json(server.url, instance).status == 200
        sequential.append(time.perf_counter() - started)
    p50, p99 = percentiles(sequential)
    batches, cpu_before = [], cpu_seconds(server)
    for _ in range(10):
        started = time.perf_counter()
        assert post_json(server.url, batch, timeout=120).status == 200
        batches.append(time.perf_counter() - started)
    batch_cpu = (cpu_seconds(server) - cpu_before) / len(batches) * 1e3
    return {"p50": p50, "p99": p99, "batch": percentiles(batches)[0], "batch cpu": batch_cpu}


def http_figures(servers: dict[str, Server], singles: list[dict], batch: dict) -> dict[str, dict[str, float]]:
    """Per server: its latencies, then ``HTTP_ROUNDS`` rounds of single-record load at 1 and 8 clients, the servers
    taking turns, so that a shared machine's slow minutes fall on every server alike."""
    figures = {}
    for name, server in servers.items():
        assert post_json(server.url, singles[0]).status == 200  # loads the model
        figures[name] = latencies(server, singles, batch)
    rounds: dict[str, list[dict]] = {name: [] for name in servers}
    for _ in range(HTTP_ROUNDS):
        for name, server in servers.items():
            one, eight = (single_record_load(server, singles, clients) for clients in (1, 8))
            rounds[name].append({"1": one["rate"], "8": eight["rate"], "cpu 8": eight["cpu"],
                                 "switches 8": eight["switches"]})  # fmt: skip
    for name, measured in rounds.items():
        best = max(measured, key=lambda r: r["8"])
        figures[name] |= best | {"1": max(r["1"] for r in measured)}
    return figures


def dropping_records(port: int) -> list[str]:
    """This code's function served with the records' write dropped (the bench's yardstick only)."""
    patch = (
        "import sys; from default_risk.service import records; "
        "records._recorder = records.Recorder(type('Dropped', (), {'put': lambda self, name, parts: None})()); "
        "from functions_framework._cli import _cli; sys.argv[0] = 'functions-framework'; _cli()"
    )
    return [sys.executable, "-c", patch, *functions_framework(port)[1:]]


def bare_function(port: int) -> list[str]:
    """functions-framework serving ``bare_function.py``: a fixed answer, no code of ours."""
    return functions_framework(port, Path(__file__).with_name("bare_function.py"))


def on_one_cpu(command: Callable[[int], list[str]]) -> Callable[[int], list[str]]:
    """``command`` run on the first CPU alone (``taskset``), as this code binds itself on a 1-vCPU instance."""
    return lambda port: ["taskset", "-c", str(min(os.sched_getaffinity(0))), *command(port)]


THIS, DROPPED, GCS = "this code, records to a local folder", "this code, records' write dropped", "this code, to GCS"
OLD, OLD_ONE_CPU = f"code of {BASELINE_COMMIT}", f"code of {BASELINE_COMMIT}, bound to one CPU"
BARE, BARE_ONE_CPU = "functions-framework alone", "functions-framework alone, bound to one CPU"


def over_http(emulator: Server, urls: dict[str, str], scratch: Path) -> list[Row]:
    """This code recording to a local folder, to the storage emulator, and with the write dropped, beside the code
    of ``BASELINE_COMMIT`` (as it was deployed, and bound to one CPU as this code binds itself) and functions-framework
    alone, on loopback with 8 threads and 1 vCPU as deployed."""
    rows, _ = load_rows(10_000, seed=13)
    singles, batch = [record(row) for row in rows[:400]], {"instances": records(rows)}
    old_functions, old_version = baseline_tree(scratch / "http-baseline")
    env = emulator_env(emulator) | urls
    deployed = os.environ | PROCESS_ENV | {"THREADS": "8", CPUS_ENV: "1"}
    old_env = emulator_env(emulator) | model_urls(old_version)
    old, old_one_cpu = (baseline_server(old_functions, old_env, scratch / name) for name in ("http-old", "http-old1"))
    old_one_cpu.command = on_one_cpu(old_one_cpu.command)
    servers = {
        THIS: function_server(env, scratch / "http-local"),
        GCS: function_server(env | {RECORDS_URL_ENV: f"gs://{BUCKET}/decisions"}, scratch / "http-gcs"),
        DROPPED: Server(dropping_records, deployed | env | {RECORDS_URL_ENV: "unused"}, scratch / "http-dropped",
                        ready_path="/healthz"),
        OLD: old,
        OLD_ONE_CPU: old_one_cpu,
        BARE: Server(bare_function, deployed, scratch / "http-bare"),
        BARE_ONE_CPU: Server(on_one_cpu(bare_function), deployed, scratch / "http-bare1"),
    }  # fmt: skip
    with contextlib.ExitStack() as running:
        for server in servers.values():
            running.enter_context(server)
        figures = http_figures(servers, singles, batch)
    local, gcs, dropped, theirs = (figures[name] for name in (THIS, GCS, DROPPED, OLD))
    theirs_one, bare, bare_one = figures[OLD_ONE_CPU], figures[BARE], figures[BARE_ONE_CPU]
    return [
        ("HTTP loopback, 1 record, sequential p50 / p99 (ms)", f"{local['p50']:.1f} / {local['p99']:.1f}",
         f"{theirs['p50']:.1f} / {theirs['p99']:.1f}", ""),
        ("HTTP loopback, 1 record, 1 client / 8 clients (req/s)", f"{local['1']:.0f} / {local['8']:.0f}",
         f"{theirs['1']:.0f} / {theirs['8']:.0f}", "8 clients ≥ 1.5× c16feec and ≥ 1 client"),
        ("  8 clients, this code / c16feec", f"{local['8'] / theirs['8']:.2f}×", "1×", "≥ 1.5×"),
        ("  c16feec bound to one CPU, as this code binds itself: 1 client / 8 clients (req/s)", "",
         f"{theirs_one['1']:.0f} / {theirs_one['8']:.0f}", ""),
        ("  8 clients, this code / c16feec bound to one CPU", f"{local['8'] / theirs_one['8']:.2f}×", "1×", ""),
        ("  records' write dropped: 1 client / 8 clients (req/s)", f"{dropped['1']:.0f} / {dropped['8']:.0f}", "", ""),
        ("  functions-framework alone, a fixed answer, 8 clients: on every CPU / bound to one (req/s)",
         f"{bare['8']:.0f} / {bare_one['8']:.0f}", "", ""),
        ("  8 clients, recording / dropped", f"{local['8'] / dropped['8']:.2f}×", "", "≥ 0.8×"),
        ("HTTP loopback, the server's CPU per request at 8 clients (ms): this code, dropped; c16feec, bound to one",
         f"{local['cpu 8']:.2f}, {dropped['cpu 8']:.2f}", f"{theirs['cpu 8']:.2f}, {theirs_one['cpu 8']:.2f}", ""),
        ("  functions-framework alone: on every CPU / bound to one (ms)",
         f"{bare['cpu 8']:.2f} / {bare_one['cpu 8']:.2f}", "", ""),
        ("HTTP loopback, context switches per request at 8 clients: this code; c16feec, bound to one",
         f"{local['switches 8']:.0f}", f"{theirs['switches 8']:.0f}, {theirs_one['switches 8']:.0f}", ""),
        ("  functions-framework alone: on every CPU / bound to one",
         f"{bare['switches 8']:.0f} / {bare_one['switches 8']:.0f}", "", ""),
        ("HTTP loopback, 10,000 records p50 (ms): recording / dropped",
         f"{local['batch']:.0f} / {dropped['batch']:.0f}: {local['batch'] / dropped['batch'] - 1:+.0%}",
         f"{theirs['batch']:.0f}", "≤ +25 %"),
        ("  the server's CPU per 10,000-record request (ms): recording / dropped",
         f"{local['batch cpu']:.0f} / {dropped['batch cpu']:.0f}", f"{theirs['batch cpu']:.0f}", ""),
        ("HTTP loopback, records to the storage emulator: 1 record p50 (ms), 8 clients (req/s)",
         f"{gcs['p50']:.1f} (+{gcs['p50'] - local['p50']:.1f} over a local folder), {gcs['8']:.0f}", "", ""),
    ]  # fmt: skip


def ensure_venv(path: Path, requirements: Path | None) -> Path:
    """A virtual environment with exactly ``requirements`` (none: pip only), rebuilt when they change."""
    stamp = path / "requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest() if requirements else "baseline"
    if not (stamp.is_file() and stamp.read_text() == digest):
        print(f"creating {path.relative_to(ROOT)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        if requirements:
            subprocess.run([str(path / "bin" / "pip"), "install", "--quiet", "-r", str(requirements)], check=True)
        stamp.write_text(digest)
    return path


def site_packages_bytes(venv: Path) -> int:
    [site] = list((venv / "lib").glob("python3*/site-packages"))
    return sum(f.stat().st_size for f in site.rglob("*") if f.is_file() and not f.is_symlink())


def cold_start(command: Callable[[int], list[str]], env: dict[str, str], work: Path, body: dict) -> tuple[float, float]:
    """(seconds from process start to the first 200, RSS in MB of the serving process after it)."""
    import psutil

    records = {RECORDS_URL_ENV: str(work / "decisions")}
    server = Server(command, os.environ | {"PYTHONUNBUFFERED": "1"} | records | env, work, ready_path="/healthz")
    started = time.perf_counter()
    server.start(timeout=120)
    try:
        while (answer := post_json(server.url, body, timeout=120)).status != 200:
            assert answer.status == 503 and answer.json["error"]["code"] == "model_unavailable", answer.body[:300]
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        process = psutil.Process(server.process.pid)
        rss = max(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    finally:
        server.stop()
    return elapsed, rss


def cold_starts(emulator: Server, urls: dict[str, str], version: Path, scratch: Path) -> list[Row]:
    venv = ensure_venv(SERVING_VENV, REQUIREMENTS)

    def framework(port: int, functions: Path = FUNCTIONS_DIR) -> list[str]:
        return [
            str(venv / "bin" / "functions-framework"),
            "--target=predict",
            f"--source={functions / 'main.py'}",
            "--host=127.0.0.1",
            f"--port={port}",
        ]

    old_functions, old_version = baseline_tree(scratch / "cold-baseline")

    def old_framework(port: int) -> list[str]:
        return framework(port, old_functions)

    keras_url = urls["MODEL_URL"].replace(MODEL_FILE, KERAS_FILE)

    def reference(port: int) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("reference_server.py")), str(port)]

    body = record(load_rows(1, seed=17)[0][0])
    deployed = {"THREADS": "8", CPUS_ENV: "1"}
    local = model_urls(version) | deployed
    ours, theirs, ours_local, old_local = [], [], [], []
    for run in range(COLD_STARTS):
        old_env = model_urls(old_version) | deployed
        old_local.append(cold_start(old_framework, old_env, scratch / f"cold-old{run}", body))
        ours.append(cold_start(framework, emulator_env(emulator) | urls | deployed, scratch / f"cold{run}", body))
        ours_local.append(cold_start(framework, local, scratch / f"cold-local{run}", body))
        reference_env = emulator_env(emulator) | {
            "KERAS_URL": keras_url,
            "PREP_URL": urls["PREP_URL"],
            "FEATURE_SET": json.loads((version / MANIFEST_FILE).read_text())["serving"]["feature_set"],
        }
        theirs.append(cold_start(reference, reference_env, scratch / f"ref{run}", body))
    ours_s = statistics.median(seconds for seconds, _ in ours)
    theirs_s = statistics.median(seconds for seconds, _ in theirs)
    rss = max(mb for _, mb in ours)
    baseline = site_packages_bytes(ensure_venv(BASELINE_VENV, None))
    installed = (site_packages_bytes(venv) - baseline) / 2**20
    return [
        (
            f"cold start → first 200, model from gs:// (s, median of {COLD_STARTS})",
            f"{ours_s:.2f}",
            f"{theirs_s:.2f}",
            "≤ 2.0 s and ≤ 0.5× reference",
        ),
        ("  ratio to reference", f"{ours_s / theirs_s:.2f}×", "1×", "≤ 0.5×"),
        (
            f"cold start → first 200, local model (s, median of {COLD_STARTS})",
            f"{statistics.median(seconds for seconds, _ in ours_local):.2f}",
            "",
            "≤ 0.5 s",
        ),
        (
            f"  code of {BASELINE_COMMIT}, its own local model (s, median of {COLD_STARTS})",
            "",
            f"{statistics.median(seconds for seconds, _ in old_local):.2f}",
            "",
        ),
        (
            "RSS after the first score (MB, gunicorn worker)",
            f"{rss:.0f}",
            f"{max(mb for _, mb in theirs):.0f}",
            "≤ 250 MB",
        ),
        ("installed size of functions/requirements.txt (MB)", f"{installed:.0f}", "", "≤ 250 MB"),
    ]


def machine() -> str:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{cpu}, {psutil.cpu_count(logical=True)} logical cores, {psutil.virtual_memory().total / 2**30:.1f} GiB; "
        f"Python {platform.python_version()}; load average {load}"
    )


def print_table(rows: list[Row], versus: str) -> None:
    header = ("measure", "this code", versus, "target")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
    print()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_name:
        scratch = Path(scratch_name)
        version = promoted_version_dir()
        print(f"model {version.name}; machine: {machine()}", flush=True)
        requests, recorded = whole_requests(version, scratch)
        with storage_emulator(scratch / "gcs") as emulator:
            urls = publish(version, emulator, BUCKET)
            http = over_http(emulator, urls, scratch)
            cold = cold_starts(emulator, urls, version, scratch)
        print()
        print_table(requests, f"code of {BASELINE_COMMIT} (model {BASELINE_VERSION[:13]}...)")
        print_table(recorded, "")
        print_table(http, f"code of {BASELINE_COMMIT}")
        print_table(cold, "reference (TF/Keras)")


if __name__ == "__main__":
    main()
