"""The Keras model: MLP members that output logits, averaged, then a Platt calibration layer.

Everything the function serves is inside one Keras model (so inside ``model.tflite``):
``features -> [member_1 .. member_k] -> mean logit -> sigmoid(a * logit + b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

PREDICT_BATCH_SIZE = 4096
"""Rows per batch when Keras scores (validation, test and parity rows)."""


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
class TrainedEnsemble:
    logit_model: object
    """keras.Model: features -> mean of the members' logits."""
    val_auc: float
    """Validation ROC-AUC of the averaged logit."""
    member_val_auc: tuple[float, ...]
    epochs: int
    """Epochs run (early stopping restores the best one)."""


def build_ensemble(input_dim: int, spec: MemberSpec, members: int, seed: int):
    """``members`` independent MLP towers on one input: (training model giving every member's logit as a
    column, logit model giving their mean). One ``fit`` trains all members at once."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_dim,), name="features")
    logits = []
    for member in range(members):
        x = inputs
        for layer, units in enumerate(spec.hidden):
            x = keras.layers.Dense(
                units,
                activation="relu",
                kernel_regularizer=keras.regularizers.l2(spec.l2),
                name=f"m{member}_dense{layer}",
            )(x)
            x = keras.layers.Dropout(spec.dropout, seed=seed + 1000 * member + layer, name=f"m{member}_dropout{layer}")(
                x
            )
        logits.append(keras.layers.Dense(1, name=f"m{member}_logit")(x))
    every = keras.layers.Concatenate(name="member_logits")(logits) if members > 1 else logits[0]
    mean = keras.layers.Average(name="mean_logit")(logits) if members > 1 else logits[0]
    return keras.Model(inputs, every, name="members"), keras.Model(inputs, mean, name="ensemble")


def _mean_logit_auc():
    import keras

    class MeanLogitAUC(keras.metrics.AUC):
        """ROC-AUC of the members' mean logit (what is served), for early stopping."""

        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_true[:, :1], keras.ops.mean(y_pred, axis=1, keepdims=True), sample_weight)

    return MeanLogitAUC(from_logits=True, name="auc")


def fit_ensemble(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    spec: MemberSpec,
    members: int,
    seed: int,
) -> TrainedEnsemble:
    """Train every member on unweighted cross-entropy with AdamW; stop early on the validation ROC-AUC of
    the mean logit and keep the best epoch."""
    import keras

    train_model, logit_model = build_ensemble(x_train.shape[1], spec, members, seed)
    train_model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=spec.learning_rate, weight_decay=spec.weight_decay),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[_mean_logit_auc()],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=spec.patience, restore_best_weights=True
    )

    def targets(y: np.ndarray) -> np.ndarray:
        return np.repeat(y.astype(np.float32).reshape(-1, 1), members, axis=1)

    history = train_model.fit(
        x_train,
        targets(y_train),
        validation_data=(x_val, targets(y_val)),
        epochs=spec.max_epochs,
        batch_size=spec.batch_size,
        callbacks=[stop],
        shuffle=True,
        verbose=0,
    )
    member_logits = train_model.predict(x_val.astype(np.float32), batch_size=PREDICT_BATCH_SIZE, verbose=0).reshape(
        len(y_val), -1
    )
    return TrainedEnsemble(
        logit_model,
        float(roc_auc_score(y_val, predict(logit_model, x_val))),
        tuple(float(roc_auc_score(y_val, column)) for column in member_logits.T),
        len(history.history["loss"]),
    )


def predict(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x.astype(np.float32), batch_size=PREDICT_BATCH_SIZE, verbose=0).reshape(-1).astype(np.float64)


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
