"""The progress display: a live bar in a terminal, plain lines elsewhere, silence at verbose=0."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

import epochal as ep
from _util import make_binary, mlp
from epochal.callbacks import ProgbarLogger

X, Y = make_binary(n=200)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fit_with(stream, verbose: int, epochs: int = 2) -> ep.Model:
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    # Replace the automatic display by one writing to our stream, with the same verbose.
    bar = ProgbarLogger(verbose, stream=stream)
    model.fit(X, Y, epochs=epochs, verbose=0, validation_split=0.2, callbacks=[bar])
    return model


def test_pipe_gets_one_clean_line_per_epoch():
    out = io.StringIO()
    fit_with(out, verbose=1)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - 5/5 - ")
    for key in ("loss:", "accuracy:", "val_loss:", "val_accuracy:"):
        assert key in lines[1]


def test_verbose_two_is_one_line_per_epoch_even_in_a_terminal():
    out = Terminal()
    fit_with(out, verbose=2, epochs=3)
    lines = out.getvalue().strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert "\r" not in out.getvalue()


class Slow(ep.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.04)


def test_terminal_gets_a_live_tqdm_bar_with_metrics():
    out = Terminal()
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    model.fit(
        X,
        Y,
        epochs=2,
        verbose=0,
        validation_split=0.2,
        callbacks=[Slow(), ProgbarLogger(1, stream=out)],
    )
    text = out.getvalue()
    assert "\r" in text  # tqdm redraws in place
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "5/5" in text and "val_accuracy" in text and "step/s" in text
    # The full logs go on their own line below each finished bar, never cut by the width.
    lines = [part.split("\r")[-1] for part in text.split("\n") if part]
    assert [line.startswith("  loss: ") and "val_accuracy: " in line for line in lines] == [
        False,
        True,
    ] * 2


def test_epochs_shorter_than_a_refresh_get_one_line_even_in_a_terminal():
    out = Terminal()
    fit_with(out, verbose=1)
    lines = out.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]


def test_fit_verbose_zero_prints_nothing(capsys):
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(X, Y, epochs=2, verbose=0)
    model.evaluate(X, Y, verbose=0)
    model.predict(X, verbose=0)
    assert capsys.readouterr().out == ""


def test_fit_verbose_auto_shows_progress_on_stdout(capsys):
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(X, Y, epochs=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out  # captured stdout is not a tty: lines


def test_evaluate_and_predict_report_progress(capsys):
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.evaluate(X, Y, verbose=1)
    model.predict(X, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Evaluate - 7/7") and "loss:" in out[0]
    assert out[1].startswith("Predict - 7/7")


def test_batch_logs_hold_the_running_loss():
    """A callback reading batch logs gets the epoch's running loss after every step."""
    reads: list[str] = []

    class Reader(ep.Callback):
        def on_train_batch_end(self, batch, logs=None):
            reads.append(f"{logs['loss']:.3f}")

    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(X, Y, epochs=1, verbose=0, callbacks=[Reader()])
    assert len(reads) == 7
    assert np.isfinite([float(r) for r in reads]).all()


PTY_SCRIPT = """
import time
import numpy as np, torch
from torch import nn
import epochal as ep

class Slow(ep.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.03)

rng = np.random.default_rng(0)
x = rng.normal(size=(640, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.float32)
torch.manual_seed(0)
model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), device="cpu")
model.compile(optimizer="adam", loss="bce", metrics=["accuracy", "auc", "precision"], seed=0)
model.fit(x, y, epochs=2, batch_size=32, validation_split=0.2, callbacks=[Slow()], verbose=1)
"""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_pty(script: str, columns: int) -> str:
    """Run ``script`` with stdout and stderr on a pseudo-terminal ``columns`` wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    src = str(Path(ep.__file__).resolve().parents[1])
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": src, "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.slow
def test_an_80_column_terminal_keeps_the_loss_and_metrics_visible():
    text = run_in_pty(PTY_SCRIPT, columns=80)
    frames = [_ANSI.sub("", part) for line in text.split("\n") for part in line.split("\r")]
    frames = [f for f in frames if f.strip()]
    bars = [f for f in frames if f.startswith("Epoch ")]
    assert bars, text[-2000:]
    assert all(len(f) <= 80 for f in bars), [f for f in bars if len(f) > 80]  # never wraps
    live = [f for f in bars if "loss: " in f]
    assert live, bars
    full = re.compile(r"loss: \d\.\d{4} - accuracy: \d\.\d{4} - auc: \d\.\d{4}")
    assert all(full.search(f) for f in live), live
    # Each epoch still ends with its whole logs, validation too, on a line of their own.
    ends = [f for f in frames if f.startswith("  loss: ")]
    assert len(ends) == 2 and all("val_precision: " in f for f in ends)
