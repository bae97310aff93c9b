"""The MLflow run of a (tiny) training: parameters, metrics, plots and the exported artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from default_risk.contract.artifacts import MANIFEST_FILE, VERSION_FILES
from training.metrics import PLOT_FILES
from training.train import parse_args, summary


def test_mlflow_run_holds_metrics_plots_and_artifacts(tiny_run):
    import mlflow

    config, result = tiny_run
    client = mlflow.MlflowClient(tracking_uri=config.tracking_uri)
    run = client.get_run(result.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "bank-default"
    assert Path(experiment.artifact_location.removeprefix("file://")) == config.artifact_root.resolve()
    metrics = run.data.metrics
    for name in ("roc_auc", "pr_auc", "brier", "log_loss", "ks", "ece"):
        assert metrics[f"test_{name}"] == pytest.approx(result.manifest["metrics"]["test"][name])
        assert f"hist_gradient_boosting.test_{name}" in metrics and f"logistic_regression.test_{name}" in metrics
    assert {"test_tn", "test_fp", "test_fn", "test_tp", "threshold"} <= set(metrics)
    assert run.data.params["data_sha256"] == result.manifest["data"]["sha256"]
    assert run.data.params["version"] == result.version
    assert run.data.tags["quality_gate"] in ("pass", "fail")
    logged = {item.path for item in client.list_artifacts(result.run_id, "plots")}
    assert logged == {f"plots/{name}" for name in PLOT_FILES}
    model_files = {item.path for item in client.list_artifacts(result.run_id, "model")}
    assert model_files == {f"model/{name}" for name in (*VERSION_FILES, MANIFEST_FILE)}
    for plot in result.plots:
        assert plot.read_bytes().startswith(b"\x89PNG")


def test_summary_shows_model_and_baselines(tiny_run):
    text = summary(tiny_run[1])
    assert "MLP (served)" in text and "hist_gradient_boosting" in text and "logistic_regression" in text
    assert "threshold" in text and tiny_run[1].version in text


def test_cli_flags_make_a_tiny_config():
    config = parse_args(["--sample", "500", "--max-epochs", "2", "--sizes", "8;16,8", "--preprocessings", "standard"])
    assert (config.sample, config.max_epochs, config.sizes, config.preprocessings) == (
        500,
        2,
        ((8,), (16, 8)),
        ("standard",),
    )


@pytest.mark.parametrize(
    "argv", [["--sizes", "64;x"], ["--preprocessings", "pca"], ["--max-epochs", "0"], ["--sample", "-3"]]
)
def test_cli_rejects_bad_flags_with_a_usage_message(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        parse_args(argv)
    assert raised.value.code == 2
    assert "error:" in capsys.readouterr().err
