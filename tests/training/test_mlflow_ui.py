"""`make mlflow-ui`: the full mlflow package in .venv-mlflow serves the runs training logged."""

from __future__ import annotations

import json
import os
import urllib.request

from tests.support.local_cloud import ROOT, Server

MLFLOW = ROOT / ".venv-mlflow" / "bin" / "mlflow"


def test_mlflow_ui_serves_its_page_and_the_training_runs(tiny_run, tmp_path):
    config, result = tiny_run
    assert MLFLOW.is_file(), "`make test` installs .venv-mlflow first (the Makefile's mlflow-ui environment)"

    def command(port: int) -> list[str]:
        return [str(MLFLOW), "ui", "--backend-store-uri", config.tracking_uri, "--host=127.0.0.1", f"--port={port}"]

    ui = Server(command, os.environ, tmp_path).start(timeout=180)  # slow to start on a busy machine
    try:
        with urllib.request.urlopen(ui.url + "/", timeout=30) as page:
            assert page.status == 200
            assert "<title>MLflow</title>" in page.read().decode()
        query = f"{ui.url}/api/2.0/mlflow/runs/get?run_id={result.run_id}"
        with urllib.request.urlopen(query, timeout=30) as answer:
            run = json.load(answer)["run"]
        metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
        assert metrics["test_roc_auc"] == result.manifest["metrics"]["test"]["roc_auc"]
    finally:
        ui.stop()
