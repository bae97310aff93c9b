"""Load and validate the UCI "Default of Credit Card Clients" data.

Reads UCI's spreadsheet (``.xls`` with two header rows, or the official ``.zip`` holding it), a
CSV with UCI's column names, and the popular Kaggle copy ``UCI_Credit_Card.csv`` (target named
``default.payment.next.month``). Every value is checked against the feature contract in
``functions/default_risk/contract/fields.py``; a bad file raises ``DataError`` with one message naming the problem,
the column and the row.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from default_risk.contract.fields import FEATURE_NAMES, FEATURES, MODEL_FIELDS, TARGET

DATA_ENV = "UCI_CREDIT_DATA"
"""Environment variable pointing the default source at a local copy (tests and CI use it)."""
UCI_URL = "https://archive.ics.uci.edu/static/public/350/default+of+credit+card+clients.zip"
CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "data"
ID_COLUMN = "ID"
TARGET_ALIASES = ("default.payment.next.month",)
"""Other names of ``TARGET`` in public copies of the data (the Kaggle variant)."""
_HEADER_SEARCH_ROWS = 3


class DataError(ValueError):
    """The data file is not the UCI data set: one readable message names the problem."""


def default_source() -> str:
    """``$UCI_CREDIT_DATA`` when set, else UCI's official zip."""
    return os.environ.get(DATA_ENV) or UCI_URL


def resolve_source(source: str | None = None) -> Path:
    """A local file for ``source`` (a path or an http(s) URL, downloaded once into the cache)."""
    source = source or default_source()
    if source.startswith(("http://", "https://")):
        return download(source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    return path


def download(url: str, cache_dir: Path = CACHE_DIR) -> Path:
    """Download ``url`` into ``cache_dir`` once, with a progress bar; return the cached file."""
    import requests
    from tqdm import tqdm

    name = url.rstrip("/").rsplit("/", 1)[-1].replace("+", "_") or "data"
    target = cache_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:8]}-{name}"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with requests.get(url, stream=True, timeout=60) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or None
            with partial.open("wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as error:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot download {url}: {error}") from error
    partial.rename(target)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_portfolio(source: str) -> np.ndarray:
    """A book of accounts to score or to check for drift: the fields of ``source`` (the same formats and checks
    as ``load_dataset``; the target and the protected fields may be missing), as a float64 matrix in
    ``FEATURE_NAMES`` order, NaN where a protected field is absent."""
    path = resolve_source(source)
    raw, first_line = _read_table(path)
    features, _ = validate(raw, first_line, str(path), portfolio=True)
    return features.to_numpy(dtype=np.float64)


def load_dataset(source: str | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The 23 features (columns in ``FEATURE_NAMES`` order) and the 0/1 target.

    ``source`` is a path or URL; None means ``$UCI_CREDIT_DATA`` or else UCI's zip. Codes and
    ages come back as int64, amounts as float64, the target as int64 named ``TARGET``.
    """
    path = resolve_source(source)
    raw, first_line = _read_table(path)
    return validate(raw, first_line, str(path))


def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """All cells as text, with the header row found; also the file line of the first data row."""
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith((".xls", ".csv"))]
                if not members:
                    raise DataError(f"{path} holds no .xls or .csv file")
                data, inner_suffix = archive.read(members[0]), Path(members[0]).suffix.lower()
        else:
            data, inner_suffix = path.read_bytes(), suffix
        if inner_suffix == ".xls":
            with warnings.catch_warnings():  # pandas 3 deprecates xlrd in favour of calamine; xlrd reads UCI's file
                warnings.filterwarnings("ignore", message="The xlrd engine is deprecated")
                grid = pd.read_excel(io.BytesIO(data), header=None, dtype=str, engine="xlrd")
        else:
            grid = pd.read_csv(io.BytesIO(data), header=None, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except DataError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path} cannot be read as a table: {error}") from error
    if grid.empty:
        raise DataError(f"{path} is empty")
    for row in range(min(_HEADER_SEARCH_ROWS, len(grid))):
        cells = [str(cell).strip() for cell in grid.iloc[row]]
        if "LIMIT_BAL" in cells or TARGET in cells or any(alias in cells for alias in TARGET_ALIASES):
            table = grid.iloc[row + 1 :].reset_index(drop=True)
            table.columns = cells
            return table, row + 2
    raise DataError(f"{path} has no header row naming the UCI columns (looked for LIMIT_BAL in the first rows)")


def validate(
    raw: pd.DataFrame, first_line: int, where: str, *, portfolio: bool = False
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Check a text table against the contract; return typed features and target. A ``portfolio`` needs no
    target and may lack the protected fields (their columns come back NaN)."""
    raw = raw.rename(columns={alias: TARGET for alias in TARGET_ALIASES})
    needed = MODEL_FIELDS if portfolio else (*FEATURE_NAMES, TARGET)
    missing = [name for name in needed if name not in raw.columns]
    if missing:
        raise DataError(f"{where}: missing column {', '.join(repr(m) for m in missing)}")
    duplicated_columns = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1 and c})
    if duplicated_columns:
        raise DataError(f"{where}: column {duplicated_columns[0]!r} appears more than once")
    if raw.empty:
        raise DataError(f"{where}: has a header but no data rows")

    def line(index: int) -> str:
        return f"row {index + 1} (line {first_line + index} of the file)"

    numbers = {name: np.full(len(raw), np.nan) for name in FEATURE_NAMES if name not in raw.columns}
    present = [name for name in (*FEATURE_NAMES, TARGET, ID_COLUMN) if name in raw.columns]
    for name in present:
        text = raw[name].fillna("").astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() | ~np.isfinite(values)
        if bad.any():
            index = int(np.flatnonzero(bad.to_numpy())[0])
            cell = text.iloc[index]
            what = "is empty" if cell == "" else f"is not a number: {cell!r}"
            raise DataError(f"{where}: column {name!r}, {line(index)} {what}")
        numbers[name] = values.astype(np.float64).to_numpy()

    for feature in FEATURES:
        values = numbers[feature.name]
        for value in np.unique(values[~np.isnan(values)]):
            python_value = int(value) if feature.kind != "amount" and float(value).is_integer() else float(value)
            problem = feature.problem(python_value)
            if problem:
                index = int(np.flatnonzero(values == value)[0])
                kind = "has a code the data never had" if feature.kind == "code" else "has an unacceptable value"
                raise DataError(f"{where}: column {feature.name!r}, {line(index)} {kind}: {problem}")

    target = numbers.get(TARGET)
    if target is None:  # a portfolio without outcomes
        return _typed(numbers, portfolio), None
    wrong = ~np.isin(target, (0, 1))
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        raise DataError(f"{where}: column {TARGET!r}, {line(index)} must be 0 or 1, got {target[index]:g}")

    if ID_COLUMN in numbers:
        ids = pd.Series(numbers[ID_COLUMN])
        repeated = ids.duplicated(keep=False).to_numpy()
        if repeated.any():
            rows = np.flatnonzero(ids.to_numpy() == ids.to_numpy()[repeated][0])
            raise DataError(
                f"{where}: column {ID_COLUMN!r} has duplicate ID {ids.iloc[rows[0]]:g} in {line(int(rows[0]))} "
                f"and {line(int(rows[1]))}"
            )

    return _typed(numbers, portfolio), pd.Series(target.astype(np.int64), name=TARGET)


def _typed(numbers: dict[str, np.ndarray], portfolio: bool) -> pd.DataFrame:
    """Codes and ages as int64, amounts as float64 (a portfolio: all float64, NaN where a field is absent)."""

    def dtype(kind: str) -> type:
        return np.float64 if portfolio or kind == "amount" else np.int64

    return pd.DataFrame({f.name: numbers[f.name].astype(dtype(f.kind)) for f in FEATURES}, columns=list(FEATURE_NAMES))
