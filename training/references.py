"""What a version's ``serving`` section holds besides its inputs, fixed at training: risk bands, the stability
reference, and the explanation reference.

- **Bands**: the deciles of the validation scores are the version's score edges (``stability``); the band
  table gives each band's score range and, on the test set, its rows and observed default rate.
- **Stability reference**: the score's bins with the validation shares (the population the model was chosen
  on, whose scores are not flattered by fitting), and every model field's bins and shares on the training
  split (``stability.numeric_bins`` / ``code_bins``).
- **Explanation reference**: one record, the typical customer who repaid: for each model field, the median
  (amounts) or the most common value (codes) among the training split's customers who did not default.
  Contributions then say how a customer differs from them; one reference record costs one model call per
  coalition (a background of k rows would cost k).
- **Score scale**: the points scale of ``contract.points.SCALE``, recorded so that the version's points never
  change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from default_risk.contract.bands import BAND_LABELS, BANDS, band_indices, code_bins, numeric_bins, score_bins
from default_risk.contract.fields import FEATURE_NAMES, FEATURES_BY_NAME, MODEL_FIELDS
from default_risk.contract.points import SCALE
from default_risk.contract.reasons import groups_as_dict
from default_risk.model.scorer import Scorer

if TYPE_CHECKING:
    from training.split import Split

REFERENCE_RULE = (
    "the typical customer who repaid: per model field, the median (amounts) or the most common value (codes) "
    "among the training split's customers who did not default"
)


def score_edges(validation_scores: np.ndarray) -> list[float]:
    """The ``BANDS - 1`` inner edges: deciles of the validation scores, made strictly increasing."""
    edges = np.quantile(validation_scores, np.arange(1, BANDS) / BANDS)
    for i in range(1, len(edges)):  # ties (a tiny model's flat scores): keep every band non-empty in range
        edges[i] = max(edges[i], np.nextafter(edges[i - 1], 1.0))
    return edges.tolist()


def band_table(edges: list[float], test_scores: np.ndarray, test_outcomes: np.ndarray) -> list[dict]:
    """Each band's score range and, on the test set, its rows and observed default rate."""
    index = band_indices(test_scores, np.asarray(edges))
    bounds = [0.0, *edges, 1.0]
    table = []
    for band, label in enumerate(BAND_LABELS):
        members = index == band
        table.append(
            {
                "band": label,
                "low": bounds[band],
                "high": bounds[band + 1],
                "test_rows": int(members.sum()),
                "observed_default_rate": float(test_outcomes[members].mean()) if members.any() else None,
            }
        )
    return table


def stability_reference(edges: list[float], validation_scores: np.ndarray, x_train: np.ndarray) -> dict:
    inputs = {}
    for name in MODEL_FIELDS:
        values = x_train[:, FEATURE_NAMES.index(name)]
        feature = FEATURES_BY_NAME[name]
        inputs[name] = (code_bins(values, feature.codes) if feature.codes else numeric_bins(values)).as_dict()
    return {
        "score": score_bins(edges, validation_scores).as_dict(),
        "score_population": "validation split",
        "inputs": inputs,
        "inputs_population": "training split",
    }


def explanation_reference(x_train: np.ndarray, y_train: np.ndarray) -> dict[str, float]:
    repaid = x_train[y_train == 0]
    reference = {}
    for name in MODEL_FIELDS:
        values = repaid[:, FEATURE_NAMES.index(name)]
        if FEATURES_BY_NAME[name].codes:
            codes, counts = np.unique(values, return_counts=True)
            reference[name] = float(codes[np.argmax(counts)])
        else:
            reference[name] = float(np.median(values))
    return reference


def reference_row(reference: dict[str, float]) -> np.ndarray:
    """The reference as one row in ``FEATURE_NAMES`` order (protected fields absent: NaN)."""
    return np.array([[reference.get(name, np.nan) for name in FEATURE_NAMES]])


def serving_fields(scorer: Scorer, split: Split) -> dict:
    """The bands, stability and explanation sections, from the served scorer's own probabilities."""
    p_val, p_test = scorer.probabilities(split.x_val), scorer.probabilities(split.x_test)
    edges = score_edges(p_val)
    reference = explanation_reference(split.x_train, split.y_train)
    return {
        "score_scale": SCALE.as_dict(),
        "bands": {"edges": edges, "labels": list(BAND_LABELS), "table": band_table(edges, p_test, split.y_test)},
        "stability": stability_reference(edges, p_val, split.x_train),
        "explanation": {
            "groups": groups_as_dict(),
            "reference": reference,
            "reference_rule": REFERENCE_RULE,
            "reference_probability": float(scorer.probabilities(reference_row(reference))[0]),
        },
    }
