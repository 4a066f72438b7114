"""SequentialModule: Keras names, chaining, building from a known input shape, protocol."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from epochal import layers
from epochal.errors import ArgumentError, ArgumentTypeError, DataError


def names(module: nn.Module) -> list[str]:
    return [name for name, _ in module.named_children()]


def test_children_get_keras_names_counted_per_container() -> None:
    net = layers.SequentialModule(
        [
            layers.Conv2D(4, 3),
            layers.MaxPooling2D(),
            layers.Conv2D(4, 3),
            layers.GlobalAveragePooling2D(),
            layers.Dense(8),
            layers.Dropout(0.1),
            layers.Dense(1, name="head"),
            nn.ReLU(),
            layers.BatchNormalization(),
        ]
    )
    assert names(net) == [
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
        "global_average_pooling2d",
        "dense",
        "dropout",
        "head",
        "re_lu",
        "batch_normalization",
    ]
    assert names(layers.SequentialModule([layers.Dense(1), layers.Dense(1)])) == [
        "dense",
        "dense_1",
    ]


def test_forward_chains_the_layers_and_add_appends() -> None:
    net = layers.SequentialModule()
    net.add(layers.Dense(3))
    net.add(nn.Tanh())
    x = torch.randn(2, 5)
    dense = net["dense"]
    torch.testing.assert_close(net(x), torch.tanh(dense(x)))
    assert len(net) == 2 and net[1] is net.layers[1]


def test_known_input_shape_builds_every_layer_at_construction() -> None:
    net = layers.SequentialModule(
        [layers.Dense(16, "relu", input_shape=(10,)), layers.Dropout(0.5), layers.Dense(3)]
    )
    assert net.built
    assert net.input_shape == (10,)
    assert net["dense_1"].weight.shape == (3, 16)
    assert net.training and all(m.training for m in net.modules())


def test_input_layer_first_and_add_builds_when_the_shape_is_known() -> None:
    net = layers.SequentialModule([layers.Input((8, 8, 3)), layers.Conv2D(4, 3)])
    assert net.built and net.input_shape == (8, 8, 3)
    assert names(net) == ["conv2d"]  # as in Keras 3, the Input is not a layer
    net.add(layers.Flatten())
    net.add(layers.Dense(2))
    assert net["dense"].weight.shape == (2, 6 * 6 * 4)


def test_add_that_does_not_fit_leaves_the_container_unchanged() -> None:
    net = layers.SequentialModule([layers.Dense(4, input_shape=(3,))])
    with pytest.raises(DataError, match="LSTM: expected an input of shape"):
        net.add(layers.LSTM(2))  # 2-D output into an LSTM
    assert names(net) == ["dense"]


def test_build_and_ensure_built_create_lazy_parameters_without_training() -> None:
    net = layers.SequentialModule(
        [layers.Dense(4), layers.BatchNormalization(), layers.Dropout(0.5)]
    )
    assert not net.built and net.input_shape is None
    net.build((6,))
    assert net.built and net.input_shape == (6,)
    assert torch.equal(net["batch_normalization"].running_mean, torch.zeros(4))

    other = layers.SequentialModule([layers.Dense(4), layers.BatchNormalization()])
    other.eval()
    assert layers.ensure_built(other, torch.randn(5, 6) + 10)
    assert torch.equal(other["batch_normalization"].running_mean, torch.zeros(4))
    assert not other.training and not other["dense"].training
    assert not layers.ensure_built(other, torch.randn(5, 6))


def test_lazy_children_created_during_a_dry_run_follow_their_parent_mode() -> None:
    net = layers.SequentialModule([layers.Embedding(20, 4), layers.LSTM(3)])
    net.build((None,))
    lstm = net["lstm"]
    assert isinstance(lstm, layers.LSTM) and lstm.rnn.training


def test_embedding_first_gets_integer_ids_in_the_dry_run() -> None:
    net = layers.SequentialModule([layers.Embedding(30, 4, input_shape=(7,)), layers.GRU(5)])
    assert net.built
    assert net(torch.randint(0, 30, (2, 7))).shape == (2, 5)


def test_input_dtype_is_used_for_the_dry_run() -> None:
    class Ids(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert x.dtype == torch.long
            return x.float()

    net = layers.SequentialModule([layers.Input((3,), dtype=torch.long), Ids(), layers.Dense(2)])
    assert net.built and net.input_dtype == torch.long


def test_activation_protocol_passes_through_the_last_layer() -> None:
    net = layers.SequentialModule(
        [layers.Dense(5, "relu", input_shape=(4,)), layers.Dense(3, "softmax")]
    )
    x = torch.randn(6, 4)
    assert net.activation_name == "softmax"
    torch.testing.assert_close(torch.softmax(net.forward_preactivation(x), dim=-1), net(x))
    plain = layers.SequentialModule([layers.Dense(2, input_shape=(4,)), nn.Sigmoid()])
    assert plain.activation_name is None
    torch.testing.assert_close(plain.forward_preactivation(x), plain(x))
    assert plain.sequential_layers() == plain.layers


def test_state_dict_round_trip_into_an_unbuilt_container() -> None:
    source = layers.SequentialModule(
        [layers.Conv1D(3, 2, input_shape=(6, 2)), layers.Flatten(), layers.Dense(1)]
    )
    target = layers.SequentialModule([layers.Conv1D(3, 2), layers.Flatten(), layers.Dense(1)])
    target.load_state_dict(source.state_dict())
    x = torch.randn(2, 6, 2)
    torch.testing.assert_close(target(x), source(x))


def test_rejects_bad_layers_and_names() -> None:
    with pytest.raises(ArgumentTypeError, match=r"expected layers\[1\] to be a torch.nn.Module"):
        layers.SequentialModule([layers.Dense(1), "relu"])  # type: ignore[list-item]
    with pytest.raises(ArgumentTypeError, match="expected `layers` to be a list"):
        layers.SequentialModule(layers.Dense(1))  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"expected unique layer names. Received: name='x'"):
        layers.SequentialModule([layers.Dense(1, name="x"), layers.Dense(1, name="x")])
    with pytest.raises(ArgumentError, match="not an attribute of the container"):
        layers.SequentialModule([layers.Dense(1, name="forward")])
    with pytest.raises(ArgumentError, match="InputLayer only as the first layer"):
        layers.SequentialModule([layers.Dense(1), layers.Input((3,))])
    with pytest.raises(ArgumentError, match="InputLayer only as the first layer"):
        layers.SequentialModule([layers.Input((3,)), layers.Input((3,))])
    with pytest.raises(ArgumentError, match="no layer named 'nope'"):
        layers.SequentialModule([layers.Dense(1)])["nope"]


def test_every_layer_state_saves_with_safetensors(tmp_path: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    net = layers.SequentialModule(
        [
            layers.Input((6, 6, 2)),
            layers.Conv2D(3, 3, padding="same"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(4),
        ]
    )
    rnn = layers.SequentialModule([layers.Embedding(9, 3, input_shape=(5,)), layers.LSTM(2)])
    for module in (net, rnn):
        state = module.state_dict()
        assert all(t.is_contiguous() for t in state.values())
        safetensors_torch.save_file(state, str(tmp_path / "w.safetensors"))
        loaded = safetensors_torch.load_file(str(tmp_path / "w.safetensors"))
        assert all(torch.equal(loaded[k], v) for k, v in state.items())
