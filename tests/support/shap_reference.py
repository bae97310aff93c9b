"""The reference implementation explanations are proven against and benchmarked beside: the ``shap`` package's
exact explainer over the explanation groups, with the version's reference record as the only background row.

A group's "feature" is 1 when the record's own values of its fields are used and 0 when the reference's are;
the background is the all-0 row, the explained point the all-1 row, and the model the version's served scorer
of the mixed record. shap then computes the exact Shapley values of that function itself.
"""

from __future__ import annotations

import numpy as np

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.reasons import GROUPS
from default_risk.model.version import ServedVersion

_COLUMNS = [[FEATURE_NAMES.index(name) for name in group.fields] for group in GROUPS]


def shap_values(served: ServedVersion, rows: np.ndarray) -> np.ndarray:
    """records x groups: shap's exact explainer, one record at a time (as it explains)."""
    import shap

    reference = served.explainer.reference
    masker = shap.maskers.Independent(np.zeros((1, len(GROUPS))))
    values = []
    for row in rows:

        def model(masks: np.ndarray, row: np.ndarray = row) -> np.ndarray:
            mixed = np.repeat(reference[None], len(masks), axis=0)
            for j, columns in enumerate(_COLUMNS):
                chosen = masks[:, j] > 0.5
                mixed[np.ix_(chosen, columns)] = row[columns]
            return served.scorer.probabilities(mixed)

        values.append(shap.explainers.Exact(model, masker)(np.ones((1, len(GROUPS)))).values[0])
    return np.array(values)
