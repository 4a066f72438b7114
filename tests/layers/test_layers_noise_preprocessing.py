"""SpatialDropout, GaussianNoise/Dropout, Rescaling, Normalization.adapt, CategoryEncoding, Resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, DataError


def test_spatial_dropout_drops_whole_channels_in_training_only():
    torch.manual_seed(0)
    layer = layers.SpatialDropout1D(0.5)
    out = layer(torch.ones(4, 6, 8))
    per_channel = out.amax(dim=1) == out.amin(dim=1)
    assert per_channel.all()
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(layer.eval()(torch.ones(4, 6, 8)), torch.ones(4, 6, 8))
    out2 = layers.SpatialDropout2D(0.5)(torch.ones(2, 3, 3, 4))
    assert (out2.amax(dim=(1, 2)) == out2.amin(dim=(1, 2))).all()


def test_gaussian_layers_are_identity_in_eval_and_noisy_in_training():
    torch.manual_seed(1)
    x = torch.ones(1000)
    assert not torch.equal(layers.GaussianNoise(0.5)(x), x)
    assert abs(float(layers.GaussianNoise(0.5)(x).std()) - 0.5) < 0.1
    assert abs(float(layers.GaussianDropout(0.5)(x).std()) - 1.0) < 0.15
    assert torch.equal(layers.GaussianNoise(0.5).eval()(x), x)
    with pytest.raises(ArgumentError, match="rate"):
        layers.GaussianDropout(1.0)


def test_rescaling_and_normalization_adapt():
    assert layers.Rescaling(1 / 255, offset=-1)(torch.tensor([255])).tolist() == [0.0]
    norm = layers.Normalization()
    data = np.array([[0.0, 10.0], [2.0, 30.0]])
    norm.adapt(data)
    assert norm.mean.tolist() == [1.0, 20.0] and norm.variance.tolist() == [1.0, 100.0]
    assert norm(torch.tensor([[2.0, 30.0]])).tolist() == [[1.0, 1.0]]
    batches = [data[:1], data[1:]]
    streamed = layers.Normalization()
    streamed.adapt(batches)
    assert streamed.mean.tolist() == [1.0, 20.0]
    inverse = layers.Normalization(mean=[1.0, 20.0], variance=[1.0, 100.0], invert=True)
    assert inverse(torch.tensor([[1.0, 1.0]])).tolist() == [[2.0, 30.0]]


def test_category_encoding_modes_and_errors():
    ids = torch.tensor([[0, 1], [3, 3]])
    assert layers.CategoryEncoding(4)(ids).tolist() == [[1, 1, 0, 0], [0, 0, 0, 1]]
    assert layers.CategoryEncoding(4, output_mode="count")(ids).tolist() == [
        [1, 1, 0, 0],
        [0, 0, 0, 2],
    ]
    assert layers.CategoryEncoding(3, output_mode="one_hot")(torch.tensor([[2], [0]])).tolist() == [
        [0, 0, 1],
        [1, 0, 0],
    ]
    with pytest.raises(DataError, match=r"\[0, 3\]"):
        layers.CategoryEncoding(4)(torch.tensor([[4]]))


def test_resizing_shapes():
    assert layers.Resizing(4, 6)(torch.zeros(2, 8, 8, 3)).shape == (2, 4, 6, 3)
    assert layers.Resizing(4, 6, interpolation="nearest")(torch.zeros(8, 8, 3)).shape == (4, 6, 3)
    assert torch.allclose(layers.Resizing(2, 2)(torch.ones(1, 4, 4, 1)), torch.ones(1, 2, 2, 1))


def test_normalization_before_adapt_is_the_identity_and_vectors_follow_the_axis():
    layer = layers.Normalization()
    x = torch.randn(3, 4)
    assert torch.allclose(layer(x), x)
    layer.adapt(np.array([[0.0] * 4, [2.0] * 4]))
    assert torch.allclose(layer(torch.ones(1, 4)), torch.zeros(1, 4))
    middle = layers.Normalization(axis=1, mean=[0.0, 10.0], variance=[1.0, 4.0])
    out = middle(torch.tensor([[[0.0, 0.0], [10.0, 10.0]]]))
    assert out.tolist() == [[[0.0, 0.0], [0.0, 0.0]]]
