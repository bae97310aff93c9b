"""A raw HTTP/1.1 client for hostile requests: any method, headers and body, chunked or not.

Unlike urllib, it keeps going when the server answers before reading the whole body (as it
should for a 413) and reads that answer instead of failing on the broken pipe.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

SEND_CHUNK = 256 * 1024


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def send(
    url: str,
    method: str = "POST",
    body: bytes | Iterable[bytes] = b"",
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
    framed: bool = False,
    timeout: float = 60,
) -> Answer:
    """Send one request on a fresh connection and return the answer, however early it came. ``chunked`` frames the
    body in chunks; ``framed`` says it is framed already (perhaps badly) and sends it as it is."""
    parts = urlsplit(url)
    started = time.perf_counter()
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    try:
        head = [
            f"{method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Connection: close",
        ]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        chunks: Iterable[bytes]
        if chunked or framed:
            head.append("Transfer-Encoding: chunked")
            chunks = _chunked(body if not isinstance(body, bytes) else [body]) if chunked else body_pieces(body)
        else:
            data = body if isinstance(body, bytes) else b"".join(body)
            if data or method in ("POST", "PUT", "PATCH"):
                head.append(f"Content-Length: {len(data)}")
            chunks = body_pieces(data)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; its answer is what we read next
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        answer_body = response.read()
        headers_read = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers_read, answer_body, time.perf_counter() - started)
    finally:
        sock.close()


def body_pieces(body: bytes | Iterable[bytes]) -> Iterable[bytes]:
    data = body if isinstance(body, bytes) else b"".join(body)
    return (data[i : i + SEND_CHUNK] for i in range(0, len(data), SEND_CHUNK))


def _chunked(parts: Iterable[bytes]) -> Iterable[bytes]:
    for part in parts:
        for i in range(0, len(part), SEND_CHUNK):
            piece = part[i : i + SEND_CHUNK]
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def send_bytes(url: str, data: bytes, timeout: float = 30) -> Answer:
    """Send ``data`` as it is, request line and headers included, on a fresh connection; the answer, read until the
    server closes the connection."""
    parts = urlsplit(url)
    started = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body, time.perf_counter() - started)
