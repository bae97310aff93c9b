"""The reference for cold start: the seed's serving path, TensorFlow + ``keras.models.load_model``.

A minimal HTTP server that imports TensorFlow, fetches the ``.keras`` model and the preprocessor from
Cloud Storage (the emulator here), then answers ``POST /`` with one record through a DataFrame and
``model.predict`` (the version's model inputs derived as the function derives them). Run:
``python tests/bench/reference_server.py PORT`` with ``KERAS_URL``, ``PREP_URL`` and ``FEATURE_SET``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import keras  # imports TensorFlow
import pandas as pd
from google.cloud import storage

from default_risk.contract.fields import FEATURE_NAMES
from default_risk.contract.model_inputs import model_inputs


def fetch(client: storage.Client, url: str) -> bytes:
    bucket, _, name = url.removeprefix("gs://").partition("/")
    return client.bucket(bucket).blob(name).download_as_bytes()


def main() -> None:
    client = storage.Client()
    with tempfile.NamedTemporaryFile(suffix=".keras") as model_file:
        model_file.write(fetch(client, os.environ["KERAS_URL"]))
        model_file.flush()
        model = keras.models.load_model(model_file.name)
    preprocessor = joblib.load(io.BytesIO(fetch(client, os.environ["PREP_URL"])))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            record = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            frame = pd.DataFrame([record]).reindex(columns=FEATURE_NAMES)  # absent protected fields: NaN
            inputs = model_inputs(frame.to_numpy(float), os.environ["FEATURE_SET"])
            probability = float(model.predict(preprocessor.transform(inputs), verbose=0)[0, 0])
            body = json.dumps({"predictions": [{"probability_of_default": probability}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
