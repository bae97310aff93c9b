"""A reverse proxy that mounts a server under a path prefix, as a deployed function's URL does.

``http://127.0.0.1:<port>/<prefix>/x`` is forwarded to ``<upstream>/x`` (the prefix stripped, like
Google's front end does for ``https://<region>-<project>.cloudfunctions.net/<function>/x``); any
other path gets 404 from the proxy itself, so a page that escapes its prefix fails visibly.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@contextmanager
def prefix_proxy(upstream: str, prefix: str) -> Iterator[str]:
    """Serve ``upstream`` under ``prefix`` (e.g. ``"/credit-risk"``); yields the proxy's base URL with the prefix."""
    target = urllib.parse.urlsplit(upstream)
    misses: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            if not self.path.startswith(prefix + "/"):
                misses.append(self.path)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                connection.request(self.command, self.path.removeprefix(prefix), body, headers)
                answer = connection.getresponse()
                data = answer.read()
            finally:
                connection.close()
            self.send_response_only(answer.status)  # the upstream's own Date and Server, not the proxy's
            for key, value in answer.getheaders():
                if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
