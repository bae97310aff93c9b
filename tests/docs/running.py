"""Running documented commands as written: with the page's shell variables, in bash, reading JSON answers."""

from __future__ import annotations

import json
import subprocess

import numpy as np

from default_risk.protocols.answers import ApiError
from default_risk.protocols.decoding import scoring_request
from default_risk.protocols.request_log import RequestLog
from tests.docs.shell import Command, commands

ECHO_DATA = 'curl() { while [ "$#" -gt 0 ]; do if [ "$1" = -d ]; then printf %s "$2"; fi; shift; done; }'
"""A stand-in for curl that prints the request body exactly as the shell expands the documented command."""


def shell_prelude(command: Command) -> str:
    """The page's shell variable assignments made before the command (e.g. RECORD=...)."""
    return "\n".join(c.source for c in commands(command.block.document) if c.program is None and c.line < command.line)


def run(script: str) -> str:
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{script}\nexited {result.returncode}: {result.stderr}"
    return result.stdout


def request_body(command: Command) -> str:
    """The body a documented ``curl ... -d ...`` sends."""
    return run(f"{shell_prelude(command)}\n{ECHO_DATA}\n{command.source}")


def expected_answer(body: str) -> tuple[str, np.ndarray | None]:
    """("predictions", the validated feature matrix) or ("error", None) for a POST body, by the function's own
    decoding and validation."""
    try:
        return "predictions", scoring_request(body.encode(), RequestLog()).result.features
    except ApiError:
        return "error", None


def json_values(text: str) -> list[object]:
    """Every JSON value in ``text``: one document, or a stream of them (jq, one answer per line)."""
    decoder, values, index, text = json.JSONDecoder(), [], 0, text.strip()
    while index < len(text):
        value, index = decoder.raw_decode(text, index)
        values.append(value)
        while index < len(text) and text[index].isspace():
            index += 1
    return values
