"""LayerNormalization, GroupNormalization, UnitNormalization: Keras's formulas and defaults."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError


def test_layer_normalization_default_epsilon_is_keras_1e_3():
    x = torch.tensor([[1.0, 3.0]])
    y = layers.LayerNormalization()(x)
    assert torch.allclose(y, torch.tensor([[-1.0, 1.0]]) / (1 + 1e-3) ** 0.5)


def test_layer_normalization_over_several_axes_and_a_middle_axis():
    x = torch.randn(2, 3, 4)
    ln = layers.LayerNormalization(axis=[1, 2])
    assert torch.allclose(ln(x), torch.nn.functional.layer_norm(x, (3, 4), eps=1e-3), atol=1e-6)
    assert ln.weight.shape == (3, 4)
    middle = layers.LayerNormalization(axis=1)
    y = middle(x)
    assert middle.weight.shape == (3,)
    assert torch.allclose(y.mean(1), torch.zeros(2, 4), atol=1e-6)


def test_layer_normalization_rms_scaling_center_scale_and_loading():
    x = torch.tensor([[3.0, 4.0]])
    y = layers.LayerNormalization(rms_scaling=True, epsilon=1e-6)(x)
    assert torch.allclose(y, x / (12.5**0.5), atol=1e-5)
    assert layers.LayerNormalization(center=False, scale=False)(x).shape == (1, 2)
    trained = layers.LayerNormalization(input_shape=(2,))
    fresh = layers.LayerNormalization()
    fresh.load_state_dict(trained.state_dict())
    assert fresh.weight.shape == (2,)
    with pytest.raises(ArgumentError, match="batch axis"):
        layers.LayerNormalization(axis=0)


def test_group_normalization_matches_per_group_statistics():
    x = torch.randn(2, 5, 5, 4)
    y = layers.GroupNormalization(groups=2)(x)
    group = x[..., :2]
    expected = (group - group.mean(dim=(1, 2, 3), keepdim=True)) / torch.sqrt(
        group.var(dim=(1, 2, 3), keepdim=True, unbiased=False) + 1e-3
    )
    assert torch.allclose(y[..., :2], expected, atol=1e-5)
    with pytest.raises(ArgumentError, match="divide"):
        layers.GroupNormalization(groups=3)(x)


def test_unit_normalization():
    assert torch.allclose(
        layers.UnitNormalization()(torch.tensor([[3.0, 4.0]])), torch.tensor([[0.6, 0.8]])
    )
    assert layers.UnitNormalization()(torch.zeros(1, 2)).tolist() == [[0.0, 0.0]]
