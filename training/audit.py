"""A decision, shown and replayed: ``make replay`` and ``make notice`` (``python -m training.audit``).

    python -m training.audit replay --decision ID --decisions URL [--models DIR_OR_GS_URL]
    python -m training.audit notice --decision ID --decisions URL [--models DIR_OR_GS_URL] [--creditor NAME]

``--decisions`` is where the function records decisions (``DECISION_RECORDS_URL``: a folder or ``gs://`` prefix); the
decision's record is found in its day's partition (its UUIDv7 says the day). ``--models`` holds the versions (the
local ``models/`` folder by default, or the model bucket's ``gs://bucket/models``); the recorded version is read as
the function reads it and its manifest must have the sha256 the record names.

**replay** scores the recorded inputs again with the recorded version through the function's own code
(``service.decisions.assess``) and compares the probability, the band, the points and, when the decision was
explained, the reasons and contributions, bit for bit. Exit 0 when identical; 1, with every difference printed,
when not; 3 when the decision or its version cannot be found or verified.

**notice** prints the statement of specific reasons a customer would receive, modelled on Regulation B's sample
form C-1 (12 CFR part 1002, appendix C): the record's principal reasons (at most four), in the words of the reason
table; a decision scored without ``/explain`` has its reasons computed by replay. Exit 0, or 3 as above.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import MODELS_PREFIX, IntegrityError
from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.reasons import GROUP_NAMES, MAX_REASONS
from default_risk.model.store import gcs_reader
from default_risk.model.version import ServedVersion, read_version
from default_risk.service.decisions import assess
from default_risk.service.ids import day_of
from default_risk.service.records import read_records

IDENTICAL, DIFFERENT, CANNOT = 0, 1, 3


class AuditError(Exception):
    """The decision or its version cannot be found or verified; the message says which."""


def find_record(decision_id: str, decisions_url: str) -> dict:
    """The record of ``decision_id``: in its day's partition, or the day before (a write that crossed midnight)."""
    try:
        day = day_of(decision_id)
    except ValueError as error:
        raise AuditError(str(error)) from error
    for partition in (day, day - timedelta(days=1)):
        for record in read_records(decisions_url, partition.isoformat()):
            if record["decision_id"] == decision_id:
                return record
    raise AuditError(f"decision {decision_id} is not under {decisions_url} (looked in {day} and the day before)")


def recorded_version(record: dict, models: str) -> ServedVersion:
    """The version the record names, read and verified as the function reads it, pinned to the recorded manifest."""
    folder = f"{models.rstrip('/')}/{record['model_version']}"
    fetch = gcs_reader() if models.startswith("gs://") else (lambda path: Path(path).read_bytes())
    try:
        return read_version(fetch, folder, record["manifest_sha256"])
    except (OSError, IntegrityError) as error:
        raise AuditError(
            f"version {record['model_version']} cannot be read and verified from {models}: {error}"
        ) from error


def recorded_inputs(record: dict) -> np.ndarray:
    """The recorded inputs as the one-row matrix the function scored (absent fields NaN)."""
    inputs = record["inputs"]
    return np.array([[np.nan if inputs.get(name) is None else inputs[name] for name in FEATURE_NAMES]], np.float64)


@dataclass(frozen=True)
class Replayed:
    answer: dict
    """What the version says now, in the record's terms."""
    differences: list[str]


def replay(record: dict, model: ServedVersion) -> Replayed:
    """The recorded decision scored again; every field that does not match the record to the bit."""
    explain = "reasons" in record
    scores, explanation, reasons = assess(model, recorded_inputs(record), explain=True)
    answer = {
        "probability_of_default": float(scores.probabilities[0]),
        "risk_band": scores.band_labels[0],
        "score": float(scores.points[0]),
        "reasons": reasons[0],
        "contributions": dict(zip(GROUP_NAMES, explanation.contributions[0].tolist(), strict=True)),
    }
    compared = ("probability_of_default", "risk_band", "score", *(("reasons", "contributions") if explain else ()))
    differences = [
        f"{key}: recorded {json.dumps(record[key])}, replayed {json.dumps(answer[key])}"
        for key in compared
        if json.dumps(record[key]) != json.dumps(answer[key])  # the same bits print the same shortest text
    ]
    return Replayed(answer, differences)


def notice(record: dict, reasons: list[dict], creditor: str) -> str:
    """The statement of specific reasons (sample form C-1 of Regulation B) for one decision."""
    lines = [
        "STATEMENT OF CREDIT DENIAL, TERMINATION OR CHANGE",
        "",
        f"Date: {record['recorded_at'][:10]}",
        f"Applicant: {record['id'] or '(the account the decision names; no customer id was sent)'}",
        f"Decision: {record['decision_id']} (model {record['model_version']}; probability of default "
        f"{record['probability_of_default']:.1%}, risk band {record['risk_band']}, {record['score']:.0f} points)",
        "",
        "Part I - PRINCIPAL REASON(S) FOR CREDIT DENIAL, TERMINATION, OR OTHER ACTION TAKEN CONCERNING CREDIT",
        "",
    ]
    lines += [f"  [x] {reason['reason']}" for reason in reasons[:MAX_REASONS]] or [
        "  No factor raised this customer's risk above the reference customer's."
    ]
    lines += [
        "",
        "Part II - DISCLOSURE OF USE OF INFORMATION OBTAINED FROM AN OUTSIDE SOURCE",
        "",
        "  The decision used only the account's own history with us (credit limit, bills, payments and repayment "
        "statuses of the last six months); no consumer report or other outside source was used.",
        "",
        "NOTICE: The Federal Equal Credit Opportunity Act prohibits creditors from discriminating against credit "
        "applicants on the basis of race, color, religion, national origin, sex, marital status, age (provided the "
        "applicant has the capacity to enter into a binding contract); because all or part of the applicant's "
        "income derives from any public assistance program; or because the applicant has in good faith exercised "
        "any right under the Consumer Credit Protection Act. The Federal agency that administers compliance with "
        f"this law concerning this creditor is [the agency of appendix A of Regulation B for {creditor}].",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("replay", "notice"))
    parser.add_argument("--decision", required=True, help="the decision_id the customer or the answer quotes")
    parser.add_argument("--decisions", required=True, help="DECISION_RECORDS_URL: a folder or gs://bucket/prefix")
    parser.add_argument("--models", default=MODELS_PREFIX, help="versions: a folder or gs://bucket/models")
    parser.add_argument("--creditor", default="[creditor's name and address]", help="for the notice")
    args = parser.parse_args(argv)
    try:
        record = find_record(args.decision, args.decisions)
        if args.action == "notice" and "reasons" in record:
            print(notice(record, record["reasons"], args.creditor), end="")
            return IDENTICAL
        replayed = replay(record, recorded_version(record, args.models))
    except AuditError as error:
        print(f"error: {error}", file=sys.stderr)
        return CANNOT
    if args.action == "notice":
        if replayed.differences:
            print(f"warning: the decision does not replay identically: {replayed.differences}", file=sys.stderr)
        print(notice(record, replayed.answer["reasons"], args.creditor), end="")
        return IDENTICAL if not replayed.differences else DIFFERENT
    if replayed.differences:
        print(f"decision {args.decision} does NOT replay identically with {record['model_version']}:")
        for line in replayed.differences:
            print(f"  {line}")
        return DIFFERENT
    print(
        f"decision {args.decision} replays bit for bit with {record['model_version']} (manifest sha256 "
        f"{record['manifest_sha256'][:12]}...): p = {record['probability_of_default']!r}, {record['risk_band']}, "
        f"{record['score']!r} points" + (f", {len(record['reasons'])} reasons" if "reasons" in record else "")
    )
    return IDENTICAL


if __name__ == "__main__":
    sys.exit(main())
