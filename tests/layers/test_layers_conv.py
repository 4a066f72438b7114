"""Conv1D/Conv2D and pooling on channels-last data: shapes, TF "same" padding, values."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, ArgumentTypeError


def naive_conv2d(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """Channels-last cross-correlation, Keras kernel layout (kh, kw, in, out), no padding."""
    n, h, w, _ = x.shape
    kh, kw, _, out = kernel.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    y = torch.zeros(n, oh, ow, out, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            y[:, i, j, :] = torch.einsum("nabc,abcf->nf", patch, kernel)
    return y


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [
        (28, 3, 1, "valid", 26),
        (28, 3, 1, "same", 28),
        (28, 4, 1, "same", 28),
        (28, 3, 2, "valid", 13),
        (28, 3, 2, "same", 14),
        (7, 3, 2, "same", 4),
        (8, 5, 3, "same", 3),
        (5, 1, 2, "valid", 3),
    ],
)
def test_conv2d_output_shapes(
    size: int, kernel: int, stride: int, padding: Any, expected: int
) -> None:
    layer = layers.Conv2D(6, kernel, strides=stride, padding=padding)
    y = layer(torch.randn(2, size, size + 1, 3))
    expected_w = (
        math.ceil((size + 1) / stride) if padding == "same" else (size + 1 - kernel) // stride + 1
    )
    assert y.shape == (2, expected, expected_w, 6)


def test_conv2d_matches_a_naive_channels_last_convolution() -> None:
    layer = layers.Conv2D(4, (3, 2), strides=2, input_shape=(9, 8, 3))
    x = torch.randn(2, 9, 8, 3, dtype=torch.float64)
    layer.double()
    keras_kernel = layer.weight.permute(2, 3, 1, 0)  # (kh, kw, in, out)
    expected = naive_conv2d(x, keras_kernel, 2) + layer.bias
    torch.testing.assert_close(layer(x), expected)


def test_conv2d_same_padding_puts_the_extra_row_after_like_tensorflow() -> None:
    # 4x4 input, 3x3 kernel, stride 2: TF pads 0 before and 1 after.
    layer = layers.Conv2D(
        1, 3, strides=2, padding="same", use_bias=False, kernel_initializer="ones"
    )
    y = layer(torch.ones(1, 4, 4, 1))[0, :, :, 0]
    assert torch.equal(y, torch.tensor([[9.0, 6.0], [6.0, 4.0]]))
    # Even kernel, stride 1: one padded row/column, after.
    layer = layers.Conv2D(1, 2, padding="same", use_bias=False, kernel_initializer="ones")
    y = layer(torch.ones(1, 3, 3, 1))[0, :, :, 0]
    assert torch.equal(y, torch.tensor([[4.0, 4.0, 2.0], [4.0, 4.0, 2.0], [2.0, 2.0, 1.0]]))
    # Odd kernel, stride 1: symmetric.
    layer = layers.Conv2D(1, 3, padding="same", use_bias=False, kernel_initializer="ones")
    y = layer(torch.ones(1, 3, 3, 1))[0, :, :, 0]
    assert torch.equal(y, torch.tensor([[4.0, 6.0, 4.0], [6.0, 9.0, 6.0], [4.0, 6.0, 4.0]]))


def test_conv2d_is_lazy_in_channels_and_uses_keras_fans() -> None:
    layer = layers.Conv2D(32, 3)
    assert list(layer.parameters()) == []
    torch.manual_seed(0)
    layer(torch.zeros(1, 5, 5, 16))
    assert layer.weight.shape == (32, 16, 3, 3)
    limit = math.sqrt(6 / (3 * 3 * 16 + 3 * 3 * 32))
    assert limit * 0.95 < layer.weight.abs().max() <= limit


def test_conv2d_dilation_and_activation_protocol() -> None:
    layer = layers.Conv2D(2, 3, dilation_rate=2, padding="same", activation="relu")
    x = torch.randn(2, 9, 9, 3)
    y = layer(x)
    assert y.shape == (2, 9, 9, 2)
    assert layer.activation_name == "relu"
    torch.testing.assert_close(torch.relu(layer.forward_preactivation(x)), y)


def test_conv2d_loads_into_an_unbuilt_layer() -> None:
    source = layers.Conv2D(4, 3, input_shape=(6, 6, 2))
    target = layers.Conv2D(4, 3)
    target.load_state_dict(source.state_dict())
    x = torch.randn(1, 6, 6, 2)
    torch.testing.assert_close(target(x), source(x))


@pytest.mark.parametrize(
    ("padding", "stride", "expected"),
    [("valid", 1, 8), ("same", 1, 10), ("causal", 1, 10), ("same", 3, 4)],
)
def test_conv1d_output_shapes(padding: Any, stride: int, expected: int) -> None:
    y = layers.Conv1D(5, 3, strides=stride, padding=padding)(torch.randn(2, 10, 4))
    assert y.shape == (2, expected, 5)


def test_conv1d_causal_output_depends_only_on_the_past() -> None:
    layer = layers.Conv1D(1, 3, padding="causal", use_bias=False, kernel_initializer="ones")
    x = torch.zeros(1, 6, 1)
    x[0, 3, 0] = 1.0
    y = layer(x)[0, :, 0]
    assert torch.equal(y, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"filters": 0, "kernel_size": 3},
            ArgumentError,
            "Conv2D: expected `filters` to be a positive int",
        ),
        (
            {"filters": 2, "kernel_size": (3, 3, 3)},
            ArgumentError,
            "`kernel_size` to be a positive int or a tuple of 2",
        ),
        ({"filters": 2, "kernel_size": "3"}, ArgumentTypeError, "kernel_size='3' of type str"),
        (
            {"filters": 2, "kernel_size": 3, "padding": "causal"},
            ArgumentError,
            "one of 'valid', 'same'. Received: padding='causal'",
        ),
        (
            {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
            ArgumentError,
            "both > 1",
        ),
    ],
)
def test_conv2d_rejects_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        layers.Conv2D(**kwargs)


# -- pooling --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "pool", "strides", "padding", "expected"),
    [
        (7, 2, None, "valid", 3),
        (7, 2, None, "same", 4),
        (8, 3, 1, "valid", 6),
        (8, 3, 1, "same", 8),
        (9, 3, 2, "valid", 4),
    ],
)
def test_max_pooling2d_output_shapes(
    size: int, pool: int, strides: int | None, padding: Any, expected: int
) -> None:
    y = layers.MaxPooling2D(pool, strides, padding)(torch.randn(2, size, size, 3))
    assert y.shape == (2, expected, expected, 3)


def test_max_pooling2d_values_and_same_padding_ignores_the_pad() -> None:
    x = -torch.arange(1, 10.0).reshape(1, 3, 3, 1)  # all negative: zero padding would win
    y = layers.MaxPooling2D(2, padding="same")(x)[0, :, :, 0]
    assert torch.equal(y, torch.tensor([[-1.0, -3.0], [-7.0, -9.0]]))
    y = layers.MaxPooling2D()(torch.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    assert torch.equal(y, torch.tensor([[5.0, 7.0], [13.0, 15.0]]))


def test_max_pooling1d_and_global_pooling() -> None:
    x = torch.randn(2, 9, 4)
    assert layers.MaxPooling1D()(x).shape == (2, 4, 4)
    torch.testing.assert_close(layers.GlobalAveragePooling1D()(x), x.mean(dim=1))
    torch.testing.assert_close(layers.GlobalMaxPooling1D()(x), x.amax(dim=1))
    images = torch.randn(2, 5, 6, 3)
    torch.testing.assert_close(layers.GlobalAveragePooling2D()(images), images.mean(dim=(1, 2)))
    assert layers.GlobalAveragePooling2D(keepdims=True)(images).shape == (2, 1, 1, 3)
    torch.testing.assert_close(layers.GlobalMaxPooling2D()(images), images.amax(dim=(1, 2)))


def test_pooling_rejects_bad_arguments() -> None:
    with pytest.raises(ArgumentError, match="MaxPooling2D: expected `pool_size`"):
        layers.MaxPooling2D((2, 0))
    with pytest.raises(ArgumentError, match="MaxPooling2D: expected `padding` to be one of"):
        layers.MaxPooling2D(padding="full")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="GlobalAveragePooling2D: expected `keepdims`"):
        layers.GlobalAveragePooling2D(keepdims=None)  # type: ignore[arg-type]
