"""Slow senders: a body that has not arrived by its deadline, or that trickles while the instance is full, gets 408
``body_timeout`` and frees its thread; a head (request line and headers) that does either is cut, and frees its
thread too.

The senders stall or trickle for far longer than any bound but the one under test (their bodies would take minutes),
so each answer below can only come from that bound: the tests wait for answers, never for a time.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from default_risk.protocols.body_deadline import MIN_BYTES_PER_SECOND, SLOW_AFTER_SECONDS, TIMEOUT_ENV, too_slow
from tests.conftest import StartFunction
from tests.reliability.hostile import SAMPLE_RECORD
from tests.support.http import log_lines, post_json
from tests.support.local_cloud import Server

DEADLINE_SECONDS = "2"
BODY = json.dumps(SAMPLE_RECORD).encode()
TRICKLE_SECONDS_PER_BYTE = 0.5
"""A whole body at this pace takes minutes: only the deadline can end the request."""


def trickling(connection: socket.socket, data: bytes, done: threading.Event, stop: threading.Event | None) -> None:
    """Send ``data`` on ``connection`` a byte every ``TRICKLE_SECONDS_PER_BYTE``, from a thread of its own, until
    ``done``; on ``stop`` hang up."""

    def send() -> None:
        for byte in data:
            if done.wait(TRICKLE_SECONDS_PER_BYTE):
                return
            try:
                if stop is not None and stop.is_set():
                    connection.shutdown(socket.SHUT_RDWR)
                    return
                connection.sendall(bytes([byte]))
            except OSError:
                return

    threading.Thread(target=send, daemon=True).start()


def slow_post(url: str, chunked: bool, trickle: bool, stop: threading.Event | None = None) -> tuple[int, dict]:
    """POST ``BODY`` whose first 10 bytes arrive at once and the rest never (``trickle``: a byte at a time); ``stop``
    hangs up (status 0)."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=60)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(BODY)}"
    head = f"POST / HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    connection.sendall(head.encode() + (f"{len(BODY):x}\r\n".encode() if chunked else b"") + BODY[:10])
    answered = threading.Event()
    if trickle:
        trickling(connection, BODY[10:], answered, stop)
    try:
        response = http.client.HTTPResponse(connection, method="POST")
        try:
            response.begin()
        except (OSError, http.client.HTTPException):
            if stop is not None and stop.is_set():
                return 0, {}
            raise
        return response.status, json.loads(response.read())
    finally:
        answered.set()
        connection.close()


@pytest.fixture
def deadline_server(start_function: StartFunction) -> Server:
    server = start_function(**{TIMEOUT_ENV: DEADLINE_SECONDS})
    assert post_json(server.url + "/", SAMPLE_RECORD).status == 200  # the model loaded: only bodies are slow
    return server


@pytest.mark.parametrize("trickle", [False, True], ids=["stalled", "trickling"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_that_does_not_arrive_in_time_gets_408(deadline_server: Server, chunked: bool, trickle: bool) -> None:
    status, answer = slow_post(deadline_server.url + "/", chunked, trickle)
    assert status == 408, answer
    assert answer["error"]["code"] == "body_timeout"
    assert answer["error"]["message"] == f"the body did not arrive within {DEADLINE_SECONDS} s"
    line = log_lines(deadline_server.output())[-1]
    assert (line["outcome"], line["status_code"]) == ("invalid_input", 408)


def test_slow_senders_on_every_thread_do_not_keep_a_probe_out(deadline_server: Server) -> None:
    """As many stalled senders as the server has threads (8): each is cut at its deadline, then a probe gets in."""
    with ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(slow_post, deadline_server.url + "/", False, False) for _ in range(8)]
        probe = post_json(deadline_server.url + "/", SAMPLE_RECORD, timeout=60)
        statuses = [future.result()[0] for future in slow]
    assert probe.status == 200
    assert statuses == [408] * 8


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_full_instance_cuts_its_trickling_bodies_long_before_their_deadline(
    start_function: StartFunction, chunked: bool
) -> None:
    """Two threads, held by trickling senders that send again whenever they are cut, and a deadline of 10 minutes:
    only the rule for a full instance can answer them, and a probe among them is answered. (A trickle is cut only
    while every thread is busy: one left alone on a thread freed by another's cut may trickle on, so the senders keep
    the instance full, as an attacker would.)"""
    server = start_function(threads=2, **{TIMEOUT_ENV: "600"})
    assert post_json(server.url + "/", SAMPLE_RECORD).status == 200
    stop, answers = threading.Event(), []

    def trickle_again_and_again() -> None:
        while not stop.is_set():
            answers.append(slow_post(server.url + "/", chunked, True, stop))

    with ThreadPoolExecutor(2) as pool:
        senders = [pool.submit(trickle_again_and_again) for _ in range(2)]
        while len([status for status, _ in answers if status]) < 2:  # two cuts: both threads were held and freed
            assert not any(sender.done() for sender in senders), [sender.result() for sender in senders]
            stop.wait(0.05)
        probe = post_json(server.url + "/", SAMPLE_RECORD, timeout=60)
        stop.set()
    cut = [answer for status, answer in answers if status]
    assert {status for status, _ in answers if status} == {408}, answers
    assert {answer["error"]["message"] for answer in cut} == {
        f"the body arrived slower than {MIN_BYTES_PER_SECOND // 1024} KiB/s while every thread of the instance was busy"
    }
    assert probe.status == 200


def slow_head(url: str, stop: threading.Event | None = None) -> bool:
    """Send a request line, then its headers a byte every ``TRICKLE_SECONDS_PER_BYTE``, never ending them; True when
    the server closed the connection, False when ``stop`` hung up first."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=60)
    connection.sendall(f"POST / HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode())
    closed = threading.Event()
    trickling(connection, b"X-Slow: " + b"a" * 10_000, closed, stop)
    try:
        answered = connection.recv(1)
    except ConnectionResetError:
        answered = b""
    finally:
        closed.set()
        connection.close()
    assert answered == b"", "a head that never ends got an answer"
    return not (stop is not None and stop.is_set())


def test_a_head_that_does_not_arrive_in_time_is_cut(deadline_server: Server) -> None:
    """One sender on an instance of 8 threads: only the deadline can end its head."""
    assert slow_head(deadline_server.url + "/")
    assert post_json(deadline_server.url + "/", SAMPLE_RECORD).status == 200


def test_a_full_instance_cuts_its_trickling_heads_long_before_their_deadline(start_function: StartFunction) -> None:
    """Two threads held by senders trickling their headers, again whenever they are cut, and a deadline of 10
    minutes: only the rule for a full instance can free a thread, and a probe among them is answered."""
    server = start_function(threads=2, **{TIMEOUT_ENV: "600"})
    assert post_json(server.url + "/", SAMPLE_RECORD).status == 200
    stop, cuts = threading.Event(), []

    def trickle_again_and_again() -> None:
        while not stop.is_set():
            cuts.append(slow_head(server.url + "/", stop))

    with ThreadPoolExecutor(2) as pool:
        senders = [pool.submit(trickle_again_and_again) for _ in range(2)]
        while cuts.count(True) < 2:
            assert not any(sender.done() for sender in senders), [sender.result() for sender in senders]
            stop.wait(0.05)
        probe = post_json(server.url + "/", SAMPLE_RECORD, timeout=60)
        stop.set()
    assert probe.status == 200


@pytest.mark.parametrize(
    ("elapsed", "received", "cut"),
    [
        (SLOW_AFTER_SECONDS, 0, False),  # not judged yet
        (SLOW_AFTER_SECONDS * 2, 0, True),
        (1.0, MIN_BYTES_PER_SECOND - 1, True),
        (1.0, MIN_BYTES_PER_SECOND, False),
        (10.0, 2_600_000, False),  # a 10,000-record batch over a 2 Mbit/s link
    ],
)
def test_the_pace_a_full_instance_requires(elapsed: float, received: int, cut: bool) -> None:
    assert too_slow(elapsed, received) is cut
