"""Reading the parts of a Markdown page the doc tests compare with the code: sections, tables, links."""

from __future__ import annotations

import re
from pathlib import Path

CODE = re.compile(r"`([^`]*)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def section(text: str, heading: str) -> str:
    """The body of the section titled ``heading`` (up to the next heading of the same or a higher level)."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.MULTILINE)
    if match is None:
        raise AssertionError(f"no section {heading!r}")
    body = text[match.end() :]
    end = re.search(rf"^#{{1,{len(match[1])}}} ", body, re.MULTILINE)
    return body[: end.start()] if end else body


def tables(text: str) -> list[list[list[str]]]:
    """Every pipe table in ``text``: rows of cells, header first, the ``|---|`` line left out."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def first_code(cell: str) -> str | None:
    """The first `code` span of a table cell."""
    match = CODE.search(cell)
    return match[1] if match else None


def relative_links(document: Path) -> list[str]:
    """Link targets that are files of this repository (no URL, no pure anchor)."""
    targets = LINK.findall(document.read_text())
    return [t.split("#", 1)[0] for t in targets if not re.match(r"^[a-z]+:", t) and not t.startswith("#")]
