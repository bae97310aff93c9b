"""The smallest changes of a record's actionable fields (``contract.recourse.LEVERS``) that bring it down to a
target risk band, each verified by scoring the changed record with the same model.

For each record above the target, each lever and direction is a path from the record's value to the bound of
that direction (the tightest of the contract's range, the training data's and the lever's own). The search scores a grid
along every path at once (``GRID_STEPS`` points, denser near small changes), takes the first grid point that
reaches the target, and narrows the interval between it and the grid point before it (``REFINEMENTS`` rounds of
``SUBDIVISIONS``, all paths in one batch each). Pairs of levers are a ``PAIR_STEPS`` x ``PAIR_STEPS`` grid; of the
points that reach the target, the one with the smallest total change (NT$) is narrowed along the line from the
record in the same way, and suggested only when it asks less in all than either of its fields alone. Changes are
rounded up to whole NT$ and the rounded record is scored again: only what that score confirms is suggested.

The narrowing assumes the probability crosses the target's edge once between two grid points. Whether the
probability fell at every grid step before the target was reached is reported (``monotone``): where it did not,
the model is not monotone in that field for this customer, and the suggestion is the smallest on the grid and
exact only between its two grid points.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

import numpy as np

from default_risk.contract.bands import band_indices
from default_risk.contract.fields import FEATURE_NAMES, FEATURES_BY_NAME
from default_risk.contract.points import ScoreScale
from default_risk.contract.recourse import ACTIONABLE_FIELDS, LEVERS
from default_risk.model.scorer import Network, Scorer

GRID_STEPS = 24
PAIR_STEPS = 8
SUBDIVISIONS = 8
REFINEMENTS = 4
"""Each round narrows a path's interval eightfold: four rounds leave 1/4096 of a grid step."""
CHUNK_ROWS = 32_768
"""Rows scored in one call: a few MB of network input."""


@dataclass(frozen=True)
class Change:
    field: str
    before: float
    after: float


@dataclass(frozen=True)
class Suggestion:
    changes: tuple[Change, ...]
    probability: float
    """The changed record's probability of default, as the model scores it."""
    band: int
    points: float
    monotone: bool
    """The probability fell (or held) at every grid step before the target was reached."""


@dataclass(frozen=True)
class _Path:
    """Changes along ``vector`` (one entry per lever field) from a record: ``record + t * vector``, t in (0, 1]."""

    record: int
    levers: tuple[int, ...]
    vector: np.ndarray


def lever_ranges(training_range: dict[str, tuple[float, float]]) -> list[tuple[float, float]]:
    """Per lever, the lowest and highest value a suggestion may take: the contract's range within the training
    data's (``training_range``: field -> its lowest and highest training value)."""
    ranges = []
    for lever in LEVERS:
        feature, (low, high) = FEATURES_BY_NAME[lever.field], training_range[lever.field]
        ranges.append((max(feature.minimum, low), min(feature.maximum, high)))
    return ranges


def _size(suggestion: Suggestion) -> float:
    return sum(abs(change.after - change.before) for change in suggestion.changes)


def _ordered(suggestions: list[Suggestion]) -> list[Suggestion]:
    """Single fields from the smallest change, then the pair, unless one of its fields alone asks no more."""
    singles = sorted((s for s in suggestions if len(s.changes) == 1), key=_size)
    alone = {
        field: min((_size(s) for s in singles if s.changes[0].field == field), default=np.inf)
        for field in ACTIONABLE_FIELDS
    }
    pairs = [
        s for s in suggestions if len(s.changes) == 2 and all(_size(s) < alone.get(c.field, np.inf) for c in s.changes)
    ]
    return singles + pairs


def _steps(count: int) -> np.ndarray:
    """Fractions of a path, in (0, 1], denser near 0 where the smallest changes are."""
    return (np.arange(1, count + 1) / count) ** 2


class RecourseSearch:
    """Recourse for one version: its scorer, band edges, points scale and the training data's range of each lever
    field."""

    def __init__(
        self,
        scorer: Scorer,
        score_edges: np.ndarray,
        scale: ScoreScale,
        training_range: dict[str, tuple[float, float]],
    ) -> None:
        self._scorer, self._edges, self._scale = scorer, score_edges, scale
        self._network = Network(scorer.model_bytes, scorer.preprocessor.width)
        self._columns = [FEATURE_NAMES.index(lever.field) for lever in LEVERS]
        self.bounds = np.array(lever_ranges(training_range))
        """levers x (lowest, highest) value a suggestion may take."""

    def suggest(self, features: np.ndarray, bands: np.ndarray, target: int) -> list[list[Suggestion] | None]:
        """Per record: None when its band is at or below ``target``, else its verified suggestions (single levers
        from the smallest change up, then the best pair; empty when no change within the bounds reaches it)."""
        above = np.flatnonzero(bands > target)
        found: list[list[Suggestion] | None] = [None] * len(features)
        for row in above.tolist():
            found[row] = []
        if not len(above):
            return found
        lever_values = features[:, self._columns]
        singles, single_monotone = self._single_paths(features, lever_values, above, target)
        pairs, pair_monotone = self._pair_paths(features, lever_values, above, target)
        paths = singles + pairs
        monotone = single_monotone + pair_monotone
        ends = self._refine(features, paths, target)
        for path, suggestion in zip(paths, self._verified(features, lever_values, paths, ends, target, monotone),
                                    strict=True):  # fmt: skip
            if suggestion is not None:
                found[path[0].record].append(suggestion)
        return [None if suggestions is None else _ordered(suggestions) for suggestions in found]

    # --- the grids --------------------------------------------------------------------------------------------

    def _room(self, features: np.ndarray, lever: int, direction: int) -> np.ndarray:
        """Per record: how far the lever may move in ``direction`` (signed; 0 when the record is at its bound)."""
        spec, value = LEVERS[lever], features[:, self._columns[lever]]
        if direction > 0:
            bound = np.full(len(features), self.bounds[lever, 1])
            if spec.at_most_field is not None:
                bound = np.minimum(bound, features[:, FEATURE_NAMES.index(spec.at_most_field)])
        else:
            bound = np.full(
                len(features), max(self.bounds[lever, 0], -np.inf if spec.at_least is None else spec.at_least)
            )
        return np.where((bound - value) * direction > 0, bound - value, 0.0)

    def _single_paths(self, features: np.ndarray, lever_values: np.ndarray, above: np.ndarray, target: int
                      ) -> tuple[list[tuple[_Path, float, float]], list[bool]]:  # fmt: skip
        directions = [(lever, direction) for lever, spec in enumerate(LEVERS) for direction in spec.directions]
        steps = _steps(GRID_STEPS)
        rooms = np.stack([self._room(features[above], lever, d) for lever, d in directions], axis=1)
        vectors = np.zeros((len(above), len(directions), len(LEVERS)))
        for k, (lever, _) in enumerate(directions):
            vectors[:, k, lever] = rooms[:, k]
        candidates = vectors[:, :, None, :] * steps[None, None, :, None]  # records x paths x steps x levers
        reach, probabilities = self._reaches(features, above, candidates, target)
        paths, monotone = [], []
        for i, record in enumerate(above.tolist()):
            for k in range(len(directions)):
                hits = np.flatnonzero(reach[i, k])
                if rooms[i, k] == 0 or not len(hits):
                    continue
                first = int(hits[0])
                low = float(steps[first - 1]) if first else 0.0
                paths.append((_Path(record, (directions[k][0],), vectors[i, k]), low, float(steps[first])))
                monotone.append(bool(np.all(np.diff(probabilities[i, k, : first + 1]) <= 1e-12)))
        return paths, monotone

    def _pair_paths(self, features: np.ndarray, lever_values: np.ndarray, above: np.ndarray, target: int
                    ) -> tuple[list[tuple[_Path, float, float]], list[bool]]:  # fmt: skip
        steps = _steps(PAIR_STEPS)
        grid = np.array(list(product(steps, steps)))  # points x 2
        combos = [
            ((a, da), (b, db))
            for a, b in combinations(range(len(LEVERS)), 2)
            for da, db in product(LEVERS[a].directions, LEVERS[b].directions)
        ]
        vectors = np.zeros((len(above), len(combos), len(grid), len(LEVERS)))
        for k, ((a, da), (b, db)) in enumerate(combos):
            vectors[:, k, :, a] = self._room(features[above], a, da)[:, None] * grid[None, :, 0]
            vectors[:, k, :, b] = self._room(features[above], b, db)[:, None] * grid[None, :, 1]
        reach, probabilities = self._reaches(features, above, vectors, target)
        reach &= np.count_nonzero(vectors, axis=3) == 2  # a pair changes both fields
        best_paths, monotone = [], []
        cost = np.abs(vectors).sum(axis=3)
        for i, record in enumerate(above.tolist()):
            options = [(float(cost[i, k, j]), k, j) for k, j in zip(*np.nonzero(reach[i]), strict=True)]
            if not options:
                continue
            _, k, j = min(options)
            (a, _), (b, _) = combos[k]
            surface = probabilities[i, k].reshape(PAIR_STEPS, PAIR_STEPS)
            row, column = divmod(int(j), PAIR_STEPS)
            steady = np.all(np.diff(surface[: row + 1, : column + 1], axis=0) <= 1e-12) and np.all(
                np.diff(surface[: row + 1, : column + 1], axis=1) <= 1e-12
            )
            best_paths.append((_Path(record, (a, b), vectors[i, k, j]), 0.0, 1.0))
            monotone.append(bool(steady))
        return best_paths, monotone

    def _reaches(self, features: np.ndarray, above: np.ndarray, changes: np.ndarray, target: int
                 ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Whether each changed record (``changes``: records x ... x levers, added to the lever fields of the
        records ``above``) reaches the target band, and its probability."""
        shape = changes.shape[:-1]
        rows = np.repeat(features[above], int(np.prod(shape[1:])), axis=0)
        rows[:, self._columns] += changes.reshape(-1, len(LEVERS))
        probabilities = self._probabilities(rows).reshape(shape)
        return band_indices(probabilities, self._edges) <= target, probabilities

    # --- narrowing and verification ---------------------------------------------------------------------------

    def _refine(self, features: np.ndarray, paths: list[tuple[_Path, float, float]], target: int) -> np.ndarray:
        """Per path, the smallest fraction found to reach the target: ``REFINEMENTS`` rounds, each scoring
        ``SUBDIVISIONS - 1`` points inside every path's interval at once and keeping the part where the target is
        first reached."""
        if not paths:
            return np.zeros(0)
        low = np.array([p[1] for p in paths])
        high = np.array([p[2] for p in paths])
        base = features[[p[0].record for p in paths]]
        vectors = np.stack([p[0].vector for p in paths])
        inner = np.arange(1, SUBDIVISIONS) / SUBDIVISIONS
        for _ in range(REFINEMENTS):
            points = low[:, None] + (high - low)[:, None] * inner[None, :]  # paths x points
            rows = np.repeat(base, len(inner), axis=0)
            rows[:, self._columns] += (points[:, :, None] * vectors[:, None, :]).reshape(-1, len(LEVERS))
            reached = (band_indices(self._probabilities(rows), self._edges) <= target).reshape(len(paths), -1)
            first = np.where(reached.any(axis=1), reached.argmax(axis=1), len(inner))
            bounds = np.hstack([low[:, None], points, high[:, None]])
            picked = np.arange(len(paths))
            low, high = bounds[picked, first], bounds[picked, first + 1]
        return high

    def _verified(self, features: np.ndarray, lever_values: np.ndarray, paths: list[tuple[_Path, float, float]],
                  ends: np.ndarray, target: int, monotone: list[bool]) -> list[Suggestion | None]:  # fmt: skip
        """Each path's change at its end, rounded away from the record to whole NT$ and scored again: a suggestion
        when the changed record reaches the target, else None."""
        if not paths:
            return []
        rows = features[[path.record for path, _, _ in paths]].copy()
        changes = []
        for row, ((path, _, _), end) in enumerate(zip(paths, ends.tolist(), strict=True)):
            changed = []
            for lever in path.levers:
                before = float(lever_values[path.record, lever])
                step = end * path.vector[lever]
                after = float(np.clip(before + np.sign(step) * np.ceil(abs(step)), *self.bounds[lever]))
                rows[row, self._columns[lever]] = after
                changed.append(Change(LEVERS[lever].field, before, after))
            changes.append(tuple(changed))
        probabilities = self._probabilities(rows)
        bands, points = band_indices(probabilities, self._edges).tolist(), self._scale.points(probabilities).tolist()
        return [
            Suggestion(changed, p, band, score, steady) if band <= target else None
            for changed, p, band, score, steady in zip(
                changes, probabilities.tolist(), bands, points, monotone, strict=True
            )
        ]

    def _probabilities(self, rows: np.ndarray) -> np.ndarray:
        scorer = self._scorer
        return np.concatenate(
            [self._network(scorer.network_input(rows[i : i + CHUNK_ROWS])) for i in range(0, len(rows), CHUNK_ROWS)]
        )
