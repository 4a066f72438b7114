"""epochal.summary.summarize: Keras-like table, counts, shapes, and no side effects."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from epochal import layers
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.summary import summarize


def row(text: str, start: str) -> list[str]:
    """The whitespace-split cells of the table row that starts with ``start``."""
    for line in text.splitlines():
        if line.strip().startswith(start):
            return line.split()
    raise AssertionError(f"no row {start!r} in:\n{text}")


def mlp() -> layers.SequentialModule:
    return layers.SequentialModule(
        [layers.Dense(128, "relu", input_shape=(10,)), layers.Dropout(0.5), layers.Dense(1)]
    )


def test_dense_rows_shapes_and_totals() -> None:
    text = summarize(mlp())
    assert text.splitlines()[0] == 'Model: "SequentialModule"'
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert row(text, "dense (Dense)") == ["dense", "(Dense)", "(None,", "128)", "1,408"]
    assert row(text, "dropout") == ["dropout", "(Dropout)", "(None,", "128)", "0"]
    assert row(text, "dense_1") == ["dense_1", "(Dense)", "(None,", "1)", "129"]
    assert "Total params: 1,537" in text
    assert "Trainable params: 1,537" in text
    assert "Non-trainable params: 0" in text


def test_batch_norm_statistics_count_as_non_trainable_like_keras() -> None:
    net = layers.SequentialModule(
        [layers.Input((8, 8, 3)), layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization()]
    )
    text = summarize(net)
    assert "input_layer" not in text
    assert row(text, "conv2d") == ["conv2d", "(Conv2D)", "(None,", "8,", "8,", "16)", "448"]
    assert row(text, "batch_normalization")[-1] == "64"
    assert "Total params: 512" in text
    assert "Trainable params: 480" in text
    assert "Non-trainable params: 32" in text


def test_variable_axes_show_as_none() -> None:
    net = layers.SequentialModule(
        [
            layers.Embedding(100, 8, input_shape=(None,)),
            layers.LSTM(16, return_sequences=True),
            layers.GRU(4, return_state=True),
        ]
    )
    text = summarize(net)
    assert row(text, "embedding")[2:5] == ["(None,", "None,", "8)"]
    assert row(text, "lstm")[2:5] == ["(None,", "None,", "16)"]
    assert " ".join(row(text, "gru")[2:]) == "[(None, 4), (None, 4)] 264"


def test_summary_changes_no_parameter_rng_or_mode() -> None:
    net = mlp()
    net.train()
    net["dropout"].eval()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    summarize(net)
    summarize(net, (10,))
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert net.training and net["dense"].training and not net["dropout"].training


def test_unbuilt_layers_show_question_marks_and_a_note() -> None:
    net = layers.SequentialModule([layers.Dense(4), layers.Dense(2)])
    text = summarize(net)
    assert row(text, "dense (Dense)") == ["dense", "(Dense)", "*", "?", "0"]
    assert "(unbuilt: call fit or give input_shape)" in text
    assert "Total params: 0" in text


def test_input_shape_summarizes_an_unbuilt_module_without_building_it() -> None:
    net = layers.SequentialModule([layers.Dense(128), layers.Dense(1)])
    rng = torch.get_rng_state()
    text = summarize(net, input_shape=(10,))
    assert row(text, "dense (Dense)")[-1] == "1,408"
    assert "Total params: 1,537" in text
    assert not net.built and list(net.parameters()) == []
    assert torch.equal(torch.get_rng_state(), rng)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 8), nn.ReLU())
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.body(x)))


def test_any_module_lists_its_children() -> None:
    text = summarize(Net())
    assert row(text, "body") == ["body", "(Sequential)", "?", "48"]
    assert row(text, "head") == ["head", "(Linear)", "?", "18"]
    # BatchNorm1d: weight, bias trainable; running mean/var non-trainable; the int counter is not.
    assert "Total params: 98" in text and "Non-trainable params: 16" in text
    shaped = summarize(Net(), input_shape=(5,))
    assert row(shaped, "body")[2:4] == ["(None,", "8)"]
    assert row(shaped, "head")[2:4] == ["(None,", "2)"]


def test_a_single_layer_is_one_row() -> None:
    text = summarize(layers.Dense(128, input_shape=(10,)))
    assert row(text, "dense (Dense)")[-1] == "1,408"


def test_line_length_sets_the_width() -> None:
    lines = summarize(mlp(), line_length=100).splitlines()
    assert len(lines[1]) == 100 and set(lines[1]) == {"_"}


def test_bad_arguments() -> None:
    with pytest.raises(
        ArgumentTypeError, match=r"summarize: expected `module` to be a torch.nn.Module"
    ):
        summarize("model")  # type: ignore[arg-type]
    with pytest.raises(
        ArgumentError, match="summarize: expected `line_length` to be a positive int"
    ):
        summarize(mlp(), line_length=0)
    with pytest.raises(ArgumentTypeError, match="Did you mean input_shape=\\(10,\\)"):
        summarize(mlp(), input_shape=10)  # type: ignore[arg-type]
