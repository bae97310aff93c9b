"""A time budget per request, so that a request answers 503 rather than running on past the function's timeout.

Each wait is bounded on its own (the body ``BODY_READ_TIMEOUT_SECONDS``, a heavy request's slot
``admission.WAIT_SECONDS``, a model load ``MODEL_FETCH_TIMEOUT_SECONDS`` and the wait for another's), but together
they can pass the platform's request timeout, which would cut the request off after its decisions were recorded:
decided, and never answered. So every request has ``REQUEST_BUDGET_SECONDS`` from its start (default 50: the
function's 60 s timeout less 10 s to record and answer). A heavy request waits for its slot at most what is left,
and once the model is loaded a request past its budget gets 503 ``deadline_exceeded`` with ``Retry-After``
before anything is decided or recorded.
"""

from __future__ import annotations

import os
import time

from default_risk.contract.settings import seconds_setting
from default_risk.protocols.answers import ApiError

BUDGET_ENV = "REQUEST_BUDGET_SECONDS"
DEFAULT_BUDGET_SECONDS = 50.0
RETRY_AFTER_SECONDS = 1

budget_seconds = seconds_setting(BUDGET_ENV, os.environ.get(BUDGET_ENV, ""), DEFAULT_BUDGET_SECONDS)
"""Anything but a number of seconds in ``REQUEST_BUDGET_SECONDS`` stops the function starting, naming it."""


def remaining(started: float) -> float:
    """Seconds left of the budget of a request that started at ``started`` (``time.monotonic``)."""
    return budget_seconds - (time.monotonic() - started)


def check(started: float) -> None:
    """503 ``deadline_exceeded`` when the request has used its budget."""
    if remaining(started) <= 0:
        raise ApiError(
            "deadline_exceeded",
            f"the request used its {budget_seconds:g} s before it could be decided (a slow model load or a long wait "
            "for a slot); nothing was decided or recorded; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
