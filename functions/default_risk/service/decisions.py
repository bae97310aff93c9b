"""Decisions: validated records scored (and explained), each given a ``decision_id`` and recorded before the caller
sees it. The one entry point of every protocol: no decision leaves without its record (``records``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.model.explainer import Explanation, reasons
from default_risk.model.recourse import Suggestion
from default_risk.model.version import ServedVersion
from default_risk.service import records
from default_risk.service.ids import day_of, new_ids
from default_risk.service.scoring import Scores, served_model


@dataclass(frozen=True)
class Origin:
    """Where decisions come from: the route, the request, and the caller the platform verified."""

    route: str
    """``predict``, ``explain`` or ``bigquery`` (``records.ROUTES``)."""
    request_id: str
    caller: str | None = None


@dataclass(frozen=True)
class Decisions:
    decision_ids: list[str]
    scores: Scores
    explanation: Explanation | None = None
    reasons: list[list[dict]] | None = None
    """Each record's principal reasons, when explained."""
    recourse: list[list[Suggestion] | None] | None = None
    """Each record's suggestions for reaching the target band (None for a record already there), when asked."""


def assess(model: ServedVersion, features: np.ndarray, explain: bool) -> tuple[Scores, Explanation | None, list | None]:
    """What a version says of validated records: scores, and when ``explain`` the explanation and each record's
    principal reasons. The function's decisions and their replays both come from here."""
    scores = Scores.of(model.scorer.probabilities(features), model)
    if not explain:
        return scores, None, None
    explanation = model.explainer.explain(features)
    explained = [
        reasons(dict(zip(FEATURE_NAMES, row, strict=True)), contributions)
        for row, contributions in zip(features.tolist(), explanation.contributions, strict=True)
    ]
    return scores, explanation, explained


def decide(
    features: np.ndarray,
    ids: list[str | None],
    origin: Origin,
    explain: bool = False,
    recourse_target: int | None = None,
) -> Decisions:
    """Score (and, when ``explain``, explain) validated records, and record every decision durably. With a
    ``recourse_target`` band, also the changes that would bring each record above it there, by the same version
    (advice, not a decision: it is not recorded, and replaying the record's inputs gives it again).

    Raises ``store.ModelUnavailable`` when the model cannot be served and ``records.RecordsUnavailable`` when the
    records cannot be written: either way nothing may be answered."""
    model = served_model()
    scores, explanation, explained = assess(model, features, explain)
    advice = None if recourse_target is None else model.recourse.suggest(features, scores.bands, recourse_target)
    decision_ids = new_ids(len(features))
    batch = records.Batch(
        decision_ids=decision_ids,
        route=origin.route,
        request_id=origin.request_id,
        model_version=model.version,
        manifest_sha256=model.manifest_sha256,
        features=features,
        ids=ids,
        caller=origin.caller,
        probabilities=scores.probabilities,
        bands=scores.band_labels,
        points=scores.points,
        reasons=explained,
        contributions=None if explanation is None else explanation.contributions,
    )
    records.recorder().write(records.encode(batch), day_of(decision_ids[0]).isoformat())
    return Decisions(decision_ids, scores, explanation, explained, advice)
