"""The split is deterministic and stratified; every preprocessor survives a pickle round trip."""

from __future__ import annotations

import io
import subprocess
import sys

import joblib
import numpy as np
import pytest

from default_risk.contract.model_inputs import model_inputs
from training.config import PREPROCESSINGS
from training.data import load_dataset
from training.features import build_preprocessor
from training.split import split_dataset


@pytest.fixture(scope="module")
def data(shared_data):
    return load_dataset(str(shared_data))


def test_split_is_deterministic_and_stratified(data):
    first, again, other = split_dataset(*data), split_dataset(*data), split_dataset(*data, seed=7)
    np.testing.assert_array_equal(first.test_index, again.test_index)
    np.testing.assert_array_equal(first.x_val, again.x_val)
    assert not np.array_equal(first.test_index, other.test_index)
    info = first.describe(42, 0.2, 0.2)
    assert info["rows"] == {"train": 19_200, "validation": 4_800, "test": 6_000}
    rate = 6_636 / 30_000
    for part in ("train", "validation", "test"):
        assert abs(info["positives"][part] / info["rows"][part] - rate) < 0.001


def test_test_rows_are_disjoint_from_training_rows(data):
    split = split_dataset(*data)
    test_rows = {tuple(row) for row in split.x_test}
    train_rows = {tuple(row) for row in np.vstack([split.x_train, split.x_val])}
    duplicates_in_data = len(data[0]) - len(data[0].drop_duplicates())
    assert len(test_rows & train_rows) <= duplicates_in_data


@pytest.mark.parametrize("kind", PREPROCESSINGS)
def test_preprocessor_round_trip(tmp_path, data, kind):
    x = model_inputs(data[0].to_numpy(dtype=np.float64)[:3000], "fields+derived")
    preprocessor = build_preprocessor(kind, "fields+derived").fit(x)
    buffer = io.BytesIO()
    joblib.dump(preprocessor, buffer)
    restored = joblib.load(io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(restored.transform(x), preprocessor.transform(x))
    assert np.isfinite(preprocessor.transform(x)).all()

    # The function applies it with neither scikit-learn, SciPy, joblib nor training code importable.
    (tmp_path / "prep.joblib").write_bytes(buffer.getvalue())
    np.save(tmp_path / "x.npy", x[:20])
    np.save(tmp_path / "expected.npy", preprocessor.transform(x[:20]))
    code = (
        "import sys; sys.modules.update(sklearn=None, scipy=None, joblib=None, training=None); "
        "import numpy as np; from default_risk.model.preprocessing import load_preprocessor; "
        f"p = load_preprocessor(open('prep.joblib', 'rb').read(), {x.shape[1]}); "
        "np.testing.assert_array_equal(p.transform(np.load('x.npy')), np.load('expected.npy'))"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_preprocessing_is_refused():
    with pytest.raises(ValueError, match="unknown preprocessing 'pca'"):
        build_preprocessor("pca", "fields")
