"""Settings in seconds (MODEL_FETCH_TIMEOUT_SECONDS, BODY_READ_TIMEOUT_SECONDS) and the instance's vCPUs
(WORKER_CPUS): a number, or a clear refusal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from default_risk.contract.settings import seconds_setting
from default_risk.protocols.admission import CPUS_ENV


@pytest.mark.parametrize(("raw", "seconds"), [("", 10.0), ("2.5", 2.5), ("30", 30.0)])
def test_a_number_of_seconds_is_read_and_empty_is_the_default(raw: str, seconds: float) -> None:
    assert seconds_setting("BODY_READ_TIMEOUT_SECONDS", raw, 10.0) == seconds


@pytest.mark.parametrize("raw", ["ten", "0", "-1", "nan", "inf", "3600", "1e9"])
def test_anything_else_is_refused_naming_the_variable_and_the_value(raw: str) -> None:
    with pytest.raises(ValueError, match=rf"^BODY_READ_TIMEOUT_SECONDS must be a number of seconds .*got '{raw}'$"):
        seconds_setting("BODY_READ_TIMEOUT_SECONDS", raw, 10.0)


def bound_cpus(value: str | None) -> tuple[int, str]:
    """(CPUs the process may run on after ``bind_to_instance_cpus``, its error), in a child process of its own."""
    code = """
import os
from default_risk.protocols.admission import bind_to_instance_cpus
try:
    bind_to_instance_cpus()
    error = ""
except ValueError as refused:
    error = refused
print(len(os.sched_getaffinity(0)), error)
"""
    env = {k: v for k, v in os.environ.items() if k != CPUS_ENV} | ({} if value is None else {CPUS_ENV: value})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    count, _, error = done.stdout.strip().partition(" ")
    return int(count), error


VISIBLE = len(os.sched_getaffinity(0))


@pytest.mark.skipif(VISIBLE < 2, reason="binding to fewer CPUs needs a machine that shows at least 2")
@pytest.mark.parametrize(("value", "cpus"), [("1", 1), ("0.583", 1), (None, VISIBLE), ("", VISIBLE), ("64", VISIBLE)])
def test_the_process_binds_to_the_instances_vcpus_when_it_sees_more(value: str | None, cpus: int) -> None:
    assert bound_cpus(value) == (cpus, "")


@pytest.mark.parametrize("value", ["one", "0", "-1", "nan"])
def test_a_number_of_cpus_that_is_not_one_stops_the_function_naming_the_variable(value: str) -> None:
    count, error = bound_cpus(value)
    assert count == VISIBLE and error.startswith(f"{CPUS_ENV} must be the instance's number of vCPUs")
