"""Decision records: every answered prediction has a decision_id whose record was durable before the answer left."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.service import records
from default_risk.service.ids import day_of, new_id, new_ids
from default_risk.service.records import RECORDS_URL_ENV, Recorder, RecordsUnavailable, read_records
from tests.support.http import post_json, request_logs
from tests.support.local_cloud import RECORDS_FOLDER
from tests.support.records import record

REQUIRED = {
    "decision_id",
    "recorded_at",
    "model_version",
    "manifest_sha256",
    "route",
    "request_id",
    "row",
    "id",
    "caller",
    "inputs",
    "probability_of_default",
    "risk_band",
    "score",
}


def stored(server) -> dict[str, dict]:
    """Every record the server wrote, by decision id."""
    return {entry["decision_id"]: entry for entry in read_records(str(server.cwd / RECORDS_FOLDER))}


def test_every_prediction_is_answered_with_the_id_of_its_record(start_function, keras_reference) -> None:
    server = start_function()
    rows, _ = keras_reference
    sent = [record(rows[0]) | {"id": "cust-1"}, {k: v for k, v in record(rows[1]).items() if k != "SEX"}]
    answer = post_json(server.url, {"instances": sent})
    assert answer.status == 200, answer.json
    kept = stored(server)
    for row, (prediction, instance) in enumerate(zip(answer.json["predictions"], sent, strict=True)):
        entry = kept[prediction["decision_id"]]
        assert set(entry) == REQUIRED
        assert entry["route"] == "predict" and entry["row"] == row and entry["id"] == instance.get("id")
        assert entry["request_id"] == answer.headers["x-request-id"]
        assert entry["model_version"] == answer.json["model_version"]
        assert {name: value for name, value in entry["inputs"].items() if value is not None} == {
            name: value for name, value in instance.items() if name in FEATURE_NAMES
        }, "the inputs as sent, protected fields included, and nothing else"
        for key in ("probability_of_default", "risk_band", "score"):
            assert entry[key] == prediction[key]
        assert uuid.UUID(entry["decision_id"]).version == 7
        assert datetime.fromisoformat(entry["recorded_at"]).tzinfo == UTC
    assert kept[answer.json["predictions"][1]["decision_id"]]["inputs"]["SEX"] is None


def test_explained_and_columnar_decisions_are_recorded_with_their_reasons(start_function, keras_reference) -> None:
    server = start_function()
    rows, _ = keras_reference
    explained = post_json(server.url + "/explain", record(rows[2]))
    columns = {name: [record(rows[3])[name], record(rows[4])[name]] for name in FEATURE_NAMES}
    columnar = post_json(server.url, {"inputs": columns})
    assert explained.status == columnar.status == 200
    kept = stored(server)
    (prediction,) = explained.json["predictions"]
    entry = kept[prediction["decision_id"]]
    assert entry["route"] == "explain"
    assert entry["reasons"] == prediction["reasons"] and entry["contributions"] == prediction["contributions"]
    assert [kept[p["decision_id"]]["row"] for p in columnar.json["predictions"]] == [0, 1]


def test_bigquery_rows_are_recorded_under_bigquerys_request_id_and_user(start_function, keras_reference) -> None:
    server = start_function()
    rows, _ = keras_reference
    calls = [[record(row)[name] for name in FEATURE_NAMES] for row in rows[:3]]
    body = {"requestId": "bq-req-42", "sessionUser": "analyst@bank.example", "calls": calls}
    answer = post_json(server.url, body)
    assert answer.status == 200, answer.json
    kept = [entry for entry in stored(server).values() if entry["route"] == "bigquery"]
    assert [(e["request_id"], e["row"], e["caller"]) for e in kept] == [
        ("bq-req-42", row, "analyst@bank.example") for row in range(3)
    ]
    assert [e["probability_of_default"] for e in kept] == answer.json["replies"]


def test_the_caller_is_the_verified_tokens_email_and_the_token_is_never_kept(start_function, keras_reference):
    server = start_function()
    claims = {"email": "scoring-app@bank.iam.gserviceaccount.com", "aud": "https://f"}
    import base64

    token = ".".join(
        base64.urlsafe_b64encode(part).decode().rstrip("=")
        for part in (b'{"alg":"RS256"}', json.dumps(claims).encode(), b"signature")
    )
    answer = post_json(server.url, record(keras_reference[0][5]), headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    entry = stored(server)[answer.json["predictions"][0]["decision_id"]]
    assert entry["caller"] == claims["email"]
    folder = server.cwd / RECORDS_FOLDER
    assert all(token.encode() not in path.read_bytes() for path in folder.rglob("*.jsonl"))


def test_records_never_reach_the_logs(start_function, keras_reference) -> None:
    server = start_function()
    distinctive = record(keras_reference[0][6]) | {"LIMIT_BAL": 123457.25, "id": "customer-7b3f9e"}
    answer = post_json(server.url, distinctive)
    assert answer.status == 200
    output = server.output()
    assert "123457.25" not in output and "customer-7b3f9e" not in output
    assert answer.json["predictions"][0]["decision_id"] not in output
    (line,) = [entry for entry in request_logs(output) if entry.get("instance_count") == 1]
    assert line["request_id"] == answer.headers["x-request-id"]


def test_an_unwritable_store_answers_503_keeps_nothing_unrecorded_and_recovers(
    start_function, keras_reference, tmp_path
) -> None:
    blocked = tmp_path / "records"
    blocked.write_text("a file where the folder should be")
    server = start_function(**{RECORDS_URL_ENV: str(blocked / "decisions")})
    body = record(keras_reference[0][7])
    refused = post_json(server.url, body)
    assert refused.status == 503 and refused.json["error"]["code"] == "records_unavailable"
    assert refused.headers["retry-after"] == "1" and "decision_id" not in json.dumps(refused.json)
    blocked.unlink()
    answer = post_json(server.url, body)
    assert answer.status == 200
    kept = [entry["decision_id"] for entry in read_records(str(blocked / "decisions"))]
    assert kept == [answer.json["predictions"][0]["decision_id"]], "only the answered decision is recorded"


def test_without_a_store_nothing_is_decided(start_function, keras_reference, model_env) -> None:
    server = start_function(env=model_env | {RECORDS_URL_ENV: ""})
    refused = post_json(server.url, record(keras_reference[0][8]))
    assert refused.status == 503 and refused.json["error"]["code"] == "records_unavailable"
    assert RECORDS_URL_ENV in server.output()


def test_every_decision_answered_200_survives_a_kill(start_function, keras_reference) -> None:
    """SIGKILL in the middle of 8 concurrent clients: each decision id a client got in a 200 is in the store."""
    server = start_function()
    bodies = [{"instances": [record(row) for row in keras_reference[0][i : i + 5]]} for i in range(0, 200, 5)]
    answered: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for body in bodies[index::8]:
            try:
                answer = post_json(server.url, body, timeout=30)
            except OSError:
                return
            if answer.status == 200:
                with lock:
                    answered.extend(p["decision_id"] for p in answer.json["predictions"])

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client, i) for i in range(8)]
        while len(answered) < 60:
            time.sleep(0.01)
        server.process.send_signal(signal.SIGKILL)
        for future in futures:
            future.result()
    kept = stored(server)
    assert answered and not set(answered) - set(kept), "a decision answered 200 is missing from the store"
    print(f"{len(answered)} decisions answered, {len(kept) - len(answered)} recorded but never answered")


def test_decision_ids_are_uuid7_strictly_increasing_and_name_their_day() -> None:
    batch = new_ids(10_000)
    single = new_id()
    assert batch == sorted(batch) and batch[-1] < single and len(set(batch)) == len(batch)
    for value in (batch[0], batch[-1], single):
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert day_of(single) == datetime.now(UTC).date()
    with pytest.raises(ValueError, match="not a decision id"):
        day_of(str(uuid.uuid4()))


class SlowStore:
    """A store that takes its time, so that writers pile up behind it; it can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.objects: list[bytes] = []
        self.fail = fail

    def put(self, name: str, parts: list[bytes]) -> None:
        time.sleep(0.05)
        if self.fail:
            raise OSError("disk full")
        self.objects.append(b"".join(parts))


def test_concurrent_writers_share_writes_and_each_returns_once_its_lines_are_stored() -> None:
    store = SlowStore()
    recorder = Recorder(store)
    lines = [f"line {i}\n".encode() for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda line: recorder.write([line], "2026-12-03"), lines))
    assert sorted(b"".join(store.objects).splitlines(keepends=True)) == sorted(lines)
    assert len(store.objects) < len(lines), "no write was shared"


def test_a_failed_write_fails_every_request_it_held() -> None:
    recorder = Recorder(SlowStore(fail=True))
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(recorder.write, [b"x\n"], "2026-12-03") for _ in range(8)]
    for future in futures:
        with pytest.raises(RecordsUnavailable, match="disk full"):
            future.result()


@pytest.mark.parametrize("whole", [False, True], ids=["any numbers", "whole numbers"])
def test_the_encoding_reads_back_to_the_same_bits(whole: bool) -> None:
    """Whole numbers are written as integers, any other as its shortest text: either way the same bits come back,
    -0.0, the largest whole numbers and fields not sent (NaN) included."""
    rng = np.random.default_rng(3)
    features = rng.uniform(-1e6, 1e6, (50, len(FEATURE_NAMES)))
    if whole:
        features = np.round(features)
    features[::7, 1] = np.nan
    features[3, :4] = [-0.0, 0.0, 2.0**53, 2.0**53 - 1]
    features[5, 2] = 1e300
    probabilities = rng.random(50)
    batch = records.Batch(
        decision_ids=new_ids(50),
        route="predict",
        request_id="r",
        model_version="v1",
        manifest_sha256="0" * 64,
        features=features,
        ids=[None, 'a "quoted" id, with commas\n'] * 25,
        caller=None,
        probabilities=probabilities,
        bands=["B01"] * 50,
        points=probabilities * 1000,
    )
    lines = b"".join(records.encode(batch)).decode().split("\n")
    assert lines[-1] == "" and len(lines) == 51
    decoded = [json.loads(line) for line in lines[:-1]]
    read = [[np.nan if e["inputs"][n] is None else e["inputs"][n] for n in FEATURE_NAMES] for e in decoded]
    assert np.array(read, dtype=np.float64).tobytes() == features.tobytes()
    inputs = lines[4].split('"inputs":{', 1)[1].split("}", 1)[0]
    assert ("." in inputs) is not whole, inputs  # whole numbers as integers: no "20000.0"
    assert '"LIMIT_BAL":-0.0,' in lines[3], lines[3]
    assert [e["probability_of_default"] for e in decoded] == probabilities.tolist()
    assert [e["id"] for e in decoded] == batch.ids and [e["row"] for e in decoded] == list(range(50))


def test_objects_are_named_by_day_and_never_replaced(tmp_path: Path) -> None:
    store = records.LocalStore(tmp_path)
    store.put("date=2026-12-03/a.jsonl", [b"1", b"\n"])
    with pytest.raises(FileExistsError):
        store.put("date=2026-12-03/a.jsonl", [b"2\n"])
    assert (tmp_path / "date=2026-12-03" / "a.jsonl").read_bytes() == b"1\n"
    assert [p.name for p in tmp_path.rglob("*")] == ["date=2026-12-03", "a.jsonl"]


def test_a_day_folder_removed_between_writes_is_made_again(tmp_path: Path) -> None:
    store = records.LocalStore(tmp_path)
    store.put("date=2026-12-03/a.jsonl", [b"1\n"])
    shutil.rmtree(tmp_path / "date=2026-12-03")
    store.put("date=2026-12-03/b.jsonl", [b"2\n"])
    store.put("date=2026-12-04/c.jsonl", [b"3\n"])
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.jsonl")) == [
        "date=2026-12-03/b.jsonl",
        "date=2026-12-04/c.jsonl",
    ]


def test_a_forked_process_draws_its_own_random_bits() -> None:
    """Ids draw their random bits from a pool; a child forked after the parent filled it must not repeat them."""
    new_id()  # the pool is filled
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(writing, new_id().encode())
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    childs = os.read(reading, 64).decode()
    os.close(reading)
    assert uuid.UUID(childs).int & (2**62 - 1) != uuid.UUID(new_id()).int & (2**62 - 1)
