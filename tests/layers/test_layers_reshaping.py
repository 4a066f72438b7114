"""Reshape, Permute, RepeatVector, UpSampling, ZeroPadding, Cropping, Identity: Keras's shapes."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, DataError


def test_reshape_with_and_without_minus_one():
    x = torch.arange(24.0).reshape(2, 12)
    assert layers.Reshape((3, 4))(x).shape == (2, 3, 4)
    assert layers.Reshape((-1, 2))(x).shape == (2, 6, 2)
    assert torch.equal(layers.Reshape((3, 4))(x)[1, 2], torch.tensor([20.0, 21.0, 22.0, 23.0]))
    with pytest.raises(DataError, match="cannot reshape"):
        layers.Reshape((5,))(x)
    with pytest.raises(ArgumentError, match="at most one -1"):
        layers.Reshape((-1, -1))


def test_permute_counts_axes_from_one():
    x = torch.randn(2, 3, 4)
    assert torch.equal(layers.Permute((2, 1))(x), x.transpose(1, 2))
    with pytest.raises(ArgumentError, match="permutation"):
        layers.Permute((0, 1))
    with pytest.raises(DataError, match="rank 3"):
        layers.Permute((2, 1))(torch.zeros(2, 3, 4, 5))


def test_repeat_vector():
    x = torch.tensor([[1.0, 2.0]])
    out = layers.RepeatVector(3)(x)
    assert out.tolist() == [[[1.0, 2.0]] * 3]
    with pytest.raises(DataError, match=r"\(batch, features\)"):
        layers.RepeatVector(3)(torch.zeros(1, 2, 3))


def test_upsampling_nearest_repeats_and_bilinear_matches_half_pixel_resize():
    x = torch.tensor([[[1.0], [2.0]]])
    assert layers.UpSampling1D(2)(x).flatten().tolist() == [1.0, 1.0, 2.0, 2.0]
    img = torch.arange(4.0).reshape(1, 2, 2, 1)
    up = layers.UpSampling2D()(img)
    assert up.shape == (1, 4, 4, 1)
    assert up[0, :, :, 0].tolist()[0] == [0.0, 0.0, 1.0, 1.0]
    bilinear = layers.UpSampling2D(size=(2, 3), interpolation="bilinear")(img)
    assert bilinear.shape == (1, 4, 6, 1)
    # Half-pixel centers: the first row starts at the corner value and ends at the other.
    assert bilinear[0, 0, 0, 0].item() == pytest.approx(0.0)
    assert bilinear[0, 0, -1, 0].item() == pytest.approx(1.0)
    with pytest.raises(ArgumentError, match="interpolation"):
        layers.UpSampling2D(interpolation="area")


def test_zero_padding_and_cropping_specs():
    x = torch.ones(1, 3, 2)
    padded = layers.ZeroPadding1D((1, 2))(x)
    assert padded.shape == (1, 6, 2) and padded[0, :, 0].tolist() == [0, 1, 1, 1, 0, 0]
    img = torch.ones(1, 3, 3, 2)
    assert layers.ZeroPadding2D()(img).shape == (1, 5, 5, 2)
    assert layers.ZeroPadding2D((1, 2))(img).shape == (1, 5, 7, 2)
    assert layers.ZeroPadding2D(((1, 0), (2, 1)))(img).shape == (1, 4, 6, 2)
    seq = torch.arange(6.0).reshape(1, 6, 1)
    assert layers.Cropping1D((1, 2))(seq).flatten().tolist() == [1.0, 2.0, 3.0]
    assert layers.Cropping2D(((1, 0), (2, 1)))(torch.ones(1, 5, 6, 2)).shape == (1, 4, 3, 2)
    assert layers.Cropping2D(1)(torch.ones(1, 5, 6, 2)).shape == (1, 3, 4, 2)
    with pytest.raises(DataError, match="leaves nothing"):
        layers.Cropping1D((3, 3))(seq)
    with pytest.raises(ArgumentError, match="padding"):
        layers.ZeroPadding2D(((1, -1), (0, 0)))


def test_identity():
    x = torch.randn(2, 3)
    assert layers.Identity()(x) is x


def test_input_layer_accepts_a_scalar_shape_and_a_model_trains_on_scalars():
    import numpy as np

    from epochal import keras

    assert layers.InputLayer(()).input_shape == ()
    with pytest.raises(ArgumentError, match="positive ints"):
        layers.InputLayer((0,))
    model = keras.Sequential(
        [keras.Input(shape=()), layers.Lambda(lambda x: x[:, None]), layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.arange(8, dtype="float32")
    model.fit(x, x[:, None], epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (8, 1)
