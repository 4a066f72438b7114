"""The Keras-face example programs run and give what a Keras user expects."""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _main(script: str):
    return runpy.run_path(str(EXAMPLES / script), run_name="example")["main"]


def test_evaluate_idiom_example(capsys):
    accuracy = _main("keras_evaluate_digits.py")()
    out = capsys.readouterr().out
    assert accuracy > 0.93
    assert f"Test accuracy: {accuracy:.4f}" in out and "Test loss: " in out


def test_train_on_batch_example(capsys):
    accuracy = _main("keras_train_on_batch.py")()
    out = capsys.readouterr().out
    assert accuracy > 0.93
    assert "optimizer steps: 300" in out and "step 300: loss" in out
