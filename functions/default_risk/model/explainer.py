"""Exact Shapley values of the probability of default over the explanation groups, and the reasons they give.

With ``g`` groups (``reasons.GROUPS``) and one reference record (the version's manifest), a coalition ``S`` of
groups is the record with the fields of ``S`` and the reference's elsewhere; ``f(S)`` is its probability.
Group ``j``'s contribution is

    phi_j = sum over S not holding j of |S|! (g - |S| - 1)! / g! * (f(S + j) - f(S)),

a fixed linear map of the ``2**g`` coalition values (``_weights``), so ``sum(phi) = f(all) - f(none)``: the
probability minus the reference's. Every coalition of every record goes through the model in one batched call
per chunk of records (mixed on the raw fields, before the features derived from them), on an interpreter of
its own (``scorer.Network``), so scoring requests never wait for or re-allocate under an explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from math import factorial

import numpy as np

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.model_inputs import model_inputs
from default_risk.contract.reasons import GROUPS, MAX_REASONS, groups_as_dict
from default_risk.model.scorer import Network, Scorer

CHUNK_RECORDS = 128
"""Records whose coalitions go through the model together (memory: about 100 KB a record)."""


class ExplanationMismatch(ValueError):
    """The version's explanation section was written for other groups than this code's."""


@dataclass(frozen=True)
class Explanation:
    contributions: np.ndarray
    """records x groups, in probability units, ``GROUPS`` order."""
    reference_probability: float


def _coalitions(groups: int) -> np.ndarray:
    """Every subset of the groups, as a ``2**groups`` x groups boolean matrix (row 0 empty, the last one full)."""
    return np.array(list(product((False, True), repeat=groups)))[:, ::-1]


def _weights(coalitions: np.ndarray) -> np.ndarray:
    """groups x coalitions: phi = weights @ f(coalitions), the Shapley formula over all coalitions."""
    groups = coalitions.shape[1]
    size = coalitions.sum(axis=1)
    weights = np.zeros((groups, len(coalitions)))
    for j in range(groups):
        holds = coalitions[:, j]
        with_j = factorial_ratio(size - 1, groups)
        without_j = factorial_ratio(size, groups)
        weights[j] = np.where(holds, with_j, -without_j)
    return weights


def factorial_ratio(sizes: np.ndarray, groups: int) -> np.ndarray:
    """|S|! (g - |S| - 1)! / g! for each coalition size (0 where the size cannot occur)."""
    return np.array(
        [factorial(s) * factorial(groups - s - 1) / factorial(groups) if 0 <= s < groups else 0.0 for s in sizes]
    )


class Explainer:
    """Contributions of each group to a version's probabilities, against the version's reference record."""

    def __init__(self, scorer: Scorer, explanation: dict) -> None:
        if explanation.get("groups") != groups_as_dict():
            raise ExplanationMismatch(
                f"the version's explanation groups {sorted(explanation.get('groups') or {})} are not this code's "
                f"{sorted(groups_as_dict())}"
            )
        self._scorer = scorer
        self._network = Network(scorer.model_bytes, scorer.preprocessor.width)
        self.reference = np.array([explanation["reference"].get(name, np.nan) for name in FEATURE_NAMES])
        coalitions = _coalitions(len(GROUPS))
        columns = np.zeros((len(coalitions), len(FEATURE_NAMES)), dtype=bool)
        for j, group in enumerate(GROUPS):
            columns[np.ix_(coalitions[:, j], [FEATURE_NAMES.index(f) for f in group.fields])] = True
        self._takes_record = columns
        """coalitions x fields: whether the coalition takes the field from the record (else the reference)."""
        self._weights = _weights(coalitions)

    def explain(self, features: np.ndarray) -> Explanation:
        """The contributions of each group for validated records (``FEATURE_NAMES`` order)."""
        chunks = range(0, len(features), CHUNK_RECORDS)
        values = np.vstack([self._coalition_values(features[i : i + CHUNK_RECORDS]) for i in chunks])
        return Explanation(values @ self._weights.T, float(values[0, 0]))

    def _coalition_values(self, features: np.ndarray) -> np.ndarray:
        """records x coalitions: the probability of each coalition of each record."""
        mixed = np.where(self._takes_record[None], features[:, None, :], self.reference[None, None, :])
        rows = mixed.reshape(-1, len(FEATURE_NAMES))
        network_input = self._scorer.preprocessor.transform(model_inputs(rows, self._scorer.feature_set), np.float32)
        return self._network(network_input).reshape(len(features), -1)


def reasons(record: dict[str, float], contributions: np.ndarray) -> list[dict]:
    """The at most ``MAX_REASONS`` groups that raise the probability most (positive contributions only)."""
    order = np.argsort(-contributions, kind="stable")[:MAX_REASONS]
    return [
        {
            "code": GROUPS[j].code,
            "group": GROUPS[j].name,
            "contribution": float(contributions[j]),
            "reason": GROUPS[j].sentence(record),
        }
        for j in order
        if contributions[j] > 0
    ]
