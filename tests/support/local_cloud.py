"""The local stand-ins for Google Cloud: gcp-storage-emulator and a functions-framework server.

Both run as real subprocesses on loopback. Tests, the demo and the benchmarks start them through
this module; nothing here mocks a client or the framework.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from default_risk.protocols.admission import CPUS_ENV
from default_risk.service.records import RECORDS_URL_ENV

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
BIN_DIR = Path(sys.executable).parent


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers any HTTP status; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class Server:
    """A subprocess serving HTTP on loopback; stops on ``stop()`` or at context exit.

    ``command(port)`` is the command line for a port. The first start asks for port 0: the kernel picks a free
    one as the server binds it, and the server's listening socket tells which, so no other process can take it
    in between. A restart comes back on the same port (as does a first start given a ``port``)."""

    def __init__(
        self,
        command: Callable[[int], list[str]],
        env: Mapping[str, str],
        cwd: Path,
        ready_path: str = "/",
        port: int = 0,
    ) -> None:
        self.command, self.env, self.cwd, self.ready_path, self.port = command, dict(env), cwd, ready_path, port
        self.process: subprocess.Popen | None = None
        self.log_path = cwd / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        self.cwd.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(self.port),
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        self.port = self._listening_port(deadline)
        wait_for_http(self.url + self.ready_path, deadline - time.monotonic(), self.process)
        return self

    def _listening_port(self, deadline: float) -> int:
        """The loopback port the process (or a process it started) listens on, once it does."""
        import psutil

        process, program = psutil.Process(self.process.pid), self.command(self.port)[0]
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{program} exited with {self.process.returncode}: {self.output()}")
            ports = set()
            for member in [process, *process.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    ports |= {c.laddr.port for c in member.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
            if len(ports) > 1:
                raise RuntimeError(f"{program} listens on several ports: {sorted(ports)}")
            if ports:
                return ports.pop()
            time.sleep(0.05)
        raise TimeoutError(f"{program} listened on no port in time: {self.output()[-2000:]}")

    def stop(self, timeout: float = 10) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def output(self) -> str:
        """Everything the server has written to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Server:
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def storage_emulator(data_dir: Path) -> Server:
    """gcp-storage-emulator storing on disk under ``data_dir`` (so a restart keeps the objects)."""
    env = os.environ | {"STORAGE_BASE": str(data_dir)}
    command = [str(BIN_DIR / "gcp-storage-emulator"), "start", "--host=127.0.0.1", "--quiet"]
    return Server(lambda port: [*command, f"--port={port}"], env, data_dir, ready_path="/storage/v1/b")


def emulator_env(emulator: Server) -> dict[str, str]:
    """Environment that points google-cloud-storage at the emulator (no credentials needed)."""
    return {"STORAGE_EMULATOR_HOST": emulator.url, "GOOGLE_CLOUD_PROJECT": "local-project"}


PROCESS_ENV = {"MALLOC_ARENA_MAX": "2"}
"""Settings of the function's process that the deploy passes too, read by the C library, not by our code: two
malloc arenas rather than one per thread (8 threads), so memory freed after a large request is reused by the
next instead of staying resident in another thread's arena (measured: 8 concurrent worst bodies peak ~60 MB
lower, and the instance settles ~75 MB lower)."""


def functions_framework(port: int, source: Path = FUNCTIONS_DIR / "main.py") -> list[str]:
    """`functions-framework --target predict` on ``functions/main.py`` (or another ``source``), as Cloud Functions
    runs it."""
    return [
        str(BIN_DIR / "functions-framework"),
        "--target=predict",
        f"--source={source}",
        "--host=127.0.0.1",
        f"--port={port}",
    ]


RECORDS_FOLDER = "decisions"
"""The decision records of a function server, under its working folder unless ``env`` names another store."""


def function_server(env: Mapping[str, str], work_dir: Path, threads: int = 8, port: int = 0, cpus: str = "1") -> Server:
    """The function served by functions-framework (gunicorn, ``threads`` threads, on ``cpus`` CPUs: the deploy's
    defaults ``function_concurrency`` and ``function_cpu``) in ``work_dir``, recording its decisions in
    ``work_dir/decisions`` unless ``env`` sets ``DECISION_RECORDS_URL``."""
    records = {RECORDS_URL_ENV: str(work_dir / RECORDS_FOLDER)}
    instance = {"THREADS": str(threads), CPUS_ENV: cpus}
    full_env = os.environ | PROCESS_ENV | {"PYTHONUNBUFFERED": "1"} | instance | records | dict(env)
    return Server(functions_framework, full_env, work_dir, ready_path="/healthz", port=port)
