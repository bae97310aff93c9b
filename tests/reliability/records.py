"""Hypothesis strategies for scoring records, derived from the feature contract in ``features``.

``valid_records`` draws anything the contract accepts; ``invalid_records`` draws a valid record
with exactly one field broken (wrong type, out of range, non-finite, missing or unknown) and says
which field, so a test can demand a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from default_risk.contract.fields import FEATURES, Feature

NOT_NUMBERS = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2), st.just({"x": 1})
)
UNKNOWN_FIELD = "NOT_A_FEATURE"


def valid_value(feature: Feature) -> st.SearchStrategy:
    if feature.kind == "code":  # whole numbers: 1 and 1.0 alike, as JSON Schema's integer
        return st.sampled_from(feature.codes).flatmap(lambda code: st.sampled_from([code, float(code)]))
    low, high = feature.minimum, feature.maximum
    if feature.kind == "integer":
        return st.integers(int(low), int(high)).flatmap(lambda v: st.sampled_from([v, float(v)]))
    return st.one_of(st.integers(int(low), int(high)), st.floats(low, high, allow_nan=False, allow_infinity=False))


def invalid_value(feature: Feature) -> st.SearchStrategy:
    """Values of JSON that the contract rejects for ``feature``."""
    non_finite = st.sampled_from([float("nan"), float("inf"), float("-inf")])
    beyond_floats = st.sampled_from([10**400, -(10**400)])
    if feature.kind == "code":
        wrong = st.one_of(
            st.integers().filter(lambda v: v not in feature.codes),
            st.sampled_from(feature.codes).map(lambda code: code + 0.5),  # not a whole number
        )
    else:
        low, high = feature.minimum, feature.maximum
        wrong = st.one_of(
            st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False),
            st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False),
            st.integers(max_value=int(low) - 1),
            st.integers(min_value=int(high) + 1),
        )
        if feature.kind == "integer":
            wrong = st.one_of(wrong, st.integers(int(low), int(high)).map(lambda v: v + 0.5))
    return st.one_of(wrong, non_finite, beyond_floats, NOT_NUMBERS)


def record_from_row(row: Sequence[float]) -> dict:
    """A JSON record from a row in ``FEATURE_NAMES`` order: integers where the contract wants them."""
    return {f.name: (float(v) if f.kind == "amount" else int(v)) for f, v in zip(FEATURES, row, strict=True)}


@st.composite
def valid_records(draw: st.DrawFn, with_id: bool | None = None) -> dict:
    """A record the contract accepts; the protected (optional) fields are sometimes left out."""
    record = {
        feature.name: draw(valid_value(feature))
        for feature in FEATURES
        if not feature.optional or draw(st.integers(0, 3)) > 0
    }
    if with_id if with_id is not None else draw(st.booleans()):
        record["id"] = draw(st.text(max_size=40))
    return record


@st.composite
def invalid_records(draw: st.DrawFn) -> tuple[dict, str]:
    """A record with one bad field, and that field's name."""
    record = draw(valid_records(with_id=False))
    feature = draw(st.sampled_from(FEATURES))
    how = draw(st.sampled_from(("value", "value", "value", "missing", "unknown")))
    if how == "missing" and not feature.optional:  # a protected field may be left out
        del record[feature.name]
        return record, feature.name
    if how == "unknown":
        record[UNKNOWN_FIELD] = draw(valid_value(feature))
        return record, UNKNOWN_FIELD
    record[feature.name] = draw(invalid_value(feature))
    return record, feature.name
