"""``make reliability``: every reliability figure in one table, measured on real local servers.

Starts the storage emulator and a function server on loopback, then runs: generated requests
(schemathesis on /openapi.json, hypothesis properties over HTTP), the hand-made hostile requests,
the fault matrix (behind the fault proxy) and a bounded load. Prints one table, writes it to
``reports/reliability.md`` and exits non-zero if any check failed.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil

from tests.infra.terraform import kubernetes_bytes, named_blocks
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.faults import SCENARIOS, FaultBench, Row, sigterm_in_flight
from tests.reliability.generated import Tally, http_properties, run_schemathesis
from tests.reliability.hostile import CASES, HEAVIEST, SAMPLE_RECORD, at_once_problems, run_at_once, run_case
from tests.reliability.load import load_test
from tests.reliability.measure import MB
from tests.support.gcs import BUCKET, publish
from tests.support.http import post_json
from tests.support.local_cloud import ROOT, emulator_env, function_server, storage_emulator
from tests.support.tiny_model import train_tiny_version

MAX_RSS_GROWTH = 0.10
REPORT = ROOT / "reports" / "reliability.md"


class Table:
    """Rows of (section, check, result, figure); a result other than PASS fails the run."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, section: str, check: str, passed: bool, figure: str) -> None:
        self.rows.append((section, check, "PASS" if passed else "FAIL", figure.replace("|", "/").replace("\n", " ")))
        print(f"  {'PASS' if passed else 'FAIL'}  {section}: {check}: {figure[:200]}", flush=True)

    @property
    def failed(self) -> int:
        return sum(1 for row in self.rows if row[2] != "PASS")

    def markdown(self) -> str:
        lines = ["| section | check | result | figure |", "|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in self.rows]
        return "\n".join(lines)


def statuses(counter: Counter) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in sorted(counter.items()))


def generated(table: Table, url: str, schemathesis_examples: int, property_examples: int, work: Path) -> int:
    started = time.perf_counter()
    schema_run = run_schemathesis(url, schemathesis_examples, work)
    table.add(
        "generated",
        f"schemathesis {schemathesis_examples} examples/operation, all checks, positive+negative",
        schema_run.server_errors == 0 and not schema_run.failures,
        f"{schema_run.requests:,} requests ({statuses(schema_run.statuses)}); "
        f"{'no check failed' if not schema_run.failures else schema_run.failures[0][-600:]} "
        f"({time.perf_counter() - started:.0f} s)",
    )
    started = time.perf_counter()
    try:
        properties = http_properties(url, property_examples)
        problem = ""
    except AssertionError as error:  # hypothesis re-raises the shrunk counterexample
        properties, problem = Tally(), str(error)[:600]
    table.add(
        "generated",
        f"hypothesis over HTTP, {property_examples} valid batches + {property_examples} one-bad-field records",
        not problem and properties.server_errors == 0,
        problem
        or f"{properties.requests:,} requests ({statuses(properties.statuses)}); every p in [0, 1], "
        f"every bad field named with its instance ({time.perf_counter() - started:.0f} s)",
    )
    total = schema_run.requests + properties.requests
    errors = schema_run.server_errors + properties.server_errors
    table.add(
        "generated",
        "total generated requests ≥ 10,000, none ≥ 500",
        total >= 10_000 and errors == 0,
        f"{total:,} requests, {errors} answers ≥ 500",
    )
    return total


def hostile(table: Table, server) -> None:
    for case in CASES:
        result = run_case(server, case)
        problems = result.problems
        table.add(
            "hostile",
            case.name,
            not problems,
            f"{result.answer.status} (documented {case.status}) in {result.answer.seconds * 1000:.0f} ms, "
            f"peak RSS {result.rss_peak / MB:.0f} MB (+{(result.rss_peak - result.rss_before) / MB:.1f} MB)"
            + (f"; {'; '.join(problems)}" if problems else ""),
        )


def at_once(table: Table, server, copies: int, memory: int) -> None:
    for case in HEAVIEST:
        answers, before, peak = run_at_once(server, case, copies)
        table.add(
            "memory",
            f"{copies} at once: {case.name.removeprefix('worst for memory: ')}",
            not at_once_problems(answers, case) and peak < memory,
            f"statuses {sorted(answer.status for answer in answers)} (documented {case.status}, or 503 past what "
            "the instance admits); "
            f"peak RSS {peak / MB:.0f} MB (+{(peak - before) / MB:.1f} MB) of {memory / MB:.0f} MB",
        )


def faults(table: Table, bench: FaultBench) -> None:
    scenarios: list[Callable[[FaultBench], Row]] = [*SCENARIOS, sigterm_in_flight]
    for scenario in scenarios:
        try:
            row = scenario(bench)
            table.add("fault", row.fault, True, f"{row.while_broken}; log: {row.log}; after: {row.recovered}")
        except Exception as error:  # a broken scenario is a FAIL row; the others still run
            table.add("fault", scenario.__name__, False, f"{type(error).__name__}: {str(error)[:500]}")
            traceback.print_exc()
        finally:
            bench.proxy.set("pass")
            bench.stop_all()
            bench.servers.clear()


def load(table: Table, server, requests: int, concurrency: int) -> None:
    result = load_test(server, requests, concurrency)
    table.add(
        "load",
        f"{requests:,} requests at concurrency {concurrency} (80 % single, 20 % batches of 2-100)",
        not result.errors and result.statuses == Counter({200: requests}),
        f"{statuses(result.statuses)}; {len(result.errors)} errors; {result.records:,} records scored",
    )
    table.add(
        "load",
        "latency p50 / p95 / p99",
        True,
        f"{result.percentile(50):.1f} / {result.percentile(95):.1f} / {result.percentile(99):.1f} ms; "
        f"{result.requests_per_second:,.0f} req/s, {result.records / result.seconds:,.0f} records/s",
    )
    table.add(
        "load",
        f"server RSS after warm-up → end (growth ≤ {MAX_RSS_GROWTH:.0%})",
        result.rss_growth <= MAX_RSS_GROWTH,
        f"{result.rss_start / MB:.0f} MB → {result.rss_end / MB:.0f} MB ({result.rss_growth:+.1%})",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemathesis-examples", type=int, default=1000, help="per operation and mode")
    parser.add_argument("--property-examples", type=int, default=4500, help="for each HTTP property")
    parser.add_argument("--requests", type=int, default=20_000, help="load: measured requests")
    parser.add_argument("--concurrency", type=int, default=32, help="load: client threads")
    args = parser.parse_args(argv)

    table = Table()
    with tempfile.TemporaryDirectory(prefix="reliability-") as name:
        work = Path(name)
        print("training two tiny model versions ...", flush=True)
        version_dir = train_tiny_version(work / "models")
        other_version_dir = train_tiny_version(work / "models", seed=1)
        with storage_emulator(work / "emulator") as emulator:
            urls = publish(version_dir, emulator, BUCKET)
            with function_server(emulator_env(emulator) | urls, work / "function") as server:
                assert post_json(server.url + "/", SAMPLE_RECORD).status == 200, "the function does not score"
                print("generated requests ...", flush=True)
                total = generated(table, server.url, args.schemathesis_examples, args.property_examples, work)
                print("hostile requests ...", flush=True)
                hostile(table, server)
                variables = named_blocks("variable")
                copies = int(variables["function_concurrency"]["default"])
                at_once(table, server, copies, kubernetes_bytes(variables["function_memory"]["default"]))
                print("load ...", flush=True)
                load(table, server, args.requests, args.concurrency)
            print("fault matrix ...", flush=True)
            with FaultProxy(emulator.url) as proxy:
                faults(table, FaultBench(emulator, proxy, BUCKET, version_dir, other_version_dir, work / "faults"))

    machine = (
        f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, Python {platform.python_version()}"
    )
    text = (
        f"Reliability run: {total:,} generated + {args.requests:,} load requests; {machine}; "
        f"{len(table.rows) - table.failed} passed, {table.failed} failed\n\n{table.markdown()}\n"
    )
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text)
    print("\n" + text)
    print(f"(written to {REPORT.relative_to(ROOT)})")
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
