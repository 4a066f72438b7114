"""The Keras-style example scripts run and reach the accuracy their data allows."""

from __future__ import annotations

import re
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # The examples' tiny models run fastest on one thread, and far slower with
    # two threads on a CPU shared with other work.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(script: str) -> float:
    accuracy = runpy.run_path(str(EXAMPLES / script), run_name="example")["main"]()
    assert isinstance(accuracy, float)
    return accuracy


@pytest.mark.parametrize("script", ["fit_one_epoch_loop.py", "conv2d_digits.py"])
def test_example_reaches_its_accuracy(script, capsys):
    assert _run(script) > 0.93
    assert "accuracy" in capsys.readouterr().out


def test_manual_and_callback_early_stopping_agree(capsys):
    # Same data, model, seed and patience: the hand-written loop and the callback
    # stop after the same epoch and keep the same best epoch's weights.
    manual_accuracy = _run("manual_early_stopping.py")
    manual_out = capsys.readouterr().out
    callback_accuracy = _run("early_stopping_callback.py")
    callback_out = capsys.readouterr().out
    assert manual_accuracy > 0.93
    assert manual_accuracy == callback_accuracy
    found = re.search(r"stopping after epoch (\d+).*best epoch (\d+)", manual_out, re.S)
    assert found is not None, manual_out
    stop, best = found.groups()
    assert f"stopped at epoch {stop}, best epoch {best}" in callback_out
    assert int(stop) - int(best) == 10
