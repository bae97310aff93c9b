"""Settings in seconds (MODEL_FETCH_TIMEOUT_SECONDS, BODY_READ_TIMEOUT_SECONDS): a number, or a clear refusal."""

from __future__ import annotations

import pytest

from default_risk.contract.settings import seconds_setting


@pytest.mark.parametrize(("raw", "seconds"), [("", 10.0), ("2.5", 2.5), ("30", 30.0)])
def test_a_number_of_seconds_is_read_and_empty_is_the_default(raw: str, seconds: float) -> None:
    assert seconds_setting("BODY_READ_TIMEOUT_SECONDS", raw, 10.0) == seconds


@pytest.mark.parametrize("raw", ["ten", "0", "-1", "nan", "inf", "3600", "1e9"])
def test_anything_else_is_refused_naming_the_variable_and_the_value(raw: str) -> None:
    with pytest.raises(ValueError, match=rf"^BODY_READ_TIMEOUT_SECONDS must be a number of seconds .*got '{raw}'$"):
        seconds_setting("BODY_READ_TIMEOUT_SECONDS", raw, 10.0)
