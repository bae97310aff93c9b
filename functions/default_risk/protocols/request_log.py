"""The one log line of a request: what the routes learn while answering it, as the log-based metrics read it."""

from __future__ import annotations

from dataclasses import dataclass, field

from default_risk.contract.bands import BAND_LABELS, band_counts
from default_risk.contract.telemetry import (
    BAND_COUNTS_FIELD,
    INSTANCES_FIELD,
    LATENCY_FIELD,
    MEAN_PROBABILITY_FIELD,
    MODEL_VERSION_FIELD,
    OUTCOME_FIELD,
    REQUEST_ID_FIELD,
    STATUS_FIELD,
)
from default_risk.service.ids import new_id
from default_risk.service.scoring import Scores


@dataclass
class RequestLog:
    """What the request's log line reports besides latency and outcome; the routes fill it in."""

    request_id: str = field(default_factory=new_id)
    instance_count: int = 0
    model_version: str | None = None
    mean_probability: float | None = None
    band_counts: list[int] | None = None

    def scored(self, scores: Scores) -> None:
        """Learn the version, the mean probability and the band counts of the request's scores."""
        self.model_version = scores.version
        self.mean_probability = float(scores.probabilities.mean())
        self.band_counts = band_counts(scores.bands)

    def fields(self, latency: float, outcome: str, status: int) -> dict[str, object]:
        """The ``jsonPayload`` fields of the request's one log line."""
        fields: dict[str, object] = {
            LATENCY_FIELD: round(latency, 6),
            INSTANCES_FIELD: self.instance_count,
            OUTCOME_FIELD: outcome,
            STATUS_FIELD: status,
            MODEL_VERSION_FIELD: self.model_version,
            REQUEST_ID_FIELD: self.request_id,
        }
        if outcome == "ok" and self.mean_probability is not None:
            fields[MEAN_PROBABILITY_FIELD] = self.mean_probability
        if outcome == "ok" and self.band_counts is not None:
            fields[BAND_COUNTS_FIELD] = dict(zip(BAND_LABELS, self.band_counts, strict=True))
        return fields
