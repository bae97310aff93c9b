"""Recourse and points on the promoted model and its own test set.

Every suggestion reaches the target band when the changed record is scored again with the same model; it changes
only the actionable fields, in their directions, within the contract's, the training data's and the lever's bounds;
a change 10% smaller does not reach the target (within the search's resolution). Points follow the scale's formula
and fall as the probability rises.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from default_risk.contract.bands import BAND_LABELS, band_indices
from default_risk.contract.fields import FEATURE_NAMES, FEATURES_BY_NAME
from default_risk.contract.points import SCALE, ScoreScale
from default_risk.contract.recourse import ACTIONABLE_FIELDS, DEFAULT_TARGET_BAND, LEVERS, RAISE
from default_risk.model.recourse import Suggestion
from default_risk.model.version import training_range

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
TARGETS = (BAND_LABELS.index(DEFAULT_TARGET_BAND), BAND_LABELS.index("B07"))


@pytest.fixture(scope="module")
def searched(promoted, test_rows) -> dict[int, tuple[np.ndarray, list[list[Suggestion] | None]]]:
    """Per target band: 400 test records drawn at random, and their suggestions."""
    rows = test_rows[np.random.default_rng(29).choice(len(test_rows), 400, replace=False)]
    found = {}
    for target in TARGETS:
        row_bands = band_indices(promoted.scorer.probabilities(rows), promoted.score_edges)
        found[target] = (rows, promoted.recourse.suggest(rows, row_bands, target))
    return found


def changed(row: np.ndarray, suggestion: Suggestion, shrink: float = 1.0) -> np.ndarray:
    """The record with the suggestion's changes (``shrink`` times as large)."""
    result = row.copy()
    for change in suggestion.changes:
        result[COLUMN[change.field]] = change.before + shrink * (change.after - change.before)
    return result


def suggestions(searched, target: int):
    rows, found = searched[target]
    return [(row, s) for row, options in zip(rows, found, strict=True) for s in options or []]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: BAND_LABELS[t])
def test_every_suggestion_reaches_the_target_when_scored_again(promoted, searched, target):
    found = suggestions(searched, target)
    assert len(found) >= 50, f"only {len(found)} suggestions toward {BAND_LABELS[target]}"
    rows = np.stack([changed(row, s) for row, s in found])
    probabilities = promoted.scorer.probabilities(rows)
    assert np.array_equal(probabilities, [s.probability for _, s in found])
    assert np.all(band_indices(probabilities, promoted.score_edges) <= target)
    assert np.array_equal(promoted.scale.points(probabilities), [s.points for _, s in found])
    assert {len(s.changes) for _, s in found} == {1, 2}, "single fields and pairs"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: BAND_LABELS[t])
def test_only_actionable_fields_change_in_their_directions_within_their_bounds(promoted, searched, target):
    directions = {lever.field: lever for lever in LEVERS}
    for row, suggestion in suggestions(searched, target):
        fields = [change.field for change in suggestion.changes]
        assert set(fields) <= set(ACTIONABLE_FIELDS) and len(set(fields)) == len(fields)
        for change in suggestion.changes:
            lever, feature = directions[change.field], FEATURES_BY_NAME[change.field]
            assert change.before == row[COLUMN[change.field]]
            assert np.sign(change.after - change.before) in lever.directions
            assert change.after == round(change.after), "whole NT$"
            low, high = training_range(promoted.manifest["serving"], change.field)
            assert max(feature.minimum, low) <= change.after <= min(feature.maximum, high)
            if lever.at_most_field and RAISE in lever.directions and change.after > change.before:
                assert change.after <= row[COLUMN[lever.at_most_field]]
            if lever.at_least is not None and change.after < change.before:
                assert change.after >= lever.at_least


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: BAND_LABELS[t])
def test_a_change_ten_percent_smaller_does_not_reach_the_target(promoted, searched, target):
    found = [(row, s) for row, s in suggestions(searched, target) if s.monotone]
    assert len(found) >= 20, "too few suggestions along which the model is monotone to test"
    smaller = promoted.scorer.probabilities(np.stack([changed(row, s, shrink=0.9) for row, s in found]))
    reached = band_indices(smaller, promoted.score_edges) <= target
    assert not reached.any(), [s for (_, s), hit in zip(found, reached, strict=True) if hit][:3]


def test_records_at_or_below_the_target_need_none_and_the_others_get_an_answer(promoted, searched):
    rows, found = searched[TARGETS[0]]
    bands = band_indices(promoted.scorer.probabilities(rows), promoted.score_edges)
    assert all((options is None) == (band <= TARGETS[0]) for band, options in zip(bands, found, strict=True))
    assert any(options == [] for options in found), "some records have no feasible change: a valid answer"


def test_points_are_the_scales_formula_and_fall_as_the_probability_rises(promoted):
    p = np.linspace(0.001, 0.999, 999)
    scale: ScoreScale = promoted.scale
    assert scale == SCALE
    factor = scale.points_to_double_odds / math.log(2)
    expected = scale.base_points + factor * (np.log((1 - p) / p) - math.log(scale.base_odds))
    assert np.max(np.abs(scale.points(p) - expected)) <= 1e-9
    assert np.all(np.diff(scale.points(p)) < 0)
    at_base = 1 / (1 + scale.base_odds)
    assert scale.points(np.array([at_base]))[0] == pytest.approx(scale.base_points, abs=1e-9)
    doubled = 1 / (1 + 2 * scale.base_odds)
    assert scale.points(np.array([doubled]))[0] == pytest.approx(scale.base_points + 20, abs=1e-9)
