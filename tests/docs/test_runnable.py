"""The guides' runnable examples give the output the guides show.

A block fenced ```sh runnable is run as written, in bash, from where the page's commands run (the root, or a
README's own folder), as a reader with the project's virtual environment activated would run it; the ```output
block right after it is what it must print, stdout and stderr together. In the output, ``...`` within a line
stands for any text, and a line of only ``...`` for any number of lines (the figures that depend on the machine,
the log lines of libraries). MLflow writes to a scratch database, not the checkout's.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.shell import FENCE, ROOT, RUNNABLE, SHELL_LANGUAGES, documents, working_directory

OUTPUT = "output"
ANY_LINES = "..."
MAKE_ENVIRONMENT = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
"""What a make running the tests passes down: a documented ``make`` must run as a reader's top-level one."""


@dataclass(frozen=True)
class Example:
    document: Path
    line: int
    script: str
    output: str | None

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def examples(document: Path) -> list[Example]:
    """Each runnable block of ``document`` with the output block that follows it (None when none does)."""
    text = document.read_text()
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence["language"] not in SHELL_LANGUAGES or RUNNABLE not in fence["info"].split():
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        adjacent = following is not None and not text[fence.end() : following.start()].strip()
        output = following["body"] if adjacent and following["language"] == OUTPUT else None
        found.append(Example(document, text.count("\n", 0, fence.start()) + 1, fence["body"], output))
    return found


def output_pattern(expected: str) -> re.Pattern[str]:
    """The regular expression of an output block: ``...`` within a line is any text, a ``...`` line any lines."""
    parts = []
    for line in expected.rstrip("\n").split("\n"):
        if line.strip() == ANY_LINES:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.rstrip().split(ANY_LINES)) + "\n")
    return re.compile("".join(parts))


def run(example: Example, scratch: Path) -> str:
    environment = {name: value for name, value in os.environ.items() if name not in MAKE_ENVIRONMENT}
    environment |= {
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{environment.get('PATH', '')}",
        "VIRTUAL_ENV": str(ROOT / ".venv"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'mlflow.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    done = subprocess.run(
        ["bash", "-c", example.script],
        cwd=working_directory(example.document),
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    return "".join(line.rstrip() + "\n" for line in done.stdout.splitlines())


ALL = [example for document in documents() for example in examples(document)]


def test_the_guides_have_runnable_examples_each_with_its_output() -> None:
    assert len(ALL) >= 4, [example.name for example in ALL]
    missing = [example.name for example in ALL if example.output is None]
    assert not missing, f"runnable blocks without an ```{OUTPUT} block right after them: {missing}"


@pytest.mark.parametrize("example", ALL, ids=lambda example: example.name)
def test_a_runnable_example_prints_what_its_guide_shows(example: Example, tmp_path: Path) -> None:
    printed = run(example, tmp_path)
    assert example.output is not None
    assert output_pattern(example.output).fullmatch(printed), (
        f"{example.name} printed:\n{printed}\nits guide shows:\n{example.output}"
    )


@pytest.mark.parametrize(
    ("shown", "printed", "matches"),
    [
        ("a 1 ... s\n", "a 1 took 3 s\n", True),
        ("a\n...\nz\n", "a\nb\nc\nz\n", True),
        ("a\n...\nz\n", "a\nz\n", True),
        ("a 1\n", "a 2\n", False),
        ("a\nz\n", "a\nb\nz\n", False),
        ("a ... s\n", "a 1\ns\n", False),
    ],
)
def test_an_output_block_matches_only_what_it_shows(shown: str, printed: str, matches: bool) -> None:
    assert bool(output_pattern(shown).fullmatch(printed)) is matches
