"""The explanation groups and their adverse-action reasons: one table, read by the explainer, the OpenAPI
document, the model card and the scoring guide.

Each group is fields a customer understands together; every model field is in exactly one group (and no
protected field in any). A reason names its group by a stable code and says, in a sentence quoting the
customer's own values, what about them raised the probability of default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from default_risk.contract.fields import FEATURES_BY_NAME, MODEL_FIELDS

MAX_REASONS = 4
"""Regulation B practice: at most four principal reasons per adverse action."""
_EARLIER = ("PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")
_EDUCATION = {
    0: "not given",
    1: "graduate school",
    2: "university",
    3: "high school",
    4: "other",
    5: "other",
    6: "other",
}

Record = Mapping[str, float]


def amount(value: float) -> str:
    """``NT$ 20,000``: how a sentence quotes an amount."""
    return f"NT$ {value:,.0f}"


def _values(record: Record, names: tuple[str, ...]) -> str:
    return ", ".join(f"{int(record[name])}" for name in names)


def _latest_status(record: Record) -> str:
    status = int(record["PAY_0"])
    if status >= 1:
        return f"Payment {status} month{'s' if status > 1 else ''} late last month (PAY_0 = {status})"
    return {
        0: "Revolving credit last month: only part of the balance paid (PAY_0 = 0)",
        -1: "Balance paid in full last month (PAY_0 = -1)",
        -2: "No use of the card last month (PAY_0 = -2)",
    }[status]


def _earlier_statuses(record: Record) -> str:
    statuses = [int(record[name]) for name in _EARLIER]
    late = [status for status in statuses if status >= 1]
    shown = f"(PAY_2..PAY_6 = {_values(record, _EARLIER)})"
    if late:
        worst = max(late)
        return (
            f"Late payments in {len(late)} of the 5 months before last month, up to {worst} "
            f"month{'s' if worst > 1 else ''} late {shown}"
        )
    return f"Repayment pattern of the 5 months before last month {shown}"


def _bills(record: Record) -> str:
    bill, limit = record["BILL_AMT1"], record["LIMIT_BAL"]
    share = f", {bill / limit:.0%} of the credit limit" if limit > 0 else ""
    return f"Balance owed of {amount(bill)} last month{share} (BILL_AMT1 = {bill:.0f}, LIMIT_BAL = {limit:.0f})"


def _payments(record: Record) -> str:
    paid, owed = record["PAY_AMT1"], record["BILL_AMT2"]
    return (
        f"Paid {amount(paid)} last month against a previous bill of {amount(owed)} "
        f"(PAY_AMT1 = {paid:.0f}, BILL_AMT2 = {owed:.0f})"
    )


def _credit_limit(record: Record) -> str:
    return f"Credit limit of {amount(record['LIMIT_BAL'])} (LIMIT_BAL = {record['LIMIT_BAL']:.0f})"


def _education(record: Record) -> str:
    level = int(record["EDUCATION"])
    return f"Education recorded as {_EDUCATION[level]} (EDUCATION = {level})"


@dataclass(frozen=True)
class Group:
    name: str
    code: str
    title: str
    fields: tuple[str, ...]
    sentence: Callable[[Record], str]
    """The adverse-action sentence for a record (a mapping of field to value)."""


GROUPS: tuple[Group, ...] = (
    Group("latest_payment_status", "R01", "Latest repayment status", ("PAY_0",), _latest_status),
    Group("earlier_payment_statuses", "R02", "Earlier repayment statuses", _EARLIER, _earlier_statuses),
    Group("bill_amounts", "R03", "Balances owed", tuple(f"BILL_AMT{m}" for m in range(1, 7)), _bills),
    Group("payment_amounts", "R04", "Payments made", tuple(f"PAY_AMT{m}" for m in range(1, 7)), _payments),
    Group("credit_limit", "R05", "Credit limit", ("LIMIT_BAL",), _credit_limit),
    Group("education", "R06", "Education", ("EDUCATION",), _education),
)
GROUPS_BY_NAME: dict[str, Group] = {group.name: group for group in GROUPS}
GROUP_NAMES: tuple[str, ...] = tuple(group.name for group in GROUPS)

_grouped = [name for group in GROUPS for name in group.fields]
if sorted(_grouped) != sorted(MODEL_FIELDS) or any(FEATURES_BY_NAME[name].optional for name in _grouped):
    raise ValueError(f"the explanation groups must hold every model field once, and nothing else: {_grouped}")


def groups_as_dict() -> dict[str, list[str]]:
    """Group name -> its fields, as the manifest records them."""
    return {group.name: list(group.fields) for group in GROUPS}
