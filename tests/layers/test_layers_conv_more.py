"""Transposed, separable, depthwise and 3-D convolutions; average and 3-D pooling."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError


@pytest.mark.parametrize(
    ("kernel", "strides", "padding", "output_padding", "size", "expected"),
    [
        (3, 2, "same", None, 5, 10),
        (3, 2, "valid", None, 5, 11),  # 5*2 + max(3-2, 0)
        (1, 3, "valid", None, 5, 15),  # kernel < stride: 5*3
        (4, 2, "same", None, 5, 10),
        (3, 2, "valid", 1, 5, 12),  # (5-1)*2 + 3 + 1
        (3, 2, "same", 1, 5, 10),  # (5-1)*2 + 3 - 2 + 1
    ],
)
def test_transposed_convolution_output_sizes_follow_keras(
    kernel, strides, padding, output_padding, size, expected
):
    layer = layers.Conv2DTranspose(
        2, kernel, strides=strides, padding=padding, output_padding=output_padding
    )
    assert layer(torch.zeros(1, size, size, 3)).shape == (1, expected, expected, 2)
    layer1 = layers.Conv1DTranspose(
        2, kernel, strides=strides, padding=padding, output_padding=output_padding
    )
    assert layer1(torch.zeros(1, size, 3)).shape == (1, expected, 2)


def test_transposed_convolution_values_are_tensorflows():
    layer = layers.Conv2DTranspose(
        1, 3, strides=2, padding="same", use_bias=False, kernel_initializer="ones"
    )
    out = layer(torch.ones(1, 2, 2, 1))[0, :, :, 0]
    row = [1.0, 1.0, 2.0, 1.0]
    assert out.tolist() == [row, row, [2 * v for v in row], row]
    assert layers.Conv3DTranspose(2, 2, strides=2)(torch.zeros(1, 2, 3, 4, 3)).shape == (
        1,
        4,
        6,
        8,
        2,
    )
    with pytest.raises(ArgumentError, match="output_padding"):
        layers.Conv2DTranspose(1, 3, strides=2, output_padding=2)


def test_transposed_convolution_kernel_layout_and_loading():
    layer = layers.Conv2DTranspose(4, 3, input_shape=(5, 5, 2))
    assert layer.weight.shape == (2, 4, 3, 3)
    assert layer._keras_layout("weight", layer.weight).shape == (3, 3, 4, 2)
    fresh = layers.Conv2DTranspose(4, 3)
    fresh.load_state_dict(layer.state_dict())
    x = torch.randn(1, 5, 5, 2)
    assert torch.allclose(fresh(x), layer(x))


def test_depthwise_orders_channels_as_tensorflow():
    layer = layers.DepthwiseConv2D(1, depth_multiplier=2, use_bias=False, input_shape=(1, 1, 2))
    with torch.no_grad():
        layer._keras_layout("weight", layer.weight).copy_(
            torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        )
    out = layer(torch.tensor([[[[10.0, 100.0]]]]))
    assert out.flatten().tolist() == [10.0, 20.0, 300.0, 400.0]
    assert layers.DepthwiseConv1D(3, padding="same")(torch.zeros(1, 5, 3)).shape == (1, 5, 3)


def test_separable_is_depthwise_then_pointwise():
    layer = layers.SeparableConv2D(8, 3, padding="same", depth_multiplier=2)
    x = torch.randn(1, 5, 5, 3)
    y = layer(x)
    assert y.shape == (1, 5, 5, 8)
    assert layer.weight.shape == (6, 1, 3, 3) and layer.pointwise_weight.shape == (8, 6, 1, 1)
    depth = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), layer.weight, None, 1, 1, 1, 3)
    expected = torch.nn.functional.conv2d(depth, layer.pointwise_weight, layer.bias)
    assert torch.allclose(y, expected.permute(0, 2, 3, 1), atol=1e-5)
    assert layers.SeparableConv1D(4, 3)(torch.zeros(1, 5, 3)).shape == (1, 3, 4)


def test_conv3d_and_3d_pooling():
    assert layers.Conv3D(4, 3, padding="same")(torch.zeros(2, 5, 6, 7, 3)).shape == (2, 5, 6, 7, 4)
    assert layers.Conv3D(4, 3)(torch.zeros(2, 5, 6, 7, 3)).shape == (2, 3, 4, 5, 4)
    assert layers.MaxPooling3D()(torch.zeros(1, 4, 4, 4, 2)).shape == (1, 2, 2, 2, 2)
    assert layers.AveragePooling3D()(torch.zeros(1, 4, 4, 4, 2)).shape == (1, 2, 2, 2, 2)
    assert layers.GlobalAveragePooling3D()(torch.ones(2, 3, 4, 5, 6)).tolist() == [[1.0] * 6] * 2
    assert layers.GlobalMaxPooling3D(keepdims=True)(torch.ones(2, 3, 4, 5, 6)).shape == (
        2,
        1,
        1,
        1,
        6,
    )


def test_average_pooling_same_does_not_count_padding():
    x = torch.arange(5.0).reshape(1, 5, 1)
    assert layers.AveragePooling1D(2, padding="same")(x).flatten().tolist() == [0.5, 2.5, 4.0]
    assert layers.AveragePooling1D()(x).flatten().tolist() == [0.5, 2.5]
    img = torch.ones(1, 3, 3, 1)
    assert (
        layers.AveragePooling2D(3, strides=1, padding="same")(img).flatten().tolist() == [1.0] * 9
    )
    assert layers.AveragePooling2D()(torch.zeros(2, 7, 7, 3)).shape == (2, 3, 3, 3)


def test_global_average_pooling_1d_ignores_masked_steps():
    emb = layers.Embedding(5, 2, mask_zero=True)
    ids = torch.tensor([[1, 2, 0, 0]])
    pooled = layers.GlobalAveragePooling1D()(emb(ids))
    assert torch.allclose(pooled, emb.weight[[1, 2]].mean(0, keepdim=True))
