"""A training script for the kill test: run it, SIGKILL it anywhere, run it again.

Usage: python train_script.py CHECKPOINT_DIR OUTPUT_FILE
The environment variable KILL_AT chooses where this process kills itself,
counted from its own start (a restarted process resumes somewhere else):
``step:N`` (after its N-th training step), ``val:K`` (inside its K-th
validation), ``ckpt:K`` (half-way through its K-th checkpoint file write).
On completion it writes the final weights and history to OUTPUT_FILE.
SCRIPT_MODE chooses the script: ``fit`` (one long fit with callbacks, the
default), ``es_loop`` (a fit(epochs=1) loop with EarlyStopping restoring the
best weights), ``manual`` (a hand-written early-stopping loop with
get_weights/set_weights), ``phases`` (a learning rate lowered by hand and
``new_phase()`` between calls).
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

import epochal as ep
import epochal.checkpoint as checkpoint_mod


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Killer(ep.Callback):
    def __init__(self, spec: str) -> None:
        super().__init__()
        self.kind, _, value = spec.partition(":")
        self.at = int(value) if value else -1
        self.steps = self.validations = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.kind == "step" and self.steps == self.at:
            die()

    def on_test_begin(self, logs=None):
        self.validations += 1

    def on_test_batch_end(self, batch, logs=None):
        if self.kind == "val" and self.validations == self.at and batch == 1:
            die()


def install_checkpoint_killer(k: int) -> None:
    real = checkpoint_mod._write_bytes
    calls = {"n": 0}

    def write(file, data):
        calls["n"] += 1
        if calls["n"] == k:
            with open(file, "wb") as fh:  # leave a torn file behind
                fh.write(data[: len(data) // 2])
            die()
        real(file, data)

    checkpoint_mod._write_bytes = write


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 8)).astype(np.float32)
    y = (x @ rng.normal(size=8) + 0.8 * rng.normal(size=600) > 0).astype(np.float32)
    return x, y


def loop_model() -> ep.Model:
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1), nn.Sigmoid()
    )
    model = ep.Model(module, device="cpu")
    model.compile(optimizer="adam", loss="bce", learning_rate=0.02, seed=99)
    return model


def es_loop(checkpoint_dir: str, killer: Killer) -> ep.Model:
    x, y = data()
    model = loop_model()
    es = ep.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    for _ in range(40):
        model.fit(
            x[:300],
            y[:300],
            epochs=1,
            batch_size=32,
            verbose=0,
            validation_data=(x[480:], y[480:]),
            callbacks=[killer, es],
            checkpoint_dir=checkpoint_dir,
        )
        if model.stop_training:
            break
    return model


def manual(checkpoint_dir: str, killer: Killer) -> ep.Model:
    x, y = data()
    model = loop_model()
    best, best_weights, wait = float("inf"), model.get_weights(), 0
    for _ in range(40):
        h = model.fit(
            x[:300],
            y[:300],
            epochs=1,
            batch_size=32,
            verbose=0,
            validation_data=(x[480:], y[480:]),
            callbacks=[killer],
            checkpoint_dir=checkpoint_dir,
        )
        if h.history["val_loss"][0] < best:
            best, best_weights, wait = h.history["val_loss"][0], model.get_weights(), 0
        else:
            wait += 1
            if wait >= 3:
                break
    model.set_weights(best_weights)
    return model


def phases(checkpoint_dir: str, killer: Killer) -> ep.Model:
    x, y = data()
    model = loop_model()
    for _ in range(3):
        es = ep.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
        model.fit(
            x[:300],
            y[:300],
            epochs=8,
            batch_size=32,
            verbose=0,
            validation_data=(x[480:], y[480:]),
            callbacks=[killer, es],
            checkpoint_dir=checkpoint_dir,
        )
        for group in model.optimizer.param_groups:
            group["lr"] *= 0.5
        model.new_phase()
    return model


def main(checkpoint_dir: str, output: str) -> None:
    spec = os.environ.get("KILL_AT", "")
    if spec.startswith("ckpt:"):
        install_checkpoint_killer(int(spec.split(":")[1]))
    mode = os.environ.get("SCRIPT_MODE", "fit")
    if mode != "fit":
        scripts = {"es_loop": es_loop, "manual": manual, "phases": phases}
        write(scripts[mode](checkpoint_dir, Killer(spec)), output)
        return
    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 8)).astype(np.float32)
    y = (x @ rng.normal(size=8) + 0.8 * rng.normal(size=600) > 0).astype(np.float32)
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 1), nn.Sigmoid()
    )
    model = ep.Model(module, device="cpu")
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["accuracy"],
        learning_rate=0.03,
        seed=1234,
    )
    model.fit(
        x[:480],
        y[:480],
        epochs=30,
        batch_size=16,
        verbose=0,
        validation_data=(x[480:], y[480:]),
        callbacks=[
            ep.EarlyStopping(monitor="val_loss", patience=4, restore_best_weights=True),
            ep.ReduceLROnPlateau(monitor="val_loss", patience=2, factor=0.5),
            Killer(spec),
        ],
        checkpoint_dir=checkpoint_dir,
        checkpoint_steps=7,
    )
    write(model, output)


def write(model: ep.Model, output: str) -> None:
    save_file(
        {k: v.contiguous() for k, v in model.module.state_dict().items()}, output + ".weights"
    )
    with open(output, "w") as fh:
        json.dump(
            {
                "history": model.history.history,
                "step": model.run.step,
                "epoch": model.run.epoch,
                "stopped": model.run.stopped,
            },
            fh,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
