"""A fault-injecting HTTP proxy on loopback, put between the function and the storage emulator.

The function's google-cloud-storage client is pointed at the proxy (``STORAGE_EMULATOR_HOST``);
the proxy forwards every request to the real emulator and, on demand, breaks the answer the way
real storage breaks: no answer at all, a slow answer, or a download cut off mid-body.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "content-length"}


@dataclass
class Fault:
    """What the proxy does to the requests whose path contains ``match`` (every request when empty).

    ``mode`` is one of ``pass`` (forward faithfully), ``reset`` (drop the connection without an
    answer, as a host that is down), ``slow`` (wait ``delay`` seconds before answering) or
    ``truncate`` (send the full headers but only ``keep`` of the body, then drop the connection).
    """

    mode: str = "pass"
    match: str = ""
    delay: float = 0.0
    keep: float = 0.5


class FaultProxy:
    """Forwards HTTP/1.1 to ``upstream`` and applies the current ``fault``; counts what it did."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.fault = Fault()
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: the test output is the evidence
                pass

            def _forward(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set(self, mode: str = "pass", match: str = "", delay: float = 0.0, keep: float = 0.5) -> None:
        """Switch the fault for the requests that follow."""
        self.fault = Fault(mode, match, delay, keep)

    def count(self, mode: str) -> int:
        """How many requests were answered in ``mode`` so far."""
        with self._lock:
            return self.counts.get(mode, 0)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        fault = self.fault
        mode = fault.mode if fault.match in handler.path else "pass"
        with self._lock:
            self.counts[mode] = self.counts.get(mode, 0) + 1
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if mode == "reset":
            _reset(handler.connection)
            handler.close_connection = True
            return
        if mode == "slow":
            time.sleep(fault.delay)
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            status, answer_headers = answer.status, answer.getheaders()
        finally:
            upstream.close()
        handler.send_response(status)
        for name, value in answer_headers:
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if mode == "truncate" and data:
            handler.wfile.write(data[: int(len(data) * fault.keep)])
            handler.wfile.flush()
            _reset(handler.connection)
            handler.close_connection = True
            return
        handler.wfile.write(data)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _reset(connection: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed or unreachable peer looks."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
