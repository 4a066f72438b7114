"""Dense, Dropout, Flatten, Activation, Embedding, InputLayer: shapes, lazy build, errors."""

from __future__ import annotations

import math
import re

import pytest
import torch

from epochal import activations, layers
from epochal.errors import ArgumentError, ArgumentTypeError


def test_public_names_are_exactly_the_intended_ones() -> None:
    assert layers.__all__ == sorted(layers.__all__)
    assert set(layers.__all__) == {
        "Activation",
        "ActivityRegularization",
        "Add",
        "AdditiveAttention",
        "Attention",
        "Average",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "BatchNormalization",
        "Bidirectional",
        "CategoryEncoding",
        "Concatenate",
        "Conv1D",
        "Conv1DTranspose",
        "Conv2D",
        "Conv2DTranspose",
        "Conv3D",
        "Conv3DTranspose",
        "Cropping1D",
        "Cropping2D",
        "Dense",
        "DepthwiseConv1D",
        "DepthwiseConv2D",
        "Dot",
        "Dropout",
        "ELU",
        "Embedding",
        "Flatten",
        "GRU",
        "GaussianDropout",
        "GaussianNoise",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalAveragePooling3D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "GlobalMaxPooling3D",
        "GroupNormalization",
        "Identity",
        "Input",
        "InputLayer",
        "LSTM",
        "Lambda",
        "LayerNormalization",
        "LeakyReLU",
        "Masking",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "Maximum",
        "Minimum",
        "MultiHeadAttention",
        "Multiply",
        "Normalization",
        "PReLU",
        "Permute",
        "ReLU",
        "RepeatVector",
        "Rescaling",
        "Reshape",
        "Resizing",
        "SeparableConv1D",
        "SeparableConv2D",
        "SequentialModule",
        "SimpleRNN",
        "Softmax",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "Subtract",
        "TimeDistributed",
        "UnitNormalization",
        "UpSampling1D",
        "UpSampling2D",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "add",
        "apply_constraints",
        "average",
        "concatenate",
        "dot",
        "ensure_built",
        "is_built",
        "maximum",
        "minimum",
        "multiply",
        "regularization_loss",
        "subtract",
    }


# -- Dense ---------------------------------------------------------------------
def test_dense_is_lazy_until_first_call() -> None:
    layer = layers.Dense(5)
    assert list(layer.parameters()) == []
    assert layer.state_dict() == {}
    assert not layer.built
    y = layer(torch.randn(4, 3))
    assert y.shape == (4, 5)
    assert layer.built and layer.in_features == 3
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    assert len(list(layer.parameters())) == 2


def test_dense_with_input_shape_builds_at_construction() -> None:
    layer = layers.Dense(128, input_shape=(10,))
    assert layer.built
    assert sum(p.numel() for p in layer.parameters()) == 10 * 128 + 128
    assert layers.Dense(3, input_dim=7).weight.shape == (3, 7)


def test_lazy_and_eager_builds_draw_the_same_initial_weights() -> None:
    torch.manual_seed(3)
    eager = layers.Dense(6, input_shape=(4,))
    torch.manual_seed(3)
    lazy = layers.Dense(6)
    lazy(torch.zeros(1, 4))
    assert torch.equal(eager.weight, lazy.weight)


def test_dense_applies_to_the_last_axis_of_any_rank() -> None:
    layer = layers.Dense(2, input_shape=(None, 3))
    x = torch.randn(4, 7, 3)
    expected = x @ layer.weight.T + layer.bias
    torch.testing.assert_close(layer(x), expected)
    assert layer(torch.randn(2, 5, 6, 3)).shape == (2, 5, 6, 2)


def test_dense_kernel_init_is_keras_glorot_uniform_and_bias_zeros() -> None:
    torch.manual_seed(0)
    layer = layers.Dense(128, input_shape=(10,))
    limit = math.sqrt(6 / (10 + 128))
    assert layer.weight.abs().max() <= limit
    assert layer.weight.abs().max() > 0.95 * limit
    assert torch.count_nonzero(layer.bias) == 0


def test_dense_without_bias_and_custom_initializer() -> None:
    layer = layers.Dense(3, use_bias=False, kernel_initializer="ones", input_shape=(2,))
    assert layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    torch.testing.assert_close(layer(torch.ones(1, 2)), torch.full((1, 3), 2.0))


def test_a_first_call_under_inference_mode_builds_trainable_parameters() -> None:
    layer = layers.Dense(3)
    with torch.inference_mode():
        layer(torch.randn(2, 4))
    assert not layer.weight.is_inference()
    layer(torch.randn(2, 4)).sum().backward()
    assert layer.weight.grad is not None


def test_dense_builds_on_the_input_dtype() -> None:
    layer = layers.Dense(3)
    y = layer(torch.zeros(2, 4, dtype=torch.float64))
    assert layer.weight.dtype == torch.float64 and y.dtype == torch.float64


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "relu", "tanh"])
def test_dense_activation_protocol(name: str) -> None:
    layer = layers.Dense(4, name, input_shape=(3,))
    x = torch.randn(5, 3)
    assert layer.activation_name == name
    pre = layer.forward_preactivation(x)
    torch.testing.assert_close(activations.get(name)(pre), layer(x))
    torch.testing.assert_close(pre, x @ layer.weight.T + layer.bias)


def test_dense_without_activation_reports_none() -> None:
    layer = layers.Dense(2, input_shape=(3,))
    x = torch.randn(4, 3)
    assert layer.activation_name is None
    torch.testing.assert_close(layer.forward_preactivation(x), layer(x))
    assert layers.Dense(2, "linear").activation_name is None


def test_dense_recognizes_torch_spellings_of_activations() -> None:
    assert layers.Dense(2, torch.sigmoid).activation_name == "sigmoid"
    assert layers.Dense(2, "swish").activation_name == "silu"


def test_lazy_dense_loads_a_state_dict_without_drawing_random_numbers() -> None:
    source = layers.Dense(4, input_shape=(3,))
    target = layers.Dense(4)
    state = torch.get_rng_state()
    target.load_state_dict(source.state_dict())
    assert torch.equal(torch.get_rng_state(), state)
    assert target.built and torch.equal(target.weight, source.weight)
    x = torch.randn(2, 3)
    torch.testing.assert_close(target(x), source(x))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"units": 0},
            ArgumentError,
            "Dense: expected `units` to be a positive int. Received: units=0",
        ),
        ({"units": 2.5}, ArgumentTypeError, "Received: units=2.5 of type float"),
        ({"units": True}, ArgumentTypeError, "Received: units=True of type bool"),
        ({"units": 3, "activation": "relux"}, ArgumentError, "Received: activation='relux'"),
        ({"units": 3, "activation": 3}, ArgumentTypeError, "`activation`"),
        ({"units": 3, "use_bias": 1}, ArgumentTypeError, "expected `use_bias` to be a bool"),
        (
            {"units": 3, "kernel_initializer": "glorot"},
            ArgumentError,
            "kernel_initializer='glorot'",
        ),
        ({"units": 3, "input_shape": 10}, ArgumentTypeError, "Did you mean input_shape=(10,)?"),
        ({"units": 3, "input_shape": (0,)}, ArgumentError, "Received: input_shape=(0,)"),
        ({"units": 3, "name": "a.b"}, ArgumentError, "without '.'"),
        ({"units": 3, "input_dim": 2, "input_shape": (2,)}, ArgumentError, "only one of"),
    ],
)
def test_dense_rejects_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        layers.Dense(**kwargs)


def test_unknown_activation_lists_the_valid_names() -> None:
    with pytest.raises(
        ArgumentError, match=r"Dense: expected `activation` to be one of .*relu.*sigmoid"
    ):
        layers.Dense(3, activation="relux")


# -- Dropout -------------------------------------------------------------------
def test_dropout_respects_train_and_eval() -> None:
    layer = layers.Dropout(0.5)
    x = torch.ones(1000)
    torch.manual_seed(0)
    y = layer(x)
    kept = y != 0
    assert 350 < int(kept.sum()) < 650
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 2.0))
    layer.eval()
    assert torch.equal(layer(x), x)


def test_dropout_draws_from_the_global_rng() -> None:
    layer = layers.Dropout(0.3, seed=7)
    x = torch.ones(50)
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    assert torch.equal(layer(x), first)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_dropout_rejects_rates_outside_zero_one(rate: float) -> None:
    with pytest.raises(ArgumentError, match=r"Dropout: expected `rate` to be a number in \[0, 1\]"):
        layers.Dropout(rate)


def test_dropout_rejects_a_non_int_seed() -> None:
    with pytest.raises(ArgumentTypeError, match="Dropout: expected `seed` to be an int or None"):
        layers.Dropout(0.1, seed="1")  # type: ignore[arg-type]


# -- Flatten, Activation ---------------------------------------------------------
def test_flatten_keeps_the_batch_axis_in_channels_last_order() -> None:
    x = torch.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    y = layers.Flatten()(x)
    assert y.shape == (2, 60)
    assert torch.equal(y[1], x[1].reshape(-1))
    assert layers.Flatten()(torch.zeros(3)).shape == (3, 1)


def test_activation_layer_protocol_is_the_identity_before() -> None:
    layer = layers.Activation("softmax")
    x = torch.randn(3, 4)
    assert layer.activation_name == "softmax"
    assert torch.equal(layer.forward_preactivation(x), x)
    torch.testing.assert_close(layer(x), torch.softmax(x, dim=-1))
    assert torch.equal(layers.Activation(None)(x), x)


# -- Embedding, Input ----------------------------------------------------------
def test_embedding_shape_init_and_float_ids() -> None:
    torch.manual_seed(0)
    layer = layers.Embedding(50, 8)
    assert layer.weight.shape == (50, 8)
    assert layer.weight.abs().max() <= 0.05
    assert layer.weight.abs().max() > 0.045
    ids = torch.tensor([[1, 2, 3], [4, 5, 49]])
    out = layer(ids)
    assert out.shape == (2, 3, 8)
    assert torch.equal(out[1, 2], layer.weight[49])
    assert torch.equal(layer(ids.double()), out)


def test_embedding_rejects_bad_sizes() -> None:
    with pytest.raises(
        ArgumentError, match="Embedding: expected `output_dim` to be a positive int"
    ):
        layers.Embedding(10, 0)
    assert layers.Embedding(10, 2, input_length=5).input_shape == (5,)


def test_input_declares_the_shape() -> None:
    assert layers.Input((28, 28, 1)).input_shape == (28, 28, 1)
    assert isinstance(layers.Input((3,), dtype=torch.long), layers.InputLayer)
    with pytest.raises(
        ArgumentTypeError, match=r"InputLayer: expected `dtype` to be a torch.dtype"
    ):
        layers.Input((3,), dtype="int64")  # type: ignore[arg-type]
