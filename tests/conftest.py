"""Shared fixtures: a tiny real model version, a storage emulator serving it, function servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.gcs import BUCKET, publish
from tests.support.local_cloud import ROOT, Server, emulator_env, function_server, storage_emulator
from tests.support.tiny_model import train_tiny_version

SHARED_DATA = Path(os.environ.get("UCI_CREDIT_DATA") or ROOT.parent / "shared/data/default_of_credit_card_clients.csv")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_file(), f"the shared UCI data is expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_version_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<tmp>/models/<version>/``: a tiny Keras MLP exported as training exports (``training.export``)."""
    return train_tiny_version(tmp_path_factory.mktemp("tiny") / "models")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory, tiny_version_dir: Path) -> Iterator[Server]:
    """A running gcp-storage-emulator with the tiny version published in bucket ``BUCKET``."""
    with storage_emulator(tmp_path_factory.mktemp("emulator")) as server:
        server.model_urls = publish(tiny_version_dir, server, BUCKET)
        yield server


@pytest.fixture(scope="session")
def model_env(emulator: Server) -> dict[str, str]:
    """Environment for a function server loading the tiny version from the emulator."""
    return emulator_env(emulator) | emulator.model_urls


StartFunction = Callable[..., Server]


@pytest.fixture
def start_function(tmp_path: Path, model_env: dict[str, str]) -> Iterator[StartFunction]:
    """Factory: ``start_function(**env_overrides)`` starts a function server (stopped after the test).

    The environment defaults to ``model_env``; pass ``env=...`` to replace it entirely.
    """
    servers: list[Server] = []

    def start(env: Mapping[str, str] | None = None, threads: int = 8, **overrides: str) -> Server:
        server = function_server(
            {**(model_env if env is None else env), **overrides}, tmp_path / f"function-{len(servers)}", threads=threads
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def scoring_server(tmp_path_factory: pytest.TempPathFactory, model_env: dict[str, str]) -> Iterator[Server]:
    """One function server for the whole session, serving the tiny version from the emulator."""
    with function_server(model_env, tmp_path_factory.mktemp("scoring")) as server:
        yield server
