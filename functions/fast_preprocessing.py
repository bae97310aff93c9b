"""A fast path for the fitted scikit-learn preprocessor: the same transformation, without its per-call cost.

scikit-learn's ``ColumnTransformer.transform`` spends milliseconds per call on input checks and
dispatch, whatever the number of rows; a one-record request needs well under one. ``compile_preprocessor``
reads the fitted parameters (scaler means and scales, one-hot categories, ufuncs, quantiles) out of
the loaded preprocessor and applies them with plain numpy. Nothing is defined twice: the parameters
are the fitted ones, and the result is checked against the preprocessor's own ``transform`` on probe
rows spanning the feature contract before it is used. Any component it does not know, or any
difference, keeps scikit-learn's ``transform``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from features import FEATURES

Block = Callable[[np.ndarray], np.ndarray]
TOLERANCE = 1e-9
PROBE_ROWS = 512


class Unsupported(Exception):
    """A component the fast path does not know how to apply."""


class CompiledPreprocessor:
    """``transform(matrix)`` with the fitted parameters of a ColumnTransformer; ``source`` is the original."""

    def __init__(self, source: object, blocks: list[tuple[slice, np.ndarray, Block]], width: int) -> None:
        self.source, self._blocks, self._width = source, blocks, width

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        out = np.empty((matrix.shape[0], self._width))
        for target, columns, block in self._blocks:
            out[:, target] = block(matrix[:, columns])
        return out


def compile_preprocessor(preprocessor: object) -> tuple[object, str]:
    """(the object to call ``transform`` on, ``"compiled"`` or why scikit-learn's own is kept)."""
    try:
        compiled = _compile_column_transformer(preprocessor)
    except (Unsupported, AttributeError, TypeError, ValueError) as error:
        return preprocessor, f"scikit-learn ({error})"
    probe = probe_rows()
    difference = float(np.max(np.abs(compiled.transform(probe) - preprocessor.transform(probe))))
    if not difference <= TOLERANCE:
        return preprocessor, f"scikit-learn (fast path differs by {difference:.1e})"
    return compiled, "compiled"


def probe_rows(rows: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """Rows spanning the contract: every code, and values across each range on a log scale."""
    rng = np.random.default_rng(seed)
    columns = []
    for feature in FEATURES:
        if feature.codes:
            columns.append(np.resize(np.array(feature.codes, dtype=np.float64), rows))
        elif feature.kind == "integer":
            columns.append(rng.integers(feature.minimum, feature.maximum, rows, endpoint=True).astype(np.float64))
        else:
            magnitude = np.expm1(rng.uniform(0, np.log1p(max(abs(feature.minimum), feature.maximum)), rows))
            sign = np.where(rng.random(rows) < 0.5, -1.0, 1.0) if feature.minimum < 0 else 1.0
            columns.append(np.clip(np.round(sign * magnitude), feature.minimum, feature.maximum))
    return np.column_stack(columns)


def _compile_column_transformer(preprocessor: object) -> CompiledPreprocessor:
    from sklearn.compose import ColumnTransformer

    if type(preprocessor) is not ColumnTransformer:
        raise Unsupported(f"{type(preprocessor).__name__} is not a ColumnTransformer")
    blocks = []
    for name, transformer, columns in preprocessor.transformers_:
        target = preprocessor.output_indices_[name]
        if transformer == "drop" or target.stop == target.start:
            continue
        if transformer == "passthrough":
            blocks.append((target, np.asarray(columns), _identity))
            continue
        blocks.append((target, np.asarray(columns), _compile(transformer)))
    width = max((target.stop for target, _, _ in blocks), default=0)
    return CompiledPreprocessor(preprocessor, blocks, width)


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _compile(transformer: object) -> Block:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, QuantileTransformer, StandardScaler

    kind = type(transformer)
    if kind is Pipeline:
        steps = [_compile(step) for _, step in transformer.steps if step not in (None, "passthrough")]
        return lambda x: _chain(steps, x)
    if kind is StandardScaler:
        mean = transformer.mean_ if transformer.with_mean else 0.0
        scale = transformer.scale_ if transformer.with_std else 1.0
        return lambda x: (x - mean) / scale
    if kind is OneHotEncoder:
        if (
            transformer.drop_idx_ is not None
            or transformer._infrequent_enabled
            or transformer.handle_unknown != "ignore"
        ):
            raise Unsupported("OneHotEncoder with drop, infrequent categories or errors on unknown codes")
        source = np.concatenate([np.full(len(c), j) for j, c in enumerate(transformer.categories_)])
        values = np.concatenate(transformer.categories_).astype(np.float64)
        return lambda x: (x[:, source] == values).astype(np.float64)
    if kind is FunctionTransformer:
        if not isinstance(transformer.func, np.ufunc) or transformer.kw_args or transformer.validate:
            raise Unsupported("FunctionTransformer other than a plain numpy ufunc")
        return transformer.func
    if kind is QuantileTransformer:
        return _quantile(transformer)
    raise Unsupported(f"{kind.__name__} has no fast path")


def _chain(steps: list[Block], x: np.ndarray) -> np.ndarray:
    for step in steps:
        x = step(x)
    return x


def _quantile(transformer: object) -> Block:
    """scikit-learn's QuantileTransformer forward mapping, column by column (its ``_transform_col``)."""
    from scipy.special import ndtri  # the standard normal's ppf
    from sklearn.preprocessing._data import BOUNDS_THRESHOLD

    quantiles, references = transformer.quantiles_, transformer.references_
    normal = transformer.output_distribution == "normal"
    if transformer.output_distribution not in ("normal", "uniform"):
        raise Unsupported(f"QuantileTransformer output {transformer.output_distribution}")
    clip = ndtri([BOUNDS_THRESHOLD - np.spacing(1), 1 - (BOUNDS_THRESHOLD - np.spacing(1))])

    def transform(x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for j in range(x.shape[1]):
            column, q = x[:, j], quantiles[:, j]
            mapped = 0.5 * (np.interp(column, q, references) - np.interp(-column, -q[::-1], -references[::-1]))
            if normal:
                mapped[column == q[-1]] = 1
                mapped[column == q[0]] = 0
            else:
                mapped = np.clip(mapped, 0, 1)
            out[:, j] = mapped
        if normal:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.clip(ndtri(out), clip[0], clip[1])
        return out

    return transform
