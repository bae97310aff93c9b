"""The local demo, end to end, with the commands the README and the demo script tell people to type.

`make demo`'s own command (read from ``make -n demo``) runs with a tiny model (``--models-dir``, so it
trains nothing): it publishes to gcp-storage-emulator, serves the function with functions-framework
and scores its samples. While it serves, every local command of README.md and docs/demo_script.md is
run as written, against the port and log file the demo printed, and each answer is checked against
what our own validation says the request should get. Then Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from default_risk.contract.artifacts import LATEST_POINTER
from default_risk.protocols.answers import ERROR_STATUSES
from tests.docs.running import expected_answer, json_values, request_body, run, shell_prelude
from tests.docs.shell import ROOT, Command, commands

DOC_URL = "http://127.0.0.1:8080"
DOC_LOG = re.compile(r"/tmp/demo-\w+/function/server-8080\.log")
SERVING = re.compile(r"^Function serving at (?P<url>http://\S+) \(logs: (?P<log>\S+)\)$")
PUBLISHED = re.compile(r"^Published (?P<version>v[0-9a-f]{32}) to the storage emulator")
LOCAL_DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "demo_script.md")


@dataclass
class Demo:
    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    url: str = ""
    log: str = ""
    version: str = ""
    reader: queue.Queue[str | None] = field(default_factory=queue.Queue)


def demo_command() -> list[str]:
    """The command `make demo` runs (its last recipe line)."""
    result = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    command = result.stdout.strip().splitlines()[-1]
    assert command.endswith("-m tests.support.demo"), f"make demo runs {command!r}"
    return shlex.split(command)


@pytest.fixture(scope="module")
def demo(tiny_version_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo serving the tiny version from a models folder of its own (other tests add versions beside it)."""
    models = tmp_path_factory.mktemp("demo") / "models"
    shutil.copytree(tiny_version_dir, models / tiny_version_dir.name)
    (models / LATEST_POINTER).write_text(tiny_version_dir.name + "\n")
    command = [*demo_command(), "--models-dir", str(models)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Demo(process)
    threading.Thread(
        target=lambda: [*map(running.reader.put, process.stdout), running.reader.put(None)], daemon=True
    ).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = running.reader.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        running.lines.append(line.rstrip("\n"))
        if line.startswith("Serving until Ctrl-C"):
            break
    for match in filter(None, map(PUBLISHED.match, running.lines)):
        running.version = match["version"]
    for match in filter(None, map(SERVING.match, running.lines)):
        running.url, running.log = match["url"], match["log"]
    try:
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def output(demo: Demo) -> str:
    return "\n".join(demo.lines)


def test_demo_publishes_serves_and_scores_its_samples(demo: Demo, tiny_version_dir: Path) -> None:
    text = output(demo)
    assert "Serving until Ctrl-C" in text, f"the demo did not get to serving:\n{text}"
    assert demo.version == tiny_version_dir.name and demo.url and demo.log, text
    assert "One record (first request: loads the model from gs://): HTTP 200" in text
    assert "A batch of three records with ids: HTTP 200" in text
    assert f'"model_version": "{demo.version}"' in text


def local_commands() -> list[Command]:
    """Command lines of the README and the demo script that talk to the local demo or read its log (a
    pipeline once, by its first command)."""
    first_of_line: dict[tuple[Path, int], Command] = {}
    for command in commands_of(LOCAL_DOCUMENTS):
        first_of_line.setdefault((command.block.document, command.line), command)
    return [
        command
        for command in first_of_line.values()
        if command.program in ("curl", "jq") and (DOC_URL in command.source or DOC_LOG.search(command.source))
    ]


def commands_of(documents: tuple[Path, ...]) -> list[Command]:
    return [command for document in documents for command in commands(document)]


def test_every_local_command_of_the_readme_and_the_demo_script_answers_as_documented(demo: Demo) -> None:
    assert demo.url, "the demo is not serving"
    checked = []
    for command in local_commands():
        prelude = shell_prelude(command)
        source = DOC_LOG.sub(demo.log, command.source.replace(DOC_URL, demo.url))
        stdout = run(f"{prelude}\n{source}")
        answers = json_values(stdout)
        assert answers, f"{command.where}\n    printed nothing"
        if command.program == "jq":  # the request log: only prediction_request lines, as the filter says
            assert all(a["message"] == "prediction_request" for a in answers), answers
        elif "-X POST" in command.source:
            (answer,) = answers
            kind, features = expected_answer(request_body(command))
            assert kind in answer, f"{command.where}\n    expected {kind}, got {stdout[:300]}"
            if kind == "predictions":
                assert len(answer["predictions"]) == len(features) and answer["model_version"] == demo.version
                assert all(0 <= p["probability_of_default"] <= 1 for p in answer["predictions"])
            else:
                assert answer["error"]["code"] in ERROR_STATUSES
        checked.append(command.where)
    print("\n".join(checked))
    documents = {where.split(":", 1)[0] for where in checked}
    assert documents == {"README.md", "docs/demo_script.md"}, f"no local command found in {documents}"
    assert len(checked) >= 6


def test_ctrl_c_stops_the_demo_and_both_servers(demo: Demo) -> None:
    assert demo.url, "the demo is not serving"
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=30) == 0
    rest = []
    while (line := demo.reader.get(timeout=5)) is not None:
        rest.append(line)
    assert any("Stopping the function and the storage emulator." in line for line in rest), rest
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(demo.url + "/healthz", timeout=2)
