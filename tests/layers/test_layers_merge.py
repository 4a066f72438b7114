"""Merge layers and their lowercase functions: values, shapes, errors."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, DataError

A = torch.tensor([[1.0, -2.0, 3.0]])
B = torch.tensor([[4.0, 5.0, -6.0]])
C = torch.tensor([[0.5, 0.5, 0.5]])


@pytest.mark.parametrize(
    ("layer", "function", "expected"),
    [
        (layers.Add, layers.add, [[5.5, 3.5, -2.5]]),
        (layers.Multiply, layers.multiply, [[2.0, -5.0, -9.0]]),
        (layers.Average, layers.average, [[5.5 / 3, 3.5 / 3, -2.5 / 3]]),
        (layers.Maximum, layers.maximum, [[4.0, 5.0, 3.0]]),
        (layers.Minimum, layers.minimum, [[0.5, -2.0, -6.0]]),
    ],
)
def test_elementwise_merges_of_three_inputs(layer, function, expected):
    assert torch.allclose(layer()([A, B, C]), torch.tensor(expected))
    assert torch.allclose(function([A, B, C]), torch.tensor(expected))


def test_subtract_takes_exactly_two():
    assert layers.subtract([A, B]).tolist() == [[-3.0, -7.0, 9.0]]
    with pytest.raises(DataError, match="exactly 2"):
        layers.Subtract()([A, B, C])


def test_merge_layers_refuse_a_single_tensor_and_one_item_lists():
    with pytest.raises(DataError, match="list of tensors"):
        layers.Add()(A)
    with pytest.raises(DataError, match="at least 2"):
        layers.Add()([A])


def test_concatenate_axis_and_errors():
    assert layers.Concatenate()([torch.zeros(2, 3), torch.zeros(2, 4)]).shape == (2, 7)
    assert layers.concatenate([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)], axis=1).shape == (
        2,
        8,
        4,
    )
    with pytest.raises(DataError, match="shapes agree"):
        layers.Concatenate()([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)])
    with pytest.raises(ArgumentError, match="batch axis"):
        layers.Concatenate(axis=0)


def test_dot_of_vectors_is_n_by_1_and_of_sequences_is_batch_matmul():
    assert layers.Dot(axes=1)([A, B]).tolist() == [[4.0 - 10.0 - 18.0]]
    x, y = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    out = layers.dot([x, y], axes=2)
    assert out.shape == (2, 3, 5)
    assert torch.allclose(out, x @ y.transpose(1, 2), atol=1e-6)
    out = layers.Dot(axes=(1, 1))([torch.randn(2, 3, 4), torch.randn(2, 3, 6)])
    assert out.shape == (2, 4, 6)


def test_dot_normalize_gives_cosine_similarity():
    out = layers.Dot(axes=-1, normalize=True)(
        [torch.tensor([[3.0, 4.0]]), torch.tensor([[4.0, 3.0]])]
    )
    assert out.item() == pytest.approx(24 / 25)


def test_dot_size_mismatch_is_a_data_error():
    with pytest.raises(DataError, match="equal size"):
        layers.Dot(axes=1)([torch.zeros(2, 3), torch.zeros(2, 4)])


def test_mismatched_shapes_and_separate_arguments_are_data_errors():
    with pytest.raises(DataError, match=r"Received shapes: \(2, 3\), \(2, 4\)"):
        layers.Add()([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(DataError, match="one list of tensors"):
        layers.Multiply()(A, B)
    # Broadcasting as torch broadcasts: a (1, T, D) positional table added to (N, T, D).
    assert layers.Add()([torch.zeros(4, 3, 2), torch.ones(1, 3, 2)]).shape == (4, 3, 2)
