"""Shell commands as the README and docs/ show them: fenced ```sh / ```bash / ```console blocks, split into
simple commands (program, words, leading assignments, redirections), with ``$(...)`` substitutions
pulled out as commands of their own. Plain text and other languages (```sql, ```json, bare ```) are
not commands and are left alone.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = frozenset({"sh", "bash", "console"})
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
RUNNABLE = "runnable"
"""The word after a block's language that marks it runnable: ```sh runnable, then an ```output block (test_runnable)."""
SUBSTITUTION = re.compile(r"\$\((?P<inner>[^()]*(?:\([^()]*\)[^()]*)*)\)")
SUBSTITUTED = "__substituted__"
"""The word a ``$(...)`` substitution leaves in its command."""
ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)=(?P<value>.*)$", re.DOTALL)
VARIABLE_REFERENCE = re.compile(r"\$\{?(?P<name>[A-Za-z_]\w*)")
SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")"})
REDIRECTIONS = frozenset({">", ">>", "<", ">|"})


def documents() -> list[Path]:
    """The READMEs and every Markdown page under docs/."""
    return [ROOT / "README.md", ROOT / "infra" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def working_directory(document: Path) -> Path:
    """Where a page's commands run: a README's own folder (infra/README.md's run in infra/), else the root."""
    return document.parent if document.name == "README.md" else ROOT


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    """Line of the opening fence (1-based)."""
    language: str
    text: str
    runnable: bool = False


@dataclass(frozen=True)
class Command:
    block: Block
    line: int
    """Line of the document where the command starts."""
    source: str
    """The logical line it came from, continuation lines joined."""
    words: tuple[str, ...]
    """Program and arguments, quotes removed; leading assignments and redirections left out."""
    assignments: dict[str, str] = field(default_factory=dict)
    """``NAME=value`` words before the program (an environment for it, or shell variables when there is no program)."""
    redirected_to: tuple[str, ...] = ()
    """Files written by ``>`` / ``>>``."""

    @property
    def program(self) -> str | None:
        return self.words[0] if self.words else None

    @property
    def where(self) -> str:
        document = self.block.document
        name = document.relative_to(ROOT) if document.is_relative_to(ROOT) else document.name
        return f"{name}:{self.line}: {self.source.strip()}"


def blocks(document: Path) -> list[Block]:
    text = document.read_text()
    found = []
    for match in FENCE.finditer(text):
        if match["language"] in SHELL_LANGUAGES:
            line = text.count("\n", 0, match.start()) + 1
            runnable = RUNNABLE in match["info"].split()
            found.append(Block(document, line, match["language"], textwrap.dedent(match["body"]), runnable))
    return found


def logical_lines(block: Block) -> list[tuple[int, str]]:
    """(document line, text) of each command line: continuation lines and quotes spanning lines joined; in
    console blocks only the ``$ `` lines and their continuations."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for offset, raw in enumerate(block.text.splitlines()):
        number = block.line + 1 + offset
        if pending is not None:
            start, text = pending[0], pending[1] + raw
        elif block.language == "console" and not raw.startswith("$ "):
            continue
        else:
            start, text = number, raw.removeprefix("$ ") if block.language == "console" else raw
        if text.endswith("\\"):
            pending = (start, text[:-1] + " ")
        elif not _quotes_closed(text):
            pending = (start, text + "\n")
        else:
            pending = None
            if text.strip() and not text.strip().startswith("#"):
                lines.append((start, text))
    assert pending is None, f"{block.document}:{block.line}: a command block ends inside a command"
    return lines


def _quotes_closed(text: str) -> bool:
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.commenters = True, "#"
    try:
        list(lexer)
    except ValueError:
        return False
    return True


def parse_line(block: Block, line: int, source: str) -> list[Command]:
    """The simple commands of one logical line, substitutions first."""
    inner = [match["inner"] for match in SUBSTITUTION.finditer(source)]
    commands = [command for text in inner for command in parse_line(block, line, text)]
    text = SUBSTITUTION.sub(SUBSTITUTED, source)
    text = re.sub(r"\b[12]>&[12]\b", " ", text)  # 2>&1
    text = re.sub(r"(?<![\w-])[12](>>?)", r"\1", text)  # 2>/dev/null -> >/dev/null
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    current: list[str] = []
    for token in [*lexer, ";"]:
        if token in SEPARATORS:
            if current:
                commands.append(_command(block, line, source, current))
            current = []
        else:
            current.append(token)
    return commands


def _command(block: Block, line: int, source: str, tokens: list[str]) -> Command:
    words, redirected, assignments = [], [], {}
    iterator = iter(tokens)
    for token in iterator:
        if token in REDIRECTIONS:
            target = next(iterator, "")
            if token != "<":
                redirected.append(target)
            continue
        match = ASSIGNMENT.match(token)
        if match and not words:
            assignments[match["name"]] = match["value"]
        else:
            words.append(token)
    return Command(block, line, source, tuple(words), assignments, tuple(redirected))


def commands(document: Path) -> list[Command]:
    return [
        command
        for block in blocks(document)
        for line, source in logical_lines(block)
        for command in parse_line(block, line, source)
    ]


def referenced_variables(command: Command) -> set[str]:
    """``$NAME`` / ``${NAME}`` the command's line expands (single-quoted text is literal)."""
    unquoted = re.sub(r"'[^']*'", "''", command.source)
    return {match["name"] for match in VARIABLE_REFERENCE.finditer(unquoted)}
