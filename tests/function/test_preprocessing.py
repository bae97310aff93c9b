"""The function's reader of ``prep.joblib``: equal to scikit-learn for every training preprocessor,
and refusing, with a message naming it, anything it does not apply or any code a file could run."""

from __future__ import annotations

import io
import os
import pickle

import joblib
import numpy as np
import pytest

from default_risk.contract.artifacts import PREP_FILE
from default_risk.contract.fields import probe_rows
from default_risk.contract.model_inputs import FEATURE_SETS, model_inputs
from default_risk.model.preprocessing import UnsupportedPreprocessor, load_preprocessor
from tests.support.local_cloud import ROOT
from tests.support.tiny_model import load_rows
from training.config import PREPROCESSINGS
from training.features import build_preprocessor

FEATURE_SET = "fields+derived"
WIDTH = len(FEATURE_SETS[FEATURE_SET])
ALL_COLUMNS = list(range(WIDTH))


def dumped(value: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """Model inputs of real rows (feature set ``FEATURE_SET``)."""
    return model_inputs(load_rows(2000, seed=3)[0], FEATURE_SET)


@pytest.mark.parametrize("feature_set", FEATURE_SETS)
@pytest.mark.parametrize("kind", PREPROCESSINGS)
def test_every_training_preprocessor_transforms_exactly_as_scikit_learn(kind, feature_set):
    inputs = model_inputs(load_rows(2000, seed=3)[0], feature_set)
    fitted = build_preprocessor(kind, feature_set).fit(inputs)
    served = load_preprocessor(dumped(fitted), inputs.shape[1])
    for matrix in (inputs, inputs[:1], model_inputs(probe_rows(), feature_set)):
        np.testing.assert_array_equal(served.transform(matrix), fitted.transform(matrix))
    np.testing.assert_array_equal(served.transform(inputs, np.float32), fitted.transform(inputs).astype(np.float32))
    assert served.width == fitted.transform(inputs[:1]).shape[1]


def test_the_promoted_version_reads_as_scikit_learn_fitted_it():
    import json

    folder = ROOT / "models" / (ROOT / "models" / "PROMOTED").read_text().strip()
    feature_set = json.loads((folder / "manifest.json").read_text())["serving"]["feature_set"]
    fitted = joblib.load(folder / PREP_FILE)
    served = load_preprocessor((folder / PREP_FILE).read_bytes(), len(FEATURE_SETS[feature_set]))
    probe = model_inputs(probe_rows(), feature_set)
    np.testing.assert_array_equal(served.transform(probe), fitted.transform(probe))


def test_a_component_it_does_not_apply_is_refused_by_name(rows):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import MinMaxScaler

    fitted = ColumnTransformer([("all", MinMaxScaler(), ALL_COLUMNS)]).fit(rows)
    with pytest.raises(UnsupportedPreprocessor, match=r"refers to sklearn\.preprocessing\._data\.MinMaxScaler"):
        load_preprocessor(dumped(fitted), WIDTH)


def test_weighted_or_narrower_column_transformers_are_refused(rows):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    weighted = ColumnTransformer([("all", StandardScaler(), ALL_COLUMNS)], transformer_weights={"all": 2.0})
    narrow = ColumnTransformer([("all", StandardScaler(), [0, 1])])
    for fitted in (weighted.fit(rows), narrow.fit(rows[:, :2])):
        with pytest.raises(UnsupportedPreprocessor, match=f"must take the {WIDTH} model inputs, unweighted"):
            load_preprocessor(dumped(fitted), WIDTH)


class RunsACommand:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_file_that_would_run_code_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnsupportedPreprocessor, match=r"refers to (posix|os)\.system"):
        load_preprocessor(dumped({"preprocessor": RunsACommand()}), WIDTH)
    assert not (tmp_path / "pwned").exists()
    joblib.load(io.BytesIO(dumped(RunsACommand())))  # what joblib.load would have done
    assert (tmp_path / "pwned").exists()


@pytest.mark.parametrize("cut", [1, 100, -40])
def test_a_truncated_file_is_refused(rows, cut):
    data = dumped(build_preprocessor(PREPROCESSINGS[-1], FEATURE_SET).fit(rows))
    with pytest.raises(UnsupportedPreprocessor, match=r"not a readable joblib file|ends inside an array"):
        load_preprocessor(data[:cut], WIDTH)


def test_a_plain_pickle_of_something_else_is_refused():
    with pytest.raises(UnsupportedPreprocessor, match="holds a dict, not a ColumnTransformer"):
        load_preprocessor(pickle.dumps({"mean": [1.0]}), WIDTH)
