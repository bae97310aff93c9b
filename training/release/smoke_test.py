"""Smoke test of a deployed function (or of a canary revision, through its tag URL): one record, one batch, /readyz.

    ID_TOKEN=... python -m training.release.smoke_test URL EXPECTED_MODEL_VERSION

The record is built from the feature contract (``default_risk.contract.fields``), so it is valid for every
model. ``ID_TOKEN`` (optional) is sent as a bearer token, as Cloud Run requires when unauthenticated
calls are not allowed. 503 (model still loading) and connection errors are retried; any other
failure, or an answer from another model version, exits 1 with one line saying what went wrong. Once the record
scores, a batch of ``BATCH_SIZE`` records with ids must come back whole and in order, and ``GET /readyz`` must
answer 200.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

from default_risk.contract.fields import FEATURES

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
BATCH_SIZE = 50


class SmokeTestError(RuntimeError):
    """The deployed function did not answer as expected."""


def sample_record() -> dict[str, int]:
    """A valid record: the first code of each coded field, the middle of each integer, 0 for amounts."""
    record = {}
    for feature in FEATURES:
        if feature.kind == "code":
            record[feature.name] = feature.codes[0]
        elif feature.kind == "integer":
            record[feature.name] = int((feature.minimum + feature.maximum) // 2)
        else:
            record[feature.name] = int(min(max(0, feature.minimum), feature.maximum))
    return record


def score_once(url: str, token: str | None, timeout: float, instances: list[dict] | None = None) -> tuple[int, bytes]:
    body = json.dumps({"instances": instances or [sample_record()]}).encode()
    return _call(urllib.request.Request(url, data=body, headers=_headers(token), method="POST"), timeout)


def _headers(token: str | None) -> dict[str, str]:
    return {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})


def _call(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def smoke_test(url: str, expected_version: str, token: str | None, attempts: int = 6, delay: float = 5.0) -> float:
    """POST one record until the function answers 200 (retrying 503 and network errors); return p."""
    problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            status, raw = score_once(url, token, timeout=60)
        except OSError as error:
            status, raw, problem = None, b"", f"cannot reach {url}: {error}"
        if status == 200:
            return check_answer(raw, expected_version)
        if status is not None:
            problem = f"{url} answered HTTP {status}: {raw[:300].decode(errors='replace')}"
            if status not in RETRYABLE_STATUS:
                break
        if attempt < attempts:
            print(f"attempt {attempt}/{attempts}: {problem}; retrying in {delay:.0f} s", file=sys.stderr)
            time.sleep(delay)
    raise SmokeTestError(problem)


def check_batch_and_readiness(url: str, expected_version: str, token: str | None) -> None:
    """A batch of BATCH_SIZE records comes back whole, in order, from the version; ``/readyz`` answers 200."""
    records = [sample_record() | {"id": f"smoke-{index}"} for index in range(BATCH_SIZE)]
    status, raw = score_once(url, token, timeout=60, instances=records)
    if status != 200:
        raise SmokeTestError(f"a batch of {BATCH_SIZE} answered HTTP {status}: {raw[:300].decode(errors='replace')}")
    check_answer(raw, expected_version)
    ids = [prediction.get("id") for prediction in json.loads(raw)["predictions"]]
    if ids != [record["id"] for record in records]:
        raise SmokeTestError(f"a batch of {BATCH_SIZE} came back with ids {ids[:3]}..., not the ones sent, in order")
    ready = urllib.request.Request(url.rstrip("/") + "/readyz", headers=_headers(token), method="GET")
    status, raw = _call(ready, timeout=60)
    if status != 200:
        raise SmokeTestError(f"/readyz answered HTTP {status}: {raw[:300].decode(errors='replace')}")


def check_answer(raw: bytes, expected_version: str) -> float:
    """The probability of the one prediction, once the answer is well formed and from ``expected_version``."""
    try:
        answer = json.loads(raw)
        version = answer["model_version"]
        probability = answer["predictions"][0]["probability_of_default"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise SmokeTestError(f"malformed answer ({error!r}): {raw[:300].decode(errors='replace')}") from error
    if version != expected_version:
        raise SmokeTestError(f"the function serves model version {version!r}, expected {expected_version!r}")
    if not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
        raise SmokeTestError(f"probability_of_default {probability!r} is not a number in [0, 1]")
    return float(probability)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the function's URL")
    parser.add_argument("expected_version", help="the model version the function must report")
    parser.add_argument("--attempts", type=int, default=6, help="tries before giving up (default 6)")
    parser.add_argument("--delay", type=float, default=5.0, help="seconds between tries (default 5)")
    args = parser.parse_args(argv)
    try:
        token = os.environ.get("ID_TOKEN") or None
        probability = smoke_test(args.url, args.expected_version, token, args.attempts, args.delay)
        check_batch_and_readiness(args.url, args.expected_version, token)
    except (SmokeTestError, OSError) as error:
        print(f"smoke test failed: {error}", file=sys.stderr)
        return 1
    print(
        f"smoke test passed: model {args.expected_version} scored the sample record p={probability:.4f}, "
        f"a batch of {BATCH_SIZE} in order, and /readyz is ready"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
