"""The loader on the real data, on each file format, and on malformed files of each kind."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from default_risk.contract.fields import FEATURE_NAMES, TARGET
from training.data import DataError, load_dataset


@pytest.fixture(scope="module")
def real(shared_data):
    return load_dataset(str(shared_data))


@pytest.fixture(scope="module")
def head(shared_data) -> pd.DataFrame:
    """The first 50 rows of the shared CSV, as text, to build small files from."""
    return pd.read_csv(shared_data, nrows=50, dtype=str)


def test_real_data_has_every_row_and_the_known_positives(real):
    features, target = real
    assert features.shape == (30_000, 23)
    assert list(features.columns) == list(FEATURE_NAMES)
    assert int(target.sum()) == 6_636
    assert set(target.unique()) == {0, 1}
    assert features["EDUCATION"].dtype == np.int64 and features["LIMIT_BAL"].dtype == np.float64


def test_default_source_is_the_environment_variable(monkeypatch, shared_data, real):
    monkeypatch.setenv("UCI_CREDIT_DATA", str(shared_data))
    features, _ = load_dataset()
    pd.testing.assert_frame_equal(features, real[0])


def test_kaggle_variant_with_float_cells(tmp_path, head):
    kaggle = head.rename(columns={TARGET: "default.payment.next.month"})
    kaggle["LIMIT_BAL"] = kaggle["LIMIT_BAL"].astype(float).astype(str)  # Kaggle writes "20000.0"
    path = tmp_path / "UCI_Credit_Card.csv"
    kaggle.to_csv(path, index=False)
    features, target = load_dataset(str(path))
    assert len(features) == 50 and target.name == TARGET
    assert features["LIMIT_BAL"].iloc[0] == float(head["LIMIT_BAL"].iloc[0])


def _write_xls(path, table: pd.DataFrame) -> None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    header = ["", *[f"X{i}" for i in range(1, 24)], "Y"]  # UCI's first header row
    for row, cells in enumerate([header, list(table.columns), *table.to_numpy().tolist()]):
        for column, cell in enumerate(cells):
            sheet.write(row, column, int(cell) if row >= 2 else cell)
    book.save(str(path))


def test_uci_spreadsheet_and_its_zip(tmp_path, head):
    xls = tmp_path / "default of credit card clients.xls"
    _write_xls(xls, head)
    features, target = load_dataset(str(xls))
    assert len(features) == 50
    assert target.tolist() == head[TARGET].astype(int).tolist()
    archive = tmp_path / "uci.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(xls, xls.name)
    pd.testing.assert_frame_equal(load_dataset(str(archive))[0], features)


def test_csv_with_uci_two_header_rows(tmp_path, head):
    path = tmp_path / "two_headers.csv"
    path.write_text(",".join(["", *[f"X{i}" for i in range(1, 24)], "Y"]) + "\n" + head.to_csv(index=False))
    assert len(load_dataset(str(path))[0]) == 50


def _broken(head: pd.DataFrame, kind: str) -> pd.DataFrame:
    table = head.copy()
    if kind == "missing column":
        return table.drop(columns=["PAY_AMT3"])
    if kind == "non-numeric cell":
        table.loc[6, "BILL_AMT2"] = "12,3x"
    elif kind == "empty cell":
        table.loc[6, "AGE"] = ""
    elif kind == "unknown code":
        table.loc[6, "EDUCATION"] = "7"
    elif kind == "out of range":
        table.loc[6, "LIMIT_BAL"] = "-5000"
    elif kind == "duplicate ID":
        table.loc[6, "ID"] = table.loc[2, "ID"]
    elif kind == "wrong target":
        table.loc[6, TARGET] = "2"
    return table


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing column", ["missing column", "'PAY_AMT3'"]),
        ("non-numeric cell", ["'BILL_AMT2'", "row 7 (line 8 of the file)", "not a number: '12,3x'"]),
        ("empty cell", ["'AGE'", "row 7", "is empty"]),
        ("unknown code", ["'EDUCATION'", "row 7", "code the data never had", "got 7"]),
        ("out of range", ["'LIMIT_BAL'", "row 7", "between 0 and"]),
        ("duplicate ID", ["'ID'", "duplicate ID 3", "row 3", "row 7"]),
        ("wrong target", [f"'{TARGET}'", "row 7", "must be 0 or 1, got 2"]),
    ],
)
def test_malformed_file_gets_one_readable_message(tmp_path, head, kind, expected):
    path = tmp_path / "bad.csv"
    _broken(head, kind).to_csv(path, index=False)
    with pytest.raises(DataError) as raised:
        load_dataset(str(path))
    for fragment in expected:
        assert fragment in str(raised.value), f"{fragment!r} not in {raised.value}"


@pytest.mark.parametrize("content", ["", "ID,LIMIT_BAL\n", "just some words\nand more\n"])
def test_empty_or_foreign_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=r"empty|no data rows|no header row|missing column"):
        load_dataset(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "nope.csv"))


def test_cli_prints_a_message_not_a_traceback(tmp_path, head):
    path = tmp_path / "bad.csv"
    _broken(head, "unknown code").to_csv(path, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "training.train", "--data", str(path), "--models-dir", str(tmp_path / "m")],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr and "'EDUCATION'" in done.stderr and "row 7" in done.stderr
    assert not (tmp_path / "m").exists()
