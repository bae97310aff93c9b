"""`make bench`: this code's scoring path beside the code of an earlier commit, side by side in one run.

Whole requests in-process (``harness``: the entry point ``main.predict`` from body bytes to response
bytes, through Flask's request object) for one record, 10,000 records as ``instances`` and as columnar
``inputs``, and a BigQuery call of 10,000 rows; each beside the same request to the code of
``BASELINE_COMMIT`` (serving its own promoted model, which that code can load), and beside the standard
library's ``json.loads`` of the same body as a yardstick. The two trees run alternately, several rounds,
each figure the best round's p50. Then HTTP round trips on loopback, cold start (process start to the
first 200 with the model fetched from the storage emulator, in a virtual environment holding only
``functions/requirements.txt``, beside a minimal TensorFlow server), memory after the first score, and
the installed size of the requirements. Uses ``models/LATEST`` when it exists, else trains a small model.
"""

from __future__ import annotations

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
from typing import TYPE_CHECKING

import numpy as np

from default_risk.contract.artifacts import (
    KERAS_FILE,
    LATEST_POINTER,
    MANIFEST_FILE,
    MODEL_FILE,
    MODELS_PREFIX,
    PREP_FILE,
)
from default_risk.contract.fields import FEATURE_NAMES
from tests.support.gcs import BUCKET, publish
from tests.support.http import post_json
from tests.support.local_cloud import (
    FUNCTIONS_DIR,
    ROOT,
    Server,
    emulator_env,
    function_server,
    storage_emulator,
)
from tests.support.records import record, records
from tests.support.tiny_model import load_rows

if TYPE_CHECKING:
    pass

BASELINE_COMMIT = "d75d124"
"""The last commit before the serving package and typed decoding (its model: ``BASELINE_VERSION``)."""
BASELINE_VERSION = "v49be20b88113"
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


def version_dir(scratch: Path) -> Path:
    """The trained model (``models/LATEST``), or a small one trained now."""
    pointer = ROOT / MODELS_PREFIX / LATEST_POINTER
    if pointer.is_file():
        return ROOT / MODELS_PREFIX / pointer.read_text().strip()
    from tests.support.tiny_model import train_tiny_version

    print("models/LATEST not found: training a small model for the benchmark", flush=True)
    return train_tiny_version(scratch / MODELS_PREFIX, rows=8000, epochs=5)


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


def baseline_tree(scratch: Path) -> tuple[Path, Path]:
    """(functions folder, model version folder) of ``BASELINE_COMMIT``, extracted from git."""
    target = scratch / "baseline"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", BASELINE_COMMIT, "functions", f"{MODELS_PREFIX}/{BASELINE_VERSION}"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "functions", target / MODELS_PREFIX / BASELINE_VERSION


def explain_rows(
    ours: list[dict], one_with_without: tuple[list[dict], list[dict]], version: Path, bodies: dict[str, Path]
) -> list[Row]:
    """``POST /explain`` beside ``POST /`` and beside shap's exact explainer; the cost of bands on ``POST /``
    (one record, in two processes that do only that, with the bands and without)."""
    one, thousand = best(ours, "requests", EXPLAIN_ONE), best(ours, "requests", EXPLAIN_THOUSAND)
    one_p99 = min(r["requests"][EXPLAIN_ONE]["p99_ms"] for r in ours)
    shap_one, shap_thousand = shap_timings(version, bodies)
    plain_one, plain_thousand = best(ours, "requests", ONE), best(ours, "requests", THOUSAND)
    with_bands, without = (best(runs, "requests", ONE) for runs in one_with_without)
    return [
        (f"{EXPLAIN_ONE}: whole request p50 / p99 (ms)", f"{one:.3f} / {one_p99:.3f}", "", "p50 ≤ 1 ms"),
        ("  beside POST / of the same record (×)", f"{one / plain_one:.1f}×", "", ""),
        (f"{EXPLAIN_THOUSAND}: whole request p50 (ms)", f"{thousand:.1f}", "", "≤ 600 ms"),
        ("  beside POST / of the same records (×)", f"{thousand / plain_thousand:.1f}×", "", ""),
        (
            f"shap's exact explainer, 1 / {SHAP_RECORDS:,} records (ms)",
            f"{shap_one:.1f} / {shap_thousand:.0f}",
            "",
            "",
        ),
        (
            "  /explain faster than shap, 1 / 1,000 records",
            f"{shap_one / one:.0f}× / {shap_thousand / thousand:.0f}×",
            "",
            "≥ 50×",
        ),
        (
            f"{ONE}: POST / with risk band and band counts, against both patched out (ms)",
            f"{with_bands:.3f} vs {without:.3f}: {with_bands / without - 1:+.1%}",
            "",
            "≤ +5 %",
        ),
    ]


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
    env = os.environ | {"MODEL_URL": str(version / MODEL_FILE), "PREP_URL": str(version / PREP_FILE)}
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


def whole_requests(version: Path, scratch: Path) -> list[Row]:
    """Bytes in to bytes out, this code beside ``BASELINE_COMMIT``'s, alternately, ``ROUNDS`` rounds."""
    bodies = bench_bodies(scratch)
    old_functions, old_version = baseline_tree(scratch)
    ours_spec = {"bodies": {k: str(v) for k, v in bodies.items()}, "runs": RUNS, "yardstick": [INSTANCES, COLUMNAR]}
    ours_spec |= {
        "core": [ONE],
        "stages": [INSTANCES, COLUMNAR, BIGQUERY],
        "paths": dict.fromkeys(EXPLAINED, "/explain"),
    }
    # The cost of bands: two processes doing the same and only that, one record, with and without them.
    one_spec = {"bodies": {ONE: str(bodies[ONE])}, "runs": RUNS}
    bare_spec = one_spec | {"without_bands": True}
    old_bodies = {k: str(v) for k, v in bodies.items() if k in (ONE, INSTANCES, BIGQUERY)}
    theirs_spec = {"bodies": old_bodies, "runs": RUNS, "core": [ONE]}
    ours, ours_one, bare, theirs = [], [], [], []
    for _ in range(ROUNDS):
        ours.append(run_harness(ROOT / "functions", version, ours_spec, scratch))
        ours_one.append(run_harness(ROOT / "functions", version, one_spec, scratch))
        bare.append(run_harness(ROOT / "functions", version, bare_spec, scratch))
        theirs.append(run_harness(old_functions, old_version, theirs_spec, scratch))
    for result in (*ours, *ours_one, *bare, *theirs):
        assert all(r["status"] == 200 for r in result["requests"].values()), result["requests"]
    return request_rows(ours, theirs) + explain_rows(ours, (ours_one, bare), version, bodies)


def request_rows(ours: list[dict], theirs: list[dict]) -> list[Row]:
    def ms(value: float) -> str:
        return f"{value:.3f}" if value < 1 else f"{value:.1f}"

    rows: list[Row] = []
    for name, target, speedup in (
        (INSTANCES, "≤ 70 ms", "≥ 2.5×"),
        (COLUMNAR, "≤ 50 ms", "≥ 4×"),
        (BIGQUERY, "≤ 50 ms", ""),
    ):
        mine = best(ours, "requests", name)
        old = best(theirs, "requests", INSTANCES if name == COLUMNAR else name)
        versus = ms(old) + (" (as instances: no columnar input)" if name == COLUMNAR else "")
        rows.append((f"{name}: whole request in-process p50 (ms)", ms(mine), versus, target))
        rows.append((f"  speed-up over {BASELINE_COMMIT}", f"{old / mine:.1f}×", "1×", speedup))
        split = {stage: min(r["stages"][name][stage]["p50_ms"] for r in ours) for stage in ours[0]["stages"][name]}
        rows.append((f"  of which {' / '.join(split)} (ms)", " / ".join(ms(v) for v in split.values()), "", ""))
        if name in (INSTANCES, COLUMNAR):
            loads = best(ours, "json_loads", name)
            rows.append(
                (
                    "  json.loads of the body p50 (ms); request / json.loads",
                    f"{ms(loads)}; {mine / loads:.2f}×",
                    "",
                    "≤ 1.5×",
                )
            )
    for kind, what, target in (
        ("requests", "whole request", "no slower"),
        ("core", "scoring core, bytes to p", "≤ 0.12 ms"),
    ):
        rows.append(
            (f"{ONE}: {what} in-process p50 (ms)", ms(best(ours, kind, ONE)), ms(best(theirs, kind, ONE)), target)
        )
    return rows


def over_http(emulator: Server, urls: dict[str, str], scratch: Path) -> list[Row]:
    rows, _ = load_rows(400, seed=13)
    one = [record(row) for row in rows]
    with function_server(emulator_env(emulator) | urls, scratch / "http", threads=8) as server:
        assert post_json(server.url, one[0]).status == 200  # loads the model
        sequential = []
        for instance in one[:300]:
            started = time.perf_counter()
            assert post_json(server.url, instance).status == 200
            sequential.append(time.perf_counter() - started)
        done, stop = [0] * 8, threading.Event()

        def client(index: int) -> None:
            while not stop.is_set():
                assert post_json(server.url, one[index]).status == 200
                done[index] += 1

        clients = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        started = time.perf_counter()
        for thread in clients:
            thread.start()
        time.sleep(5)
        stop.set()
        for thread in clients:
            thread.join()
        throughput = sum(done) / (time.perf_counter() - started)
    p50, p99 = percentiles(sequential)
    return [
        ("HTTP loopback, 1 record, sequential p50 / p99 (ms)", f"{p50:.1f} / {p99:.1f}", "", ""),
        ("HTTP loopback, 8 concurrent clients (req/s)", f"{throughput:.0f}", "", ""),
    ]


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

    server = Server(command, os.environ | {"PYTHONUNBUFFERED": "1"} | env, work, ready_path="/healthz")
    started = time.perf_counter()
    server.start(timeout=120)
    try:
        while (status := post_json(server.url, body, timeout=120).status) != 200:
            assert status == 503, status
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        process = psutil.Process(server.process.pid)
        rss = max(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    finally:
        server.stop()
    return elapsed, rss


def cold_starts(emulator: Server, urls: dict[str, str], version: Path, scratch: Path) -> list[Row]:
    venv = ensure_venv(SERVING_VENV, REQUIREMENTS)

    def framework(port: int) -> list[str]:
        return [
            str(venv / "bin" / "functions-framework"),
            "--target=predict",
            f"--source={FUNCTIONS_DIR / 'main.py'}",
            "--host=127.0.0.1",
            f"--port={port}",
        ]

    keras_url = urls["MODEL_URL"].replace(MODEL_FILE, KERAS_FILE)

    def reference(port: int) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("reference_server.py")), str(port)]

    body = record(load_rows(1, seed=17)[0][0])
    ours, theirs = [], []
    for run in range(COLD_STARTS):
        ours.append(
            cold_start(framework, emulator_env(emulator) | urls | {"THREADS": "8"}, scratch / f"cold{run}", body)
        )
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
        version = version_dir(scratch)
        print(f"model {version.name}; machine: {machine()}", flush=True)
        requests = whole_requests(version, scratch)
        with storage_emulator(scratch / "gcs") as emulator:
            urls = publish(version, emulator, BUCKET)
            served = over_http(emulator, urls, scratch) + cold_starts(emulator, urls, version, scratch)
        print()
        print_table(requests, f"code of {BASELINE_COMMIT} (model {BASELINE_VERSION})")
        print_table(served, "reference (TF/Keras)")


if __name__ == "__main__":
    main()
