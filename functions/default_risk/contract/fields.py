"""The input contract: the 23 UCI fields, their JSON types, accepted values and roles.

This is the one definition of a record. Training validates the data set against it, the function
validates requests against it, the OpenAPI document is generated from it, and the manifest of every
model version records it.

Each field has a role. ``MODEL_INPUT`` fields may reach the model. ``PROTECTED`` fields are validated when
sent, are optional, and never reach the model: they serve the fairness report only. ``SEX`` and ``MARRIAGE``
because US Regulation B (12 CFR 1002.6(b)) forbids a creditor to use sex or marital status in a
credit-scoring system; ``AGE`` because the elderly rule of 1002.6(b)(2) (no negative factor for an applicant
aged 62 or more) is then met by construction, at a cost of about 0.0005 of validation ROC-AUC (the
manifest's ``ablations``). Training proves on every test record that no protected field moves a score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Feature:
    """One input column.

    ``kind`` is ``"code"`` (a JSON integer from ``codes``), ``"integer"`` (a JSON integer in
    ``[minimum, maximum]``) or ``"amount"`` (any finite JSON number in ``[minimum, maximum]``).
    """

    name: str
    kind: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    codes: tuple[int, ...] = ()
    role: str = "model_input"
    """``MODEL_INPUT`` or ``PROTECTED``."""

    @property
    def optional(self) -> bool:
        """A record may leave it out (a given value is still checked): the protected fields."""
        return self.role == PROTECTED

    def problem(self, value: object) -> str | None:
        """Why ``value`` (as decoded from JSON) is not acceptable, or None when it is."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a JSON {'integer' if self.kind != 'amount' else 'number'}, got {_json_type(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if self.kind != "amount" and not (isinstance(value, int) or value.is_integer()):
            return f"must be a whole number, got {_shown(value)}"
        if self.kind == "code":
            if value not in self.codes:
                return f"must be one of {list(self.codes)}, got {_shown(value)}"
            return None
        if not self.minimum <= value <= self.maximum:
            return f"must be between {_number(self.minimum)} and {_number(self.maximum)}, got {_shown(value)}"
        return None

    def as_json_schema(self) -> dict:
        """The JSON Schema of this field, as used in the OpenAPI document."""
        schema: dict = {"description": self.description}
        if self.kind == "code":
            schema |= {"type": "integer", "enum": list(self.codes)}
        else:
            schema |= {
                "type": "integer" if self.kind == "integer" else "number",
                "minimum": _number(self.minimum),
                "maximum": _number(self.maximum),
            }
        return schema


MODEL_INPUT = "model_input"
PROTECTED = "protected"
ROLES = (MODEL_INPUT, PROTECTED)
ELDERLY_AGE = 62
"""Regulation B's elderly applicant: aged 62 or older (the fairness report's oldest age band)."""


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _shown(value: float) -> str:
    """A number as an error shows it: a 4,000-digit integer is not echoed whole."""
    text = str(value)
    return text if len(text) <= 32 else f"{text[:16]}... ({len(text)} characters)"


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


_MONEY = "NT dollars"
_MAX_AMOUNT = 10_000_000
_REPAYMENT_CODES = tuple(range(-2, 10))
_MONTHS = ("September", "August", "July", "June", "May", "April")


def _repayment(name: str, month: str) -> Feature:
    return Feature(
        name,
        "code",
        f"Repayment status in {month} 2005: -2 no consumption, -1 paid in full, 0 revolving credit, "
        "1..9 months of payment delay (9 = nine or more).",
        codes=_REPAYMENT_CODES,
    )


FEATURES: tuple[Feature, ...] = (
    Feature("LIMIT_BAL", "amount", f"Amount of given credit ({_MONEY}), individual and family.", 0, _MAX_AMOUNT),
    Feature(
        "SEX", "code", "1 male, 2 female. Protected: optional, never used by the model.", codes=(1, 2), role=PROTECTED
    ),
    Feature(
        "EDUCATION",
        "code",
        "1 graduate school, 2 university, 3 high school, 4 others; 0, 5, 6 occur in the data undocumented.",
        codes=(0, 1, 2, 3, 4, 5, 6),
    ),
    Feature(
        "MARRIAGE",
        "code",
        "1 married, 2 single, 3 others; 0 occurs in the data undocumented. Protected: optional, never used by "
        "the model.",
        codes=(0, 1, 2, 3),
        role=PROTECTED,
    ),
    Feature("AGE", "integer", "Age in years. Protected: optional, never used by the model.", 18, 100, role=PROTECTED),
    *(
        _repayment(name, month)
        for name, month in zip(("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"), _MONTHS, strict=True)
    ),
    *(
        Feature(
            f"BILL_AMT{i}",
            "amount",
            f"Bill statement in {month} 2005 ({_MONEY}); negative is a credit.",
            -_MAX_AMOUNT,
            _MAX_AMOUNT,
        )
        for i, month in enumerate(_MONTHS, start=1)
    ),
    *(
        Feature(f"PAY_AMT{i}", "amount", f"Amount paid in {month} 2005 ({_MONEY}).", 0, _MAX_AMOUNT)
        for i, month in enumerate(_MONTHS, start=1)
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
FEATURES_BY_NAME: dict[str, Feature] = {feature.name: feature for feature in FEATURES}
MODEL_FIELDS: tuple[str, ...] = tuple(f.name for f in FEATURES if f.role == MODEL_INPUT)
"""The fields the model may use, in contract order."""
PROTECTED_FIELDS: tuple[str, ...] = tuple(f.name for f in FEATURES if f.role == PROTECTED)

TARGET = "default payment next month"


def contract_as_dict() -> list[dict]:
    """The contract as plain data, written into every model version's manifest."""
    return [{k: v for k, v in asdict(f).items() if v not in (None, ())} for f in FEATURES]


def probe_rows(rows: int = 512, seed: int = 0):
    """Rows spanning the contract (a float64 numpy matrix): every code, and values across each range on a log
    scale; protected fields given. Proves a preprocessor and a model version servable over the whole contract."""
    import numpy as np

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
