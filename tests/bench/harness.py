"""Times the function's entry point on request bodies, in one process: bytes in, response bytes out.

Run by ``bench_scoring`` in a subprocess whose working directory is a function source folder
(``functions/`` of this checkout, or of an earlier commit for the "today's code" column), so that
``import main`` is that tree's entry point, exactly as functions-framework imports it:

    cd <functions folder> && python -c "import runpy; runpy.run_path('<this file>', run_name='__main__')" SPEC

``SPEC`` is a JSON file: ``{"bodies": {name: path}, "runs": {name: n}, "yardstick": [names], "core": [names],
"after_idle": [names], "stages": [names], "paths": {name: "/explain"}, "records": "folder" | null}`` (``stages``,
``paths`` and ``records``: this checkout only). ``records`` is where decisions are recorded; null times this
checkout with the recorder patched to keep nothing (a store that drops every write): the cost of recording, measured
beside it.
The model is the one ``MODEL_URL`` / ``PREP_URL`` name. Prints one JSON object: per body, the wall and
thread-CPU time of each call (p50 and min, ms) and the status; per yardstick body, the same for what a request of
it cannot go below (``yardsticks``); per core body, the same for the scoring core alone (body bytes to
probabilities: decoding, validation, preprocessing, LiteRT; no Flask, no response); per after-idle body, the same
for the whole request after a pause: a hot loop keeps every cache warm, a server between two requests does not.
"""

import io
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

IDLE_RUNS = 300
IDLE_SECONDS = 0.002
"""The pause before each call of the idle timing: what a server does between two requests, long enough for the
caches to hold other work."""


def timed(call, runs: int, pause: float = 0.0) -> dict:
    call()  # warm-up (and the model's load, on the first body)
    wall, cpu = [], []
    for _ in range(runs):
        if pause:
            time.sleep(pause)
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return {
        "p50_ms": statistics.median(wall) * 1e3,
        "p99_ms": sorted(wall)[min(len(wall) - 1, int(len(wall) * 0.99))] * 1e3,
        "min_ms": min(wall) * 1e3,
        "cpu_p50_ms": statistics.median(cpu) * 1e3,
        "cpu_min_ms": min(cpu) * 1e3,
    }


def layout() -> str:
    """``layers`` (this checkout: contract, model, service, protocols) or ``flat`` (``default_risk`` before them)."""
    import os

    return "layers" if os.path.isdir("default_risk/protocols") else "flat"


def scoring_core():
    """body bytes -> probabilities, by the tree's own modules."""
    if layout() == "layers":
        from default_risk.protocols.decoding import scoring_request
        from default_risk.protocols.request_log import RequestLog
        from default_risk.service.scoring import score

        return lambda body: score(scoring_request(body, RequestLog()).result.features).probabilities
    from default_risk.decoding import scoring_request
    from default_risk.service import score
    from default_risk.telemetry import RequestLog

    def flat_core(body: bytes) -> object:
        log = RequestLog()
        return score(scoring_request(body, log).result, log).probabilities

    return flat_core


def stages(body: bytes, runs: int) -> dict:
    """This checkout's stages for one body: decoding with validation, scoring (preprocessing + LiteRT), and
    encoding its decision records."""
    from default_risk.protocols.decoding import scoring_request
    from default_risk.protocols.request_log import RequestLog
    from default_risk.service import records
    from default_risk.service.ids import new_ids
    from default_risk.service.scoring import score

    result = scoring_request(body, RequestLog()).result
    scores = score(result.features)
    batch = records.Batch(
        new_ids(len(result.ids)), "predict", "bench", scores.version, "0" * 64, result.features, result.ids, None,
        scores.probabilities, scores.band_labels, scores.points,
    )  # fmt: skip
    return {
        "decode and validate": timed(lambda: scoring_request(body, RequestLog()), runs),
        "score": timed(lambda: score(result.features), runs),
        "encode records": timed(lambda: records.encode(batch), runs),
    }


def yardsticks(body: bytes, runs: int) -> dict:
    """The standard library's and orjson's decode of the body alone, and LiteRT's invoke on its rows alone (the
    served model, on the network input made beforehand): what no request of this body can go below."""
    import orjson

    from default_risk.model.scorer import Network
    from default_risk.protocols.decoding import scoring_request
    from default_risk.protocols.request_log import RequestLog
    from default_risk.service.scoring import served_model

    scorer = served_model().scorer
    network_input = scorer.network_input(scoring_request(body, RequestLog()).result.features)
    network = Network(scorer.model_bytes, scorer.preprocessor.width)
    return {
        "json.loads": timed(lambda: json.loads(body), runs),
        "orjson.loads": timed(lambda: orjson.loads(body), runs),
        "LiteRT": timed(lambda: network(network_input), runs),
    }


def without_records() -> None:
    """Decisions as the function makes them, their records encoded, and the write dropped."""
    from default_risk.service import records

    class Dropped:
        def put(self, name: str, parts: list[bytes]) -> None:
            pass

    records._recorder = records.Recorder(Dropped())


def main() -> None:
    import flask

    import main as entry  # the tree's functions/main.py

    spec = json.loads(Path(sys.argv[1]).read_text())
    if layout() == "layers" and spec.get("records") is None:
        without_records()
    app = flask.Flask("bench")
    results_out = os.fdopen(os.dup(1), "w")  # the results; the request log lines (written to fd 1) go nowhere
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    for handler in logging.getLogger("scoring").handlers:  # an earlier tree's logging handler writes to sys.stdout
        if hasattr(handler, "setStream"):
            handler.setStream(io.StringIO())
    results: dict = {"requests": {}, "yardsticks": {}}
    for name, path in spec["bodies"].items():
        body = Path(path).read_bytes()
        statuses = []

        path = spec.get("paths", {}).get(name, "/")

        def call(body: bytes = body, statuses: list = statuses, path: str = path) -> None:
            with app.test_request_context(path, method="POST", data=body, content_type="application/json"):
                response = entry.predict(flask.request)
                response.get_data()
                statuses.append(response.status_code)

        results["requests"][name] = timed(call, spec["runs"][name]) | {"status": statuses[-1], "bytes": len(body)}
        if name in spec.get("yardstick", ()):
            results["yardsticks"][name] = yardsticks(body, spec["runs"][name])
        if name in spec.get("stages", ()):
            results.setdefault("stages", {})[name] = stages(body, spec["runs"][name])
        if name in spec.get("core", ()):
            core = scoring_core()
            results.setdefault("core", {})[name] = timed(lambda body=body, core=core: core(body), spec["runs"][name])
        if name in spec.get("after_idle", ()):
            results.setdefault("after_idle", {})[name] = timed(call, IDLE_RUNS, pause=IDLE_SECONDS)
    print(json.dumps(results), file=results_out, flush=True)


if __name__ == "__main__":
    main()
