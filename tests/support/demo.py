"""`make demo`: publish the promoted version to a local storage emulator, serve the function, score samples.

The version served is the one ``models/PROMOTED`` names (committed, so a fresh clone serves at once); without
one, the newest local version (``models/LATEST``); without either, or with ``--train`` (``make demo TRAIN=1``), a
version trained first.

Everything runs on loopback: gcp-storage-emulator stands in for Cloud Storage and functions-framework
for Cloud Functions; the function loads the model from ``gs://`` exactly as deployed. Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from default_risk.contract.artifacts import LATEST_POINTER, MODELS_PREFIX, PROMOTED_POINTER
from default_risk.protocols.openapi import EXAMPLE_ROWS, example_record
from tests.support.gcs import BUCKET, publish
from tests.support.http import post_json
from tests.support.local_cloud import RECORDS_FOLDER, ROOT, emulator_env, function_server, storage_emulator

MODELS_DIR = ROOT / MODELS_PREFIX
PREFERRED_PORT = 8080


def served_version(models_dir: Path = MODELS_DIR, train: bool = False) -> Path:
    """The folder of the version to serve: the promoted one, else the newest; a newly trained one when ``train``
    or when there is neither."""
    if not train:
        for pointer in (PROMOTED_POINTER, LATEST_POINTER):
            if (models_dir / pointer).is_file():
                return models_dir / (models_dir / pointer).read_text().strip()
    print("Training a version (python -m training.train, a few minutes)...", flush=True)
    command = [sys.executable, "-m", "training.train", "--models-dir", str(models_dir)]
    subprocess.run(command, cwd=ROOT, check=True)
    return models_dir / (models_dir / LATEST_POINTER).read_text().strip()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def show(title: str, url: str, payload: dict) -> None:
    started = time.perf_counter()
    response = post_json(url, payload, timeout=120)
    print(f"\n{title}: HTTP {response.status} in {(time.perf_counter() - started) * 1000:.0f} ms")
    print(json.dumps(response.json, indent=2))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=MODELS_DIR,
        help="serve the version this folder's PROMOTED (else LATEST) names, training one there first if there is "
        "none (default: models/; tests/docs points it at a tiny model)",
    )
    parser.add_argument("--train", action="store_true", help="train a version first and serve it (make demo TRAIN=1)")
    args = parser.parse_args(argv)
    # Ctrl-C (even when started in the background, where SIGINT is ignored) and SIGTERM stop both servers.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    version_dir = served_version(args.models_dir.resolve(), args.train)
    with tempfile.TemporaryDirectory(prefix="demo-") as scratch:
        work = Path(scratch)
        with storage_emulator(work / "gcs") as emulator:
            urls = publish(version_dir, emulator, BUCKET)
            print(f"Published {version_dir.name} to the storage emulator at {emulator.url}: {urls['MODEL_URL']}")
            port = PREFERRED_PORT if port_is_free(PREFERRED_PORT) else 0  # 0: any free port
            with function_server(emulator_env(emulator) | urls, work / "function", port=port) as server:
                print(f"Function serving at {server.url} (logs: {server.log_path})")
                print(f"Decisions recorded in {server.cwd / RECORDS_FOLDER} (make replay / make notice DECISIONS=...)")
                show("One record (first request: loads the model from gs://)", server.url, example_record("uci-1"))
                batch = {"instances": [{"id": record_id, **example_record(record_id)} for record_id in EXAMPLE_ROWS]}
                show("A batch of three records with ids", server.url, batch)
                print(
                    f"\nTry: curl -s {server.url}/openapi.json | head -c 300; curl -s -X POST {server.url} "
                    "-H 'Content-Type: application/json' -d '<record>'"
                )
                print("Serving until Ctrl-C...", flush=True)
                try:
                    while server.process.poll() is None:
                        time.sleep(1)
                except KeyboardInterrupt:
                    print("\nStopping the function and the storage emulator.")


if __name__ == "__main__":
    main()
