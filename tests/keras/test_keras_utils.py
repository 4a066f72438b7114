"""`epochal.keras.utils` and the Keras initializer classes."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import initializers, layers
from epochal.keras.utils import normalize, set_random_seed, to_categorical


def test_to_categorical_one_hot_encodes():
    result = to_categorical([0, 2, 1, 2])
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, np.eye(3, dtype=np.float32)[[0, 2, 1, 2]])
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert to_categorical(np.zeros((2, 5), dtype=np.int64), num_classes=3).shape == (2, 5, 3)
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])


def test_to_categorical_keeps_tensors_tensors():
    result = to_categorical(torch.tensor([1, 0]), num_classes=2)
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32
    assert torch.equal(result, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))


@pytest.mark.parametrize(
    ("y", "num_classes", "error", "message"),
    [
        ([0, 3], 3, ArgumentError, r"labels in \[0, 2\]. Received labels in \[0, 3\]"),
        ([-1, 0], None, ArgumentError, "Received labels in"),
        ([0.5, 1.0], None, ArgumentError, "integer class labels"),
        (["a"], None, ArgumentError, "integer class labels"),
        ([0, 1], 0, ArgumentError, "`num_classes` to be a positive int"),
        ([0, 1], 2.0, ArgumentTypeError, "`num_classes` to be a positive int"),
    ],
)
def test_to_categorical_rejects_bad_labels(y, num_classes, error, message):
    with pytest.raises(error, match=message):
        to_categorical(y, num_classes=num_classes)


def test_set_random_seed_seeds_python_numpy_and_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    set_random_seed(123)
    first = draw()
    set_random_seed(123)
    assert draw() == first
    set_random_seed(124)
    assert draw() != first
    with pytest.raises(ArgumentTypeError, match="`seed` to be an int"):
        set_random_seed(1.5)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="`seed` >= 0"):
        set_random_seed(-1)


def test_normalize_scales_to_unit_norm():
    values = normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(values, [[0.6, 0.8], [0.0, 0.0]])
    torch.testing.assert_close(normalize(torch.tensor([[0.0, 2.0]])), torch.tensor([[0.0, 1.0]]))


def test_seeded_initializers_repeat_and_ignore_the_global_rng():
    init = initializers.HeNormal(seed=7)
    first = init((64, 32))
    torch.manual_seed(0)
    again = init(torch.empty(64, 32))
    assert torch.equal(first, again)
    assert not torch.equal(first, initializers.HeNormal(seed=8)((64, 32)))
    # He normal: truncated normal with variance 2 / fan_in.
    assert first.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.1)


def test_initializer_classes_follow_keras_formulas():
    limit = math.sqrt(6 / (100 + 50))
    values = initializers.GlorotUniform(seed=0)((100, 50))
    assert values.abs().max().item() <= limit
    assert values.abs().max().item() > 0.9 * limit
    assert torch.equal(initializers.Constant(0.5)((2, 2)), torch.full((2, 2), 0.5))
    assert torch.equal(initializers.Zeros()((3,)), torch.zeros(3))
    assert torch.equal(initializers.Ones()((3,)), torch.ones(3))
    uniform = initializers.RandomUniform(-1.0, 1.0, seed=0)((1000,))
    assert -1.0 <= uniform.min().item() < -0.9 and 0.9 < uniform.max().item() <= 1.0
    with pytest.raises(ArgumentTypeError, match="`seed` to be an int"):
        initializers.GlorotNormal(seed="0")  # type: ignore[arg-type]


def test_layers_take_initializer_instances():
    torch.manual_seed(0)
    a = layers.Dense(4, kernel_initializer=initializers.GlorotUniform(seed=3), input_shape=(5,))
    torch.manual_seed(1)
    b = layers.Dense(4, kernel_initializer=initializers.GlorotUniform(seed=3), input_shape=(5,))
    assert torch.equal(a.weight, b.weight)
    expected = initializers.GlorotUniform(seed=3)((5, 4))  # Keras's (in, out) kernel layout
    assert torch.equal(a.weight, expected.T)
