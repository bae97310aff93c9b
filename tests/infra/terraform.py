"""infra/*.tf read with python-hcl2 (and infra/*.tf.json, generated), and the few expressions the cross-checks need,
resolved.

python-hcl2 returns expressions as text; the JSON files' strings are given the same form (quoted literals). The
cross-checks need only string templates built from literals, ``${local.NAME}`` and ``${var.NAME}`` (resolved to
defaults); anything else raises.
"""

from __future__ import annotations

import json
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TFCHECK = ROOT.parent / "shared" / "tools" / "tfschema" / "tfcheck.py"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

_REFERENCE = re.compile(r"\$\{(local|var)\.(\w+)\}")
_HEREDOC = re.compile(r"^<<(-?)(\w+)\n(.*)\n\s*\2$", re.DOTALL)


def _name(key: str) -> str:
    return key.strip('"')


def _as_hcl(value: Any) -> Any:
    """A JSON configuration value as python-hcl2 gives the same HCL: strings as quoted literals."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return [_as_hcl(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_hcl(item) for key, item in value.items()}
    return value


@cache
def blocks() -> dict[str, list[dict[str, Any]]]:
    """Top-level blocks of every infra/*.tf and infra/*.tf.json file, by block type."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(INFRA.glob("*.tf")):
        with path.open() as file:
            for kind, items in hcl2.load(file).items():
                merged.setdefault(kind, []).extend(items)
    for path in sorted(INFRA.glob("*.tf.json")):
        for kind, body in json.loads(path.read_text()).items():
            if kind != "//":
                merged.setdefault(kind, []).append(_as_hcl(body))
    return merged


_FOR_EACH_SET = re.compile(r"^\$\{toset\(local\.(\w+)\)\}$")
_EACH_KEY = {"${each.key}": str, "${lower(each.key)}": str.lower, "${upper(each.key)}": str.upper}


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    """``{name: body}`` of the resources of one type. A resource with ``for_each = toset(local.LIST)`` becomes one
    body per key, named ``name["key"]``, with ``${each.key}`` (also lowered or uppered) written in."""
    found: dict[str, dict[str, Any]] = {}
    for item in blocks().get("resource", []):
        for rtype, named in item.items():
            if _name(rtype) == resource_type:
                for name, body in named.items():
                    found.update(_expanded(_name(name), body))
    return found


def _expanded(name: str, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    matched = _FOR_EACH_SET.match(str(body.get("for_each", "")))
    if not matched:
        return {name: body}
    keys = [literal(key) for key in locals_()[matched[1]]]
    return {f'{name}["{key}"]': _with_key(body, key) for key in keys}


def _with_key(value: Any, key: str) -> Any:
    if isinstance(value, str):
        for template, transform in _EACH_KEY.items():
            value = value.replace(template, transform(key))
        return value
    if isinstance(value, dict):
        return {k: _with_key(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_key(v, key) for v in value]
    return value


def all_resource_addresses() -> list[str]:
    return sorted(
        f"{_name(rtype)}.{_name(name)}"
        for item in blocks().get("resource", [])
        for rtype, named in item.items()
        for name in named
    )


def named_blocks(kind: str) -> dict[str, dict[str, Any]]:
    """``{name: body}`` of ``variable`` or ``output`` blocks."""
    return {_name(name): body for item in blocks().get(kind, []) for name, body in item.items()}


def locals_() -> dict[str, Any]:
    """``{name: expression}`` of every ``locals`` block (python-hcl2's ``__...__`` metadata left out)."""
    items = [entry for item in blocks().get("locals", []) for entry in item.items()]
    return {key: value for key, value in items if not key.startswith("__")}


def literal(raw: str) -> str:
    """The string an HCL string literal or heredoc stands for, templates left in."""
    if raw.startswith('"<<'):
        match = _HEREDOC.match(raw[1:-1])
        if match is None:
            raise ValueError(f"not a heredoc: {raw!r}")
        body = textwrap.dedent(match[3]) if match[1] else match[3]
        return body + "\n"
    if raw.startswith('"') and raw.endswith('"'):
        return json.loads(raw)
    if re.fullmatch(r"\$\{[^{}]*\}", raw):
        return raw
    raise ValueError(f"not a string template: {raw!r}")


def resolve(raw: str) -> str:
    """Evaluate a string template made of literals, locals and variable defaults."""
    text = literal(raw)

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "local":
            return resolve(locals_()[name])
        return resolve(named_blocks("variable")[name]["default"])

    resolved = _REFERENCE.sub(substitute, text)
    if "${" in resolved:
        raise ValueError(f"cannot resolve {raw!r}: only ${{local.X}} and ${{var.X}} are supported")
    return resolved


_BINARY_SUFFIXES = {"Mi": 2**20, "Gi": 2**30}


def kubernetes_bytes(raw: str) -> int:
    """The bytes a memory quantity such as ``"512Mi"`` (an HCL literal) stands for."""
    quantity = literal(raw)
    return int(quantity[:-2]) * _BINARY_SUFFIXES[quantity[-2:]]
