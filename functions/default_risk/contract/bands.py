"""Risk bands, score bins and population stability: one definition of the binning and of PSI.

A version's score edges are the deciles of its validation scores, fixed at training. They cut the
probability into ``BANDS`` risk bands (``B01`` the lowest risk, ``B10`` the highest), which every
prediction carries and every request's log line counts, and they are the score's bins for the
population stability index. Each model input has bins too (``profile``): one per code for a code, and
for a number the deciles of its training values inside its training range, plus one bin below and one
above that range.

PSI = sum over bins of (actual - expected) * ln(actual / expected), shares floored at ``SHARE_FLOOR`` so
that an empty bin counts as rare, not infinite. Below ``PSI_WATCH`` a population is stable, from it to
``PSI_ACT`` it is to be watched, above ``PSI_ACT`` to be acted on (the industry's bands).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDS = 10
PSI_WATCH = 0.1
PSI_ACT = 0.25
SHARE_FLOOR = 1e-4
"""Shares below this count as this in PSI (an empty bin is rare, not infinitely surprising)."""
STABLE, WATCH, ACT = "stable", "watch", "act"


def band_label(index: int) -> str:
    return f"B{index + 1:02d}"


BAND_LABELS: tuple[str, ...] = tuple(band_label(i) for i in range(BANDS))


@dataclass(frozen=True)
class Bins:
    """Bins of one characteristic. Numeric: ``edges`` (ascending, ``len >= 2``) make ``len(edges) + 1`` bins:
    below ``edges[0]``, ``[edges[i], edges[i+1])`` (the last one closed), above ``edges[-1]``. Codes: one bin per
    code in ``codes``. ``shares`` are the reference population's share of each bin."""

    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    codes: tuple[float, ...] = ()

    def counts(self, values: np.ndarray) -> np.ndarray:
        """How many of ``values`` fall in each bin (NaN, absent, falls in none)."""
        values = values[~np.isnan(values)]
        if self.codes:
            return (values[:, None] == np.asarray(self.codes)).sum(axis=0)
        edges = np.asarray(self.edges)
        index = np.searchsorted(edges, values, side="right")  # 0: below the first edge
        index[values == edges[-1]] = len(edges) - 1  # the top of the range is inside it
        return np.bincount(index, minlength=len(edges) + 1)

    def as_dict(self) -> dict:
        return {"shares": list(self.shares)} | (
            {"codes": list(self.codes)} if self.codes else {"edges": list(self.edges)}
        )

    @classmethod
    def from_dict(cls, data: dict) -> Bins:
        return cls(tuple(data["shares"]), tuple(data.get("edges", ())), tuple(data.get("codes", ())))


def score_bins(score_edges: list[float], reference_scores: np.ndarray) -> Bins:
    """The score's bins: the bands, between 0 and 1 (whose outer bins, below 0 and above 1, stay empty), with the
    shares of ``reference_scores``."""
    return _with_shares(Bins((), (0.0, *score_edges, 1.0)), reference_scores)


def _with_shares(bins: Bins, values: np.ndarray) -> Bins:
    counts = bins.counts(values)
    return Bins(tuple((counts / max(counts.sum(), 1)).tolist()), bins.edges, bins.codes)


def band_indices(probabilities: np.ndarray, score_edges: np.ndarray) -> np.ndarray:
    """Each probability's band, 0 (lowest risk) to ``BANDS - 1``."""
    return np.searchsorted(score_edges, probabilities, side="right")


def band_counts(bands: np.ndarray) -> list[int]:
    """How many records fall in each band, from their band indices (the request log's counts; the score bins
    without their empty outer bins)."""
    return np.bincount(bands, minlength=BANDS).tolist()


def numeric_bins(values: np.ndarray, quantiles: int = 10) -> Bins:
    """Deciles (``quantiles``) of ``values`` inside their range, plus a bin below and one above it."""
    inner = np.quantile(values, np.arange(1, quantiles) / quantiles)
    edges = np.unique(np.concatenate([[values.min()], inner, [values.max()]]))
    if len(edges) == 1:  # a constant: its one value, and anything else below or above
        edges = np.array([edges[0], edges[0]])
    return _with_shares(Bins((), tuple(edges.tolist())), values)


def code_bins(values: np.ndarray, codes: tuple[int, ...]) -> Bins:
    """One bin per code of the contract (a code training never saw has a share of 0)."""
    return _with_shares(Bins((), codes=tuple(float(code) for code in codes)), values)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """The population stability index of ``actual`` shares against ``expected`` shares."""
    expected = np.maximum(np.asarray(expected, dtype=np.float64), SHARE_FLOOR)
    actual = np.maximum(np.asarray(actual, dtype=np.float64), SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_of(bins: Bins, values: np.ndarray) -> float:
    """PSI of ``values`` against the reference shares of ``bins``; ValueError when there is nothing to compare."""
    counts = bins.counts(values)
    if counts.sum() == 0:
        raise ValueError("no values to compare with the reference")
    return psi(np.asarray(bins.shares), counts / counts.sum())


def verdict(value: float) -> str:
    """``stable`` below ``PSI_WATCH``, ``watch`` up to ``PSI_ACT``, ``act`` above."""
    return STABLE if value < PSI_WATCH else WATCH if value <= PSI_ACT else ACT
