"""A functional model with two inputs and two outputs, trained with ``loss_weights``.

Keras's "ticket" example, on made-up data: each support ticket has numeric
features and a set of tags; the model predicts its priority (a score in
[0, 1], a regression) and the department that should handle it (4 classes).
The losses are given per output name, and the department's loss counts a
fifth of the priority's in the total, as in the Keras guide.

The logs are named as Keras names them: ``loss`` (the weighted total),
``priority_loss`` and ``department_loss`` (each already weighted), and
``department_accuracy``.

Run it: ``python examples/multi_output_tickets.py`` (a few seconds on a CPU).
"""

from __future__ import annotations

import numpy as np

from epochal import keras
from epochal.keras import layers

FEATURES, TAGS, DEPARTMENTS = 6, 10, 4


def make_tickets(n: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Inputs by input name and targets by output name, for ``n`` tickets."""
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(0)  # the same hidden rules for every split
    to_department = truth.normal(size=(FEATURES + TAGS, DEPARTMENTS))
    to_priority = truth.normal(size=FEATURES)
    features = rng.normal(size=(n, FEATURES)).astype("float32")
    tags = (rng.random((n, TAGS)) < 0.3).astype("float32")
    scores = np.concatenate([features, tags], axis=1) @ to_department
    department = np.eye(DEPARTMENTS, dtype="float32")[scores.argmax(axis=1)]
    priority = 1.0 / (1.0 + np.exp(-(features @ to_priority + 0.1 * rng.normal(size=n))))
    inputs = {"features": features, "tags": tags}
    targets = {"priority": priority[:, None].astype("float32"), "department": department}
    return inputs, targets


def build_model() -> keras.Model:
    features = keras.Input(shape=(FEATURES,), name="features")
    tags = keras.Input(shape=(TAGS,), name="tags")
    hidden = layers.Concatenate()([features, tags])
    hidden = layers.Dense(32, activation="relu")(hidden)
    priority = layers.Dense(1, activation="sigmoid", name="priority")(hidden)
    department = layers.Dense(DEPARTMENTS, activation="softmax", name="department")(hidden)
    return keras.Model(inputs=[features, tags], outputs=[priority, department])


def main() -> float:
    """Train, evaluate on held-out tickets, and return the department accuracy there."""
    keras.utils.set_random_seed(0)
    x_train, y_train = make_tickets(1000, seed=1)
    x_test, y_test = make_tickets(500, seed=2)
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss={"priority": "mean_squared_error", "department": "categorical_crossentropy"},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    history = model.fit(x_train, y_train, epochs=20, batch_size=64, validation_split=0.2, verbose=0)
    last = {key: values[-1] for key, values in history.history.items()}
    print("last epoch:", ", ".join(f"{k}={v:.4f}" for k, v in last.items()))
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print("test:", ", ".join(f"{k}={v:.4f}" for k, v in results.items()))
    priority, department = model.predict(x_test, verbose=0)
    print(f"predicted priorities {priority.shape}, department probabilities {department.shape}")
    return float(results["department_accuracy"])


if __name__ == "__main__":
    print(f"department accuracy on held-out tickets: {main():.3f}")
