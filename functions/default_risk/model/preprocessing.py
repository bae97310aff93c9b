"""A model version's fitted preprocessor (``prep.joblib``), read and applied without scikit-learn.

Training fits a scikit-learn ``ColumnTransformer`` and saves it with ``joblib.dump``. The function
reads that file with a restricted unpickler: only the scikit-learn classes in ``COMPONENTS``, numpy
arrays, dtypes, scalars and ufuncs may appear; each estimator becomes a ``Fitted`` record of its
fitted attributes; anything else is refused before it is created, so unpickling runs no code of
the file's choosing. ``load_preprocessor`` then applies the fitted parameters (scaler means and
scales, one-hot categories, ufuncs) with numpy. Serving therefore needs neither scikit-learn nor
SciPy (about 200 MB installed and over a second of cold start) nor joblib's import.

Training proves the equivalence before it writes a version: ``training.export`` compares
``transform`` here with scikit-learn's own on ``contract.probe_rows`` and scores its parity rows through it.
"""

from __future__ import annotations

import importlib
import io
import math
import pickle
from collections.abc import Callable

import numpy as np

Block = Callable[[np.ndarray], np.ndarray]
RowBlock = Callable[[list[float]], list[float]]
"""A block for one row: its input values to its output values, as Python floats."""
COMPONENTS = frozenset({"ColumnTransformer", "Pipeline", "StandardScaler", "OneHotEncoder", "FunctionTransformer"})
"""The scikit-learn classes a served preprocessor may be made of."""
_NUMPY_MODULES = frozenset({"numpy", "numpy._core.multiarray", "numpy.core.multiarray"})
_NUMPY_HELPERS = frozenset({"dtype", "ndarray", "scalar"})


class UnsupportedPreprocessor(ValueError):
    """``prep.joblib`` holds something the function does not apply."""


class Fitted:
    """A scikit-learn estimator's fitted attributes, without its class (``kind`` is the class name)."""

    kind = ""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


_FITTED_CLASSES = {name: type(name, (Fitted,), {"kind": name}) for name in COMPONENTS}


class _ArrayHeader:
    """joblib's ``NumpyArrayWrapper``: an array's shape, order and dtype; its bytes follow in the file."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def read(self, source: io.BytesIO) -> np.ndarray:
        dtype: np.dtype = self.dtype
        if dtype.hasobject or self.subclass is not np.ndarray:
            raise UnsupportedPreprocessor(f"prep.joblib holds an array of {dtype} / {self.subclass.__name__}")
        if getattr(self, "numpy_array_alignment_bytes", None) is not None:
            source.read(source.read(1)[0])  # one byte giving the padding length, then the padding
        size = math.prod(self.shape) * dtype.itemsize
        data = source.read(size)
        if len(data) != size:
            raise UnsupportedPreprocessor("prep.joblib ends inside an array")
        array = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))
        return array.reshape(self.shape[::-1]).T if self.order == "F" else array.reshape(self.shape)


class _RestrictedUnpickler(pickle._Unpickler):
    """Unpickles ``joblib.dump`` output, admitting only the classes a served preprocessor needs."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, source: io.BytesIO) -> None:
        super().__init__(source)
        self._source = source

    def find_class(self, module: str, name: str) -> object:
        if module.partition(".")[0] == "sklearn" and name in COMPONENTS:
            return _FITTED_CLASSES[name]
        if (module, name) == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
            return _ArrayHeader
        if (module, name) == ("builtins", "slice"):
            return slice
        if module in _NUMPY_MODULES:
            value = getattr(importlib.import_module(module), name, None)
            numpy_type = isinstance(value, type) and issubclass(value, np.generic)
            if name in _NUMPY_HELPERS or isinstance(value, np.ufunc) or numpy_type:
                return value
        raise UnsupportedPreprocessor(f"prep.joblib refers to {module}.{name}, which the function does not load")

    def load_build(self) -> None:
        super().load_build()
        if isinstance(self.stack[-1], _ArrayHeader):  # joblib wrote the array's bytes right after it
            self.stack[-1] = self.stack[-1].read(self._source)

    dispatch[pickle.BUILD[0]] = load_build


class Preprocessor:
    """The fitted transformation: ``transform(matrix)`` maps model input rows (``model_inputs``) to the network's
    input; ``transform_row`` maps one row to the same values without a numpy call per block."""

    def __init__(
        self, blocks: list[tuple[slice, np.ndarray, Block]], row_blocks: list[tuple[list[int], RowBlock]], width: int
    ) -> None:
        self._blocks, self._row_blocks, self.width = blocks, row_blocks, width

    def transform_row(self, row: list[float]) -> np.ndarray:
        """``transform`` of one model input row, as a float32 matrix of one row: the same bits (scaling and one-hot
        codes in Python floats, rounded alike; ufuncs by numpy itself)."""
        out: list[float] = []
        for columns, block in self._row_blocks:  # in the order of their output columns, which they tile
            out += block([row[column] for column in columns])
        return np.array([out], dtype=np.float32)

    def transform(self, matrix: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Column by column, in column-major memory (each block reads and writes whole columns, about five times
        faster than row-major for a batch); a row-major result, as LiteRT takes it."""
        matrix = np.asfortranarray(matrix)
        out = np.empty((matrix.shape[0], self.width), dtype=dtype, order="F")
        for target, columns, block in self._blocks:
            out[:, target] = block(matrix[:, columns])
        return np.ascontiguousarray(out)


def load_preprocessor(data: bytes, inputs: int) -> Preprocessor:
    """The preprocessor saved in ``data`` (a ``prep.joblib`` file) for ``inputs`` model input columns;
    UnsupportedPreprocessor if it takes another number of columns or holds anything else than the
    ``COMPONENTS`` this module applies."""
    try:
        root = _RestrictedUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, IndexError) as error:
        raise UnsupportedPreprocessor(f"prep.joblib is not a readable joblib file ({error})") from error
    if getattr(root, "kind", None) != "ColumnTransformer":
        raise UnsupportedPreprocessor(f"prep.joblib holds a {type(root).__name__}, not a ColumnTransformer")
    if root.n_features_in_ != inputs or root.transformer_weights is not None or root.sparse_output_:
        raise UnsupportedPreprocessor(
            f"the ColumnTransformer must take the {inputs} model inputs, unweighted, with dense output "
            f"(it takes {root.n_features_in_})"
        )
    blocks, row_blocks = [], []
    for name, transformer, columns in root.transformers_:
        target = root.output_indices_[name]
        if transformer == "drop" or target.stop == target.start:
            continue
        block, row_block = (_identity, _identity) if transformer == "passthrough" else _compile(transformer)
        blocks.append((target, np.asarray(columns), block))
        row_blocks.append((target, [int(c) for c in columns], row_block))
    row_blocks.sort(key=lambda block: block[0].start)
    if [target.start for target, _, _ in row_blocks] != [0, *(target.stop for target, _, _ in row_blocks[:-1])]:
        raise UnsupportedPreprocessor("the ColumnTransformer's output columns do not follow one another")
    width = max((target.stop for target, _, _ in blocks), default=0)
    return Preprocessor(blocks, [(columns, block) for _, columns, block in row_blocks], width)


def _identity(x):
    return x


def _compile(component: object) -> tuple[Block, RowBlock]:
    """A fitted component as a block for a batch (numpy on whole columns) and one for a single row (Python floats,
    rounded alike; ufuncs by numpy itself)."""
    kind = getattr(component, "kind", type(component).__name__)
    if kind == "Pipeline":
        steps = [_compile(step) for _, step in component.steps if step not in (None, "passthrough")]
        batch, row = [b for b, _ in steps], [r for _, r in steps]
        return lambda x: _chain(batch, x), lambda x: _chain(row, x)
    if kind == "StandardScaler":
        width = len(component.mean_ if component.with_mean else component.scale_)
        mean = component.mean_ if component.with_mean else np.zeros(width)
        scale = component.scale_ if component.with_std else np.ones(width)
        means, scales = mean.tolist(), scale.tolist()
        return (
            lambda x: (x - mean) / scale,
            lambda x: [(value - m) / s for value, m, s in zip(x, means, scales, strict=True)],
        )
    if kind == "OneHotEncoder":
        if component.drop_idx_ is not None or component._infrequent_enabled or component.handle_unknown != "ignore":
            raise UnsupportedPreprocessor("OneHotEncoder with drop, infrequent categories or errors on unknown codes")
        source = np.concatenate([np.full(len(c), j) for j, c in enumerate(component.categories_)])
        values = np.concatenate(component.categories_).astype(np.float64)
        row = _one_hot_row([[float(code) for code in categories] for categories in component.categories_])
        return lambda x: x[:, source] == values, row
    if kind == "FunctionTransformer":
        if not isinstance(component.func, np.ufunc) or component.kw_args or component.validate:
            raise UnsupportedPreprocessor("FunctionTransformer other than a plain numpy ufunc")
        return component.func, lambda x: component.func(np.array(x)).tolist()
    raise UnsupportedPreprocessor(f"{kind} is not one of the components the function applies")


def _one_hot_row(categories: list[list[float]]) -> RowBlock:
    """A one-hot block for one row: each column's code marks its place among the column's categories (an unknown
    code marks none, as ``handle_unknown="ignore"``)."""
    offsets = [0]
    for codes in categories[:-1]:
        offsets.append(offsets[-1] + len(codes))
    places = [
        {code: offset + place for place, code in enumerate(codes)}
        for offset, codes in zip(offsets, categories, strict=True)
    ]
    width = offsets[-1] + len(categories[-1])

    def one_hot(x: list[float]) -> list[float]:
        out = [0.0] * width
        for value, place in zip(x, places, strict=True):
            if (at := place.get(value)) is not None:
                out[at] = 1.0
        return out

    return one_hot


def _chain(steps: list, x):
    for step in steps:
        x = step(x)
    return x
