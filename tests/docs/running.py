"""Running documented commands as written: with the page's shell variables, in bash, reading JSON answers."""

from __future__ import annotations

import json
import subprocess

from default_risk.api import ApiError, instances_of
from default_risk.validation import validate_instances
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


def expected_answer(body: str) -> tuple[str, list]:
    """("predictions", the validated records) or ("error", []) for a POST body, by the function's own validation."""
    try:
        instances = instances_of(json.loads(body))
    except (ApiError, ValueError):
        return "error", []
    return ("error", []) if validate_instances(instances).problems else ("predictions", instances)


def json_values(text: str) -> list[object]:
    """Every JSON value in ``text``: one document, or a stream of them (jq, one answer per line)."""
    decoder, values, index, text = json.JSONDecoder(), [], 0, text.strip()
    while index < len(text):
        value, index = decoder.raw_decode(text, index)
        values.append(value)
        while index < len(text) and text[index].isspace():
            index += 1
    return values
