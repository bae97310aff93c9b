"""Scores feature matrices with a LiteRT model and its fitted preprocessor.

The matrix has one row per record and the columns of ``features.FEATURE_NAMES``, in that order.
Training uses this same class to prove the exported model before writing it.
"""

from __future__ import annotations

import threading

import numpy as np

from default_risk.preprocessing import Preprocessor


class Scorer:
    """A loaded model version. Thread-safe: LiteRT's interpreter is used under a lock."""

    def __init__(self, model_bytes: bytes, preprocessor: Preprocessor) -> None:
        from ai_edge_litert.interpreter import Interpreter  # imported on first load, not at import time

        self.preprocessor = preprocessor
        self._interpreter = Interpreter(model_content=model_bytes, num_threads=1)
        [model_input] = self._interpreter.get_input_details()
        if model_input["shape"][-1] != preprocessor.width:
            raise ValueError(
                f"the model takes {model_input['shape'][-1]} inputs but the preprocessor gives {preprocessor.width}"
            )
        self._input_index = model_input["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        self._allocated_rows = 0
        self._lock = threading.Lock()

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Probability of default for each row of ``features`` (float64, shape ``(rows,)``)."""
        model_input = self.preprocessor.transform(features, np.float32)
        with self._lock:
            if model_input.shape[0] != self._allocated_rows:
                self._interpreter.resize_tensor_input(self._input_index, model_input.shape)
                self._interpreter.allocate_tensors()
                self._allocated_rows = model_input.shape[0]
            self._interpreter.set_tensor(self._input_index, model_input)
            self._interpreter.invoke()
            output = self._interpreter.get_tensor(self._output_index)
        return output.reshape(-1).astype(np.float64)
