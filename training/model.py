"""The Keras model: MLP members that output logits, averaged, then a Platt calibration layer.

Everything the function serves is inside one Keras model (so inside ``model.tflite``):
``features -> [member_1 .. member_k] -> mean logit -> sigmoid(a * logit + b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class MemberSpec:
    """How one MLP member is built and trained."""

    hidden: tuple[int, ...]
    dropout: float
    l2: float
    learning_rate: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int


@dataclass(frozen=True)
class TrainedMember:
    model: object  # keras.Model returning logits
    val_auc: float
    epochs: int
    """Epochs run (early stopping restores the best one)."""


def build_member(input_dim: int, spec: MemberSpec, seed: int, name: str):
    """An unfitted MLP returning one logit per row."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_dim,), name="features")
    x = inputs
    for units in spec.hidden:
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=keras.regularizers.l2(spec.l2))(x)
        x = keras.layers.Dropout(spec.dropout, seed=seed)(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, logit, name=name)


def fit_member(
    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, spec: MemberSpec, seed: int, name: str
) -> TrainedMember:
    """Train with unweighted cross-entropy and AdamW; stop early on validation ROC-AUC and keep the best epoch."""
    import keras

    model = build_member(x_train.shape[1], spec, seed, name)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=spec.learning_rate, weight_decay=spec.weight_decay),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.AUC(from_logits=True, name="auc")],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=spec.patience, restore_best_weights=True
    )
    history = model.fit(
        x_train,
        y_train.astype(np.float32),
        validation_data=(x_val, y_val.astype(np.float32)),
        epochs=spec.max_epochs,
        batch_size=spec.batch_size,
        callbacks=[stop],
        shuffle=True,
        verbose=0,
    )
    val_auc = float(roc_auc_score(y_val, predict(model, x_val)))
    return TrainedMember(model, val_auc, len(history.history["loss"]))


def predict(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x.astype(np.float32), batch_size=4096, verbose=0).reshape(-1).astype(np.float64)


def average_logits(members: list, input_dim: int):
    """One model whose logit is the mean of the members' logits."""
    import keras

    inputs = keras.Input((input_dim,), name="features")
    logits = [member(inputs) for member in members]
    mean = keras.layers.Average(name="mean_logit")(logits) if len(logits) > 1 else logits[0]
    return keras.Model(inputs, mean, name="ensemble")


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: ``(a, b)`` with ``P(default) = sigmoid(a * logit + b)``, fitted by maximum likelihood."""
    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(logits.reshape(-1, 1), y)
    return float(fitted.coef_[0, 0]), float(fitted.intercept_[0])


def calibrated_model(logit_model, input_dim: int, platt: tuple[float, float]):
    """``logit_model`` followed by a fixed sigmoid(a * logit + b) layer: the served probability model."""
    import keras

    inputs = keras.Input((input_dim,), name="features")
    calibration = keras.layers.Dense(1, activation="sigmoid", name="platt_calibration", trainable=False)
    probability = calibration(logit_model(inputs))
    calibration.set_weights([np.array([[platt[0]]], dtype=np.float32), np.array([platt[1]], dtype=np.float32)])
    return keras.Model(inputs, probability, name="default_risk")
