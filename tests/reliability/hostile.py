"""Hand-made hostile requests, each with the status the API documents for it.

``run_case`` sends one case to a running function server and measures the answer's time and the
server's peak memory while it was handled; tests assert on it and ``make reliability`` prints it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.limits import MAX_BODY_BYTES, MAX_INSTANCES
from default_risk.protocols import budget
from default_risk.protocols.admission import HEAVY_BYTES, LIGHT_THREADS
from tests.reliability.measure import MB, PeakRss
from tests.reliability.rawhttp import Answer, send
from tests.support.local_cloud import Server

JSON = {"Content-Type": "application/json"}
SAMPLE_RECORD: dict[str, int] = dict(
    zip(
        FEATURE_NAMES,
        (20000, 2, 2, 1, 24, 2, 2, -1, -1, -2, -2, 3913, 3102, 689, 0, 0, 0, 0, 689, 0, 0, 0, 0),
        strict=True,
    )
)
"""The first row of the UCI data set."""
MAX_SECONDS = 3.0
"""Every hostile request is answered within this (loopback, a warm server)."""
MAX_RSS_GROWTH = 40 * MB
"""The memory budget of one request (docs/user_guides/scoring.md): the server's peak resident memory while
one hostile request is handled may exceed the level before by this."""
MAX_ERROR_BODY = 32 * 1024
"""An error body echoes at most a bounded snippet of the input: never more than this in total."""


@dataclass(frozen=True)
class Case:
    """One hostile request. ``body`` is built lazily (some are 50 MB)."""

    name: str
    status: int
    body: Callable[[], bytes | Iterable[bytes]] = lambda: b""
    method: str = "POST"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    chunked: bool = False
    framed: bool = False
    """The body is chunk-framed already, perhaps badly (``rawhttp.send``)."""
    names_field: str | None = None
    """An error detail must name this field."""


@dataclass
class Result:
    case: Case
    answer: Answer
    rss_before: int
    rss_peak: int

    @property
    def problems(self) -> list[str]:
        """What is wrong with the answer; empty when it is as documented."""
        found = []
        answer, case = self.answer, self.case
        if answer.status != case.status:
            found.append(f"status {answer.status}, expected {case.status}: {answer.body[:300]!r}")
        if answer.seconds > MAX_SECONDS:
            found.append(f"took {answer.seconds:.2f} s > {MAX_SECONDS} s")
        if self.rss_peak - self.rss_before > MAX_RSS_GROWTH:
            found.append(f"server RSS grew by {(self.rss_peak - self.rss_before) / MB:.0f} MB")
        if answer.status >= 400 and case.method != "HEAD":
            if len(answer.body) > MAX_ERROR_BODY:
                found.append(f"error body of {len(answer.body)} bytes")
            error = answer.json()
            if not (isinstance(error, dict) and isinstance(error.get("error"), dict)):
                found.append(f"error body is not the documented JSON error: {answer.body[:200]!r}")
            elif case.names_field and case.names_field not in json.dumps(error["error"], ensure_ascii=False):
                found.append(f"error does not name {case.names_field!r}: {answer.body[:300]!r}")
        return found


def record_json(record: dict, **replace: str) -> str:
    """A record as JSON text, with some values replaced by raw JSON text (e.g. ``1e400``)."""
    text = json.dumps(record)
    for name, raw in replace.items():
        text = text.replace(f'"{name}": {json.dumps(record[name])}', f'"{name}": {raw}', 1)
    return text


def instances_body(records: str, count: int) -> Iterable[bytes]:
    """``{"instances": [records, ...]}`` with ``count`` copies, produced piecewise."""
    yield b'{"instances": ['
    piece = records.encode()
    yield b",".join([piece] * count)
    yield b"]}"


def _nested(depth: int) -> bytes:
    return b'{"instances": [' + b"[" * depth + b"]" * depth + b"]}"


def _items(item: bytes, count: int) -> bytes:
    return b'{"instances": [' + b",".join([item] * count) + b"]}"


def _filling(item: bytes) -> bytes:
    """``{"instances": [item, item, ...]}`` as large as the byte limit allows."""
    return _items(item, (MAX_BODY_BYTES - 20) // (len(item) + 1))


def _one_object(members: int) -> bytes:
    return b"{" + b",".join(b'"k%d":0' % number for number in range(members)) + b"}"


def _widest_records() -> bytes:
    widest = json.dumps({**SAMPLE_RECORD, **{f"x{n}": 0 for n in range(budget.MAX_OBJECT_MEMBERS - 24)}})
    return b"".join(instances_body(widest, budget.MAX_VALUES // budget.MAX_OBJECT_MEMBERS))


def _long_ids(**replace: str) -> bytes:
    record = record_json({**SAMPLE_RECORD, "id": "x" * 256}, **replace)
    return b"".join(instances_body(record, MAX_INSTANCES))


def _duplicate_key() -> bytes:
    text = json.dumps(SAMPLE_RECORD)
    return text.replace("{", '{"LIMIT_BAL": 999999, ', 1).encode()


def _fifty_megabytes() -> Iterable[bytes]:
    filler = json.dumps({**SAMPLE_RECORD, "id": "x" * 900})
    return instances_body(filler, 50 * MB // len(filler))


def _unicode_names() -> bytes:
    record = {**SAMPLE_RECORD}
    record["ＬＩＭＩＴ_BAL"] = record.pop("LIMIT_BAL")  # fullwidth letters
    return json.dumps(record, ensure_ascii=False).encode()


MEMORY_CASES: tuple[Case, ...] = (
    Case("worst for memory: 8 MiB of empty objects", 413, lambda: _filling(b"{}")),
    Case("worst for memory: 8 MiB of empty arrays", 413, lambda: _filling(b"[]")),
    Case("worst for memory: 8 MiB of nesting", 413, lambda: _nested((MAX_BODY_BYTES - 20) // 2)),
    Case("worst for memory: 10,000 empty arrays", 400, lambda: _items(b"[]", MAX_INSTANCES)),
    Case("worst for memory: 260,000 short numbers", 413, lambda: _items(b"0", budget.MAX_VALUES - 1)),
    Case("worst for memory: 260,000 short strings", 413, lambda: _items(b'"ab"', budget.MAX_VALUES - 1)),
    Case("worst for memory: 8 MiB of strings full of commas", 400, lambda: _filling(b'"' + b"," * 1000 + b'"')),
    Case("worst for memory: one object of 260,000 keys", 400, lambda: _one_object(budget.MAX_VALUES)),
    Case("worst for memory: 2,031 records of 128 fields", 400, _widest_records, names_field="x0"),
    Case("worst for memory: 10,000 records, 256-character ids", 200, _long_ids),
    Case(
        "worst for memory: 10,000 records, long ids, a bad AGE each", 400, lambda: _long_ids(AGE="5"), names_field="AGE"
    ),
)
"""Bodies within the byte limit built to cost the most memory: each must stay within ``MAX_RSS_GROWTH``."""
HEAVIEST = (*(case for case in MEMORY_CASES if case.status != 413), MEMORY_CASES[1])
"""The worst bodies that reach a decoder, and the costliest one refused before it."""

CASES: tuple[Case, ...] = (
    Case("valid record (control)", 200, lambda: json.dumps(SAMPLE_RECORD).encode()),
    Case("valid batch, chunked body", 200, lambda: instances_body(json.dumps(SAMPLE_RECORD), 100), chunked=True),
    Case("deeply nested JSON (5,000 levels)", 400, lambda: _nested(5_000)),
    Case("deeply nested JSON (100,000 levels)", 413, lambda: _nested(100_000)),
    Case("50 MB body", 413, _fifty_megabytes),
    Case("50 MB body, chunked (no Content-Length)", 413, _fifty_megabytes, chunked=True),
    Case("chunked body, a chunk size that is not hexadecimal", 400, lambda: b"zz\r\n{}\r\n0\r\n\r\n", framed=True),
    Case("chunked body, a chunk longer than its size", 400, lambda: b"2\r\n{}XX\r\n0\r\n\r\n", framed=True),
    Case("100,000 instances", 413, lambda: instances_body(json.dumps(SAMPLE_RECORD), 100_000)),
    Case("100,000 empty instances", 413, lambda: instances_body("{}", 100_000)),
    Case("10,000 empty instances (200,000 problems)", 400, lambda: instances_body("{}", 10_000), names_field="PAY_0"),
    *MEMORY_CASES,
    Case("duplicate key", 400, _duplicate_key, names_field="LIMIT_BAL"),
    Case("number 1e400", 400, lambda: record_json(SAMPLE_RECORD, LIMIT_BAL="1e400").encode(), names_field="LIMIT_BAL"),
    Case("integer of 5,000 digits", 400, lambda: record_json(SAMPLE_RECORD, AGE="9" * 5000).encode()),
    Case("NaN literal", 400, lambda: record_json(SAMPLE_RECORD, PAY_AMT1="NaN").encode(), names_field="PAY_AMT1"),
    Case("unicode field name", 400, _unicode_names, names_field="LIMIT_BAL"),
    Case("id of 1 MB", 400, lambda: json.dumps({**SAMPLE_RECORD, "id": "x" * MB}).encode(), names_field="id"),
    Case("invalid UTF-8", 415, lambda: json.dumps(SAMPLE_RECORD).encode().replace(b"{", b'{"id": "\xff\xfe", ', 1)),
    Case("UTF-16 body past the budget", 415, lambda: ('["\u0122"' + ",{}" * 1_390_000 + "]").encode("utf-16-le")),
    Case("UTF-32 record with a byte-order mark", 415, lambda: json.dumps(SAMPLE_RECORD).encode("utf-32")),
    Case("not JSON", 400, lambda: b'{"instances": [{"LIMIT_BAL": 1,'),
    Case("empty body", 400),
    Case("JSON array at top level", 400, lambda: b"[1, 2, 3]"),
    Case("empty instances", 400, lambda: b'{"instances": []}', names_field="instances"),
    Case(
        "Content-Type text/plain",
        415,
        lambda: json.dumps(SAMPLE_RECORD).encode(),
        headers={"Content-Type": "text/plain"},
    ),
    Case(
        "Content-Type form",
        415,
        lambda: b"LIMIT_BAL=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case("no Content-Type", 415, lambda: json.dumps(SAMPLE_RECORD).encode(), headers={}),
    Case("HEAD /", 200, method="HEAD", headers={}),
    Case("PUT /", 405, lambda: json.dumps(SAMPLE_RECORD).encode(), method="PUT"),
    Case("DELETE /", 405, method="DELETE", headers={}),
)


def at_once_problems(answers: list[Answer], case: Case) -> list[str]:
    """What is wrong with the answers to copies of ``case`` sent at once: each must be its documented status, or 503
    ``overloaded`` for the heavy copies past what the instance admits (all its threads but ``LIGHT_THREADS``)."""
    admits = len(answers) - LIGHT_THREADS if len(body_of(case)) > HEAVY_BYTES else len(answers)
    statuses = [answer.status for answer in answers]
    refused = [answer for answer in answers if answer.status == 503]
    found = []
    if statuses.count(case.status) < admits or set(statuses) - {case.status, 503}:
        found.append(f"statuses {sorted(statuses)}: at least {admits} of {len(answers)} should be {case.status}")
    if any((answer.json() or {}).get("error", {}).get("code") != "overloaded" for answer in refused):
        found.append(f"a 503 that is not overloaded: {refused[0].body[:200]!r}")
    return found


def body_of(case: Case) -> bytes:
    body = case.body()
    return body if isinstance(body, bytes) else b"".join(body)


def run_at_once(server: Server, case: Case, copies: int) -> tuple[list[Answer], int, int]:
    """Send ``copies`` of ``case`` at once: the answers, the server's memory before and its peak."""
    body = body_of(case)
    peak = PeakRss(server)
    with peak.watch(), ThreadPoolExecutor(copies) as pool:
        answers = list(pool.map(lambda _: send(server.url + case.path, case.method, body, case.headers), range(copies)))
    return answers, peak.before, peak.peak


def run_case(server: Server, case: Case) -> Result:
    """Send ``case`` to ``server``, watching the server's memory while it answers."""
    peak = PeakRss(server)
    with peak.watch():
        answer = send(
            server.url + case.path, case.method, case.body(), case.headers, chunked=case.chunked, framed=case.framed
        )
    return Result(case, answer, peak.before, peak.peak)
