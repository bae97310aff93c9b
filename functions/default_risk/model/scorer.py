"""Scores validated records with a LiteRT model, its fitted preprocessor and its feature set.

The matrix has one row per record and the columns of ``contract.FEATURE_NAMES``, in that order (absent
protected fields NaN: they are never read). ``model_inputs`` turns it into the model's input columns,
the preprocessor into the network's input, LiteRT into probabilities. Training uses this same class to
prove the exported model before writing it.
"""

from __future__ import annotations

import threading

import numpy as np

from default_risk.contract.model_inputs import FEATURE_SETS, model_inputs, model_inputs_of_row
from default_risk.model.preprocessing import Preprocessor


class Network:
    """One LiteRT interpreter of a model, for batches of the network's input. Thread-safe (under a lock);
    it re-allocates only when the batch size changes."""

    def __init__(self, model_bytes: bytes, width: int) -> None:
        from ai_edge_litert.interpreter import Interpreter  # imported on first load, not at import time

        self._interpreter = Interpreter(model_content=model_bytes, num_threads=1)
        [model_input] = self._interpreter.get_input_details()
        if model_input["shape"][-1] != width:
            raise ValueError(f"the model takes {model_input['shape'][-1]} inputs but the preprocessor gives {width}")
        self._input_index = model_input["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        self._allocated_rows = 0
        self._lock = threading.Lock()

    def __call__(self, network_input: np.ndarray) -> np.ndarray:
        """The model's output for each row of a float32 matrix (float64, shape ``(rows,)``)."""
        with self._lock:
            if network_input.shape[0] != self._allocated_rows:
                self._interpreter.resize_tensor_input(self._input_index, network_input.shape)
                self._interpreter.allocate_tensors()
                self._allocated_rows = network_input.shape[0]
            self._interpreter.set_tensor(self._input_index, network_input)
            self._interpreter.invoke()
            output = self._interpreter.get_tensor(self._output_index)
        return output.reshape(-1).astype(np.float64)


class Scorer:
    """A loaded model version: records to probabilities of default."""

    def __init__(self, model_bytes: bytes, preprocessor: Preprocessor, feature_set: str) -> None:
        if feature_set not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {feature_set!r}")
        self.model_bytes, self.preprocessor, self.feature_set = model_bytes, preprocessor, feature_set
        self._network = Network(model_bytes, preprocessor.width)
        self._single_row_network = Network(model_bytes, preprocessor.width)
        """Single records' own interpreter: one never waits behind a batch's invoke, nor re-allocates after one."""

    def network_input(self, features: np.ndarray) -> np.ndarray:
        """The network's float32 input for validated records; one record goes the one-row path (the same bits)."""
        if len(features) == 1:
            return self.preprocessor.transform_row(model_inputs_of_row(features[0].tolist(), self.feature_set))
        return self.preprocessor.transform(model_inputs(features, self.feature_set), np.float32)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Probability of default for each row of ``features`` (float64, shape ``(rows,)``)."""
        network = self._single_row_network if len(features) == 1 else self._network
        return network(self.network_input(features))
