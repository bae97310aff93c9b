"""The memory budget of one request, checked on the body's bytes before anything decodes it.

A JSON decoder makes one Python object per value, so the byte limit alone does not bound memory:
8 MiB of ``{},`` is 2.8 million dicts. What a body may hold is bounded by what the largest valid
request holds, counted with ``bytes.count`` (no object per token):

- at most ``MAX_VALUES`` commas (values), 413 beyond;
- at most ``MAX_CONTAINERS`` objects and arrays, 413 beyond;
- before the standard library decodes a body (the precise path), no object with more than
  ``MAX_OBJECT_MEMBERS`` members: its decoder holds all of one object's members in a list before
  it builds the dict, so one object of 250,000 keys would cost 60 MB.

Brackets and commas inside strings (an id may hold them) do not count. Only a body whose raw
counts exceed a bound is read more closely (``structure``), and that reading keeps its memory to
a few copies of the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from default_risk.contract.fields import FEATURES
from default_risk.contract.limits import MAX_EXPLAIN_INSTANCES, MAX_INSTANCES
from default_risk.protocols.answers import ApiError

MAX_VALUES = MAX_INSTANCES * (len(FEATURES) + 3)
"""Commas a body may hold: a full request of ``MAX_INSTANCES`` records, ids included, has fewer."""
MAX_CONTAINERS = MAX_INSTANCES + 32
"""Objects and arrays a body may hold: one per record (or per BigQuery call) and a few around them."""
MAX_OBJECT_MEMBERS = 128
"""Members one JSON object may hold (a record has at most 25; up to 100 unknown ones are still named)."""

_QUOTE = ord('"')
_BACKSLASH = ord("\\")
_OPENS = (b"{", b"[")
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'{}[],"')
_CHUNK_BYTES = 1 << 20
_TOKENS = re.compile(rb"[{}\[\]]|,+")
_VECTOR_COUNT_BYTES = 64 * 1024


def check_encoding(body: bytes) -> None:
    """415 unless the body is UTF-8 without a byte-order mark, as RFC 8259 (section 8.1) requires of JSON exchanged
    between systems. Checked before anything counts or parses the body: the counts read its bytes as UTF-8, and a
    UTF-16 or UTF-32 body (whose ASCII characters come with NUL bytes, which JSON never holds raw) would slip past
    them while the standard library's decoder still accepts it."""
    if b"\x00" in body:
        raise ApiError("unsupported_media_type", "the body holds NUL bytes: it is UTF-16 or UTF-32; send UTF-8 JSON")
    if body.isascii():
        return
    if body.startswith(b"\xef\xbb\xbf"):
        raise ApiError("unsupported_media_type", "the body begins with a byte-order mark; send UTF-8 JSON without one")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            "unsupported_media_type", f"the body is not UTF-8 (byte {error.start} is not valid UTF-8); send UTF-8 JSON"
        ) from None


def occurrences(body: bytes, byte: bytes) -> int:
    """How many times ``byte`` occurs in the body: by numpy's vector compare on a large body (eight times the
    speed of ``bytes.count``, on a view: no copy), by ``bytes.count`` on a small one."""
    if len(body) < _VECTOR_COUNT_BYTES:
        return body.count(byte)
    return int(np.count_nonzero(np.frombuffer(body, np.uint8) == byte[0]))


def check_counts(body: bytes) -> None:
    """413 for a body holding more values, or more objects and arrays, than any valid request."""
    too_many_values = occurrences(body, b",") > MAX_VALUES
    too_many_containers = sum(occurrences(body, opening) for opening in _OPENS) > MAX_CONTAINERS
    if not (too_many_values or too_many_containers):
        return
    values = containers = 0
    for piece in _structure_pieces(body):
        values += piece.count(b",")
        containers += sum(map(piece.count, _OPENS))
    if too_many_values and values > MAX_VALUES:
        raise ApiError(
            "body_too_large",
            f"the body holds more than {MAX_VALUES} JSON values, more than {MAX_INSTANCES} records can; "
            "send fewer per request",
        )
    if too_many_containers and containers > MAX_CONTAINERS:
        raise ApiError(
            "body_too_large",
            f"the body holds more than {MAX_CONTAINERS} JSON objects and arrays, more than {MAX_INSTANCES} "
            "records need; send fewer per request",
        )


def check_explained_count(body: bytes) -> None:
    """413 before any decoding for an explanation body holding more records (JSON objects, outside strings, besides
    the envelope) than ``MAX_EXPLAIN_INSTANCES``: explaining costs 64 model evaluations a record, and deciding that
    a body is too large must not cost the decoding and validation of 10,000 records."""
    if occurrences(body, b"{") <= MAX_EXPLAIN_INSTANCES + 1:
        return
    objects = structure(body).count(b"{")
    if objects > MAX_EXPLAIN_INSTANCES + 1:
        raise ApiError(
            "too_many_instances",
            f"{objects - 1} records; at most {MAX_EXPLAIN_INSTANCES} are explained per request (POST / scores up to "
            f"{MAX_INSTANCES:,})",
        )


def check_object_sizes(body: bytes) -> None:
    """400 for a body with an object of more than ``MAX_OBJECT_MEMBERS`` members."""
    if occurrences(body, b",") < MAX_OBJECT_MEMBERS:
        return
    members: list[int] = []  # per open container: its commas so far, -1 for an array
    for token in _TOKENS.finditer(structure(body)):
        symbol = token[0][:1]
        if symbol in _OPENS:
            members.append(0 if symbol == b"{" else -1)
        elif symbol == b",":
            if members and members[-1] >= 0:
                members[-1] += len(token[0])
                if members[-1] >= MAX_OBJECT_MEMBERS:
                    raise ApiError(
                        "invalid_input",
                        f"a JSON object in the body has more than {MAX_OBJECT_MEMBERS} fields; a record has at "
                        f"most {len(FEATURES) + 1}",
                    )
        elif members:
            members.pop()


def structure(body: bytes) -> bytes:
    """The bytes ``{}[],`` of the body that are outside its strings, in order."""
    return b"".join(_structure_pieces(body))


def _structure_pieces(body: bytes) -> Iterator[bytes]:
    """``structure``, a megabyte of the body at a time (so that reading it costs a few megabytes).

    Escaped backslashes and quotes are taken out first, so that every quote left opens or closes a
    string (a piece never ends inside a run of backslashes); a byte is inside a string when an odd
    number of quotes precede it, a cumulative sum of the quotes."""
    inside = 0  # 1 when the quotes before this piece leave a string open
    start = 0
    while start < len(body):
        end = min(start + _CHUNK_BYTES, len(body))
        while end < len(body) and body[end - 1] == _BACKSLASH:
            end += 1
        kept = body[start:end].replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
        codes = np.frombuffer(kept, np.uint8)
        quote = codes == _QUOTE
        after_odd_quotes = (np.cumsum(quote, dtype=np.uint8) + inside) & 1
        yield codes[(after_odd_quotes == 0) & ~quote].tobytes()
        inside = (inside + int(np.count_nonzero(quote))) & 1
        start = end
