"""keras.ops: numpy's results with Keras's argument names, on tensors, numpy and numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from epochal.errors import ArgumentError, ArgumentTypeError, EpochalError
from epochal.keras import ops

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype(np.float32)
B = RNG.normal(size=(3, 4)).astype(np.float32)
P = RNG.uniform(0.5, 2.0, size=(3, 4)).astype(np.float32)
V = RNG.normal(size=(4,)).astype(np.float32)
T3 = RNG.normal(size=(2, 3, 4)).astype(np.float32)


def close(got, want, atol=1e-5):
    got = ops.convert_to_numpy(got)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=atol)


UNARY = [
    ("abs", np.abs, A),
    ("absolute", np.abs, A),
    ("negative", np.negative, A),
    ("square", np.square, A),
    ("sqrt", np.sqrt, P),
    ("rsqrt", lambda x: 1 / np.sqrt(x), P),
    ("exp", np.exp, A),
    ("expm1", np.expm1, A),
    ("log", np.log, P),
    ("log1p", np.log1p, P),
    ("log2", np.log2, P),
    ("log10", np.log10, P),
    ("sign", np.sign, A),
    ("floor", np.floor, A * 3),
    ("ceil", np.ceil, A * 3),
    ("trunc", np.trunc, A * 3),
    ("sin", np.sin, A),
    ("cos", np.cos, A),
    ("tan", np.tan, A),
    ("arctan", np.arctan, A),
    ("sinh", np.sinh, A),
    ("cosh", np.cosh, A),
    ("reciprocal", np.reciprocal, P),
    ("erf", np.vectorize(math.erf), A),
    ("isnan", np.isnan, np.array([1.0, np.nan, np.inf])),
    ("isinf", np.isinf, np.array([1.0, np.nan, np.inf])),
    ("isfinite", np.isfinite, np.array([1.0, np.nan, np.inf])),
    ("logical_not", np.logical_not, np.array([0.0, 1.0, 2.0])),
    ("relu", lambda x: np.maximum(x, 0), A),
    ("relu6", lambda x: np.clip(x, 0, 6), A * 10),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), A),
    ("tanh", np.tanh, A),
    ("softplus", lambda x: np.log1p(np.exp(x)), A),
    ("softsign", lambda x: x / (1 + np.abs(x)), A),
    ("silu", lambda x: x / (1 + np.exp(-x)), A),
    ("swish", lambda x: x / (1 + np.exp(-x)), A),
    ("elu", lambda x: np.where(x > 0, x, np.expm1(x)), A),
    ("log_sigmoid", lambda x: -np.log1p(np.exp(-x)), A),
    ("hard_sigmoid", lambda x: np.clip(x + 3, 0, 6) / 6, A * 4),
    ("hard_silu", lambda x: x * np.clip(x + 3, 0, 6) / 6, A * 4),
]


@pytest.mark.parametrize(("name", "ref", "x"), UNARY, ids=[u[0] for u in UNARY])
def test_unary_ops_match_numpy_on_numpy_and_tensors(name, ref, x):
    op = getattr(ops, name)
    close(op(x), ref(x))
    out = op(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor)
    close(out, ref(x))


BINARY = [
    ("add", np.add),
    ("subtract", np.subtract),
    ("multiply", np.multiply),
    ("divide", np.divide),
    ("true_divide", np.true_divide),
    ("power", lambda a, b: np.power(np.abs(a), b)),
    ("maximum", np.maximum),
    ("minimum", np.minimum),
    ("arctan2", np.arctan2),
    ("hypot", np.hypot),
    ("logaddexp", np.logaddexp),
    ("equal", np.equal),
    ("not_equal", np.not_equal),
    ("less", np.less),
    ("less_equal", np.less_equal),
    ("greater", np.greater),
    ("greater_equal", np.greater_equal),
    ("logical_and", lambda a, b: np.logical_and(a > 0, b > 0)),
    ("logical_or", lambda a, b: np.logical_or(a > 0, b > 0)),
    ("logical_xor", lambda a, b: np.logical_xor(a > 0, b > 0)),
]


@pytest.mark.parametrize(("name", "ref"), BINARY, ids=[b[0] for b in BINARY])
def test_binary_ops_broadcast_as_numpy(name, ref):
    op = getattr(ops, name)
    a, b = (np.abs(A), B) if name == "power" else (A, B)
    if name.startswith("logical"):
        a, b = A > 0, B > 0
    close(op(a, b), ref(a, b))
    close(op(torch.from_numpy(np.asarray(a)), np.asarray(b)[0]), ref(a, np.asarray(b)[0]))


def test_python_numbers_promote_as_scalars():
    x = torch.arange(4, dtype=torch.int32)
    assert ops.add(x, 2).dtype == torch.int32
    assert ops.add(x, 0.5).dtype == torch.float32
    assert ops.maximum(x, 2).tolist() == [2, 2, 2, 3]
    assert ops.multiply(2.0, torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    assert ops.divide(torch.tensor([1, 2]), 2).tolist() == [0.5, 1.0]
    assert ops.divide_no_nan(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])).tolist() == [
        0.0,
        0.5,
    ]
    assert ops.mod(torch.tensor([-3, 3]), 2).tolist() == [1, 1]
    assert ops.floor_divide(torch.tensor([-3, 3]), 2).tolist() == [-2, 1]


REDUCTIONS = ["sum", "mean", "max", "min", "prod", "std", "var", "any", "all"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_take_axis_and_keepdims_as_numpy(name, axis, keepdims):
    x = T3 if name not in ("any", "all") else T3 > 0
    ref = {"max": np.max, "min": np.min}.get(name) or getattr(np, name)
    close(getattr(ops, name)(x, axis=axis, keepdims=keepdims), ref(x, axis=axis, keepdims=keepdims))


def test_std_and_var_are_population_statistics():
    assert float(ops.var([1.0, 2.0, 3.0, 4.0])) == pytest.approx(1.25)
    assert float(ops.std([1.0, 3.0])) == pytest.approx(1.0)


def test_mean_of_integers_is_a_float():
    out = ops.mean(np.array([1, 2], dtype=np.int64))
    assert out.dtype == torch.float32
    assert float(out) == 1.5


def test_max_and_min_with_initial():
    assert ops.max([1.0, 2.0], initial=5.0).item() == 5.0
    assert ops.min([1.0, 2.0], initial=-1.0).item() == -1.0


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_return_int32_as_keras(axis, keepdims):
    for name in ("argmax", "argmin"):
        out = getattr(ops, name)(A, axis=axis, keepdims=keepdims)
        assert out.dtype == torch.int32
        close(out, getattr(np, name)(A, axis=axis, keepdims=keepdims))


def test_logsumexp_cumsum_cumprod_norm():
    close(ops.logsumexp(A, axis=1), np.log(np.exp(A).sum(axis=1)))
    close(ops.logsumexp(A), np.log(np.exp(A).sum()))
    close(ops.cumsum(A, axis=1), np.cumsum(A, axis=1))
    close(ops.cumsum(A), np.cumsum(A))
    close(ops.cumprod(P, axis=0), np.cumprod(P, axis=0))
    close(ops.norm(A), np.linalg.norm(A))
    close(ops.norm(A, axis=1), np.linalg.norm(A, axis=1))
    close(ops.norm(V, ord=1), np.linalg.norm(V, ord=1))
    close(ops.norm(A, axis=-1, keepdims=True), np.linalg.norm(A, axis=-1, keepdims=True))
    close(ops.count_nonzero(np.array([[0, 1], [2, 0]]), axis=0), [1, 1])
    close(ops.median(A, axis=1), np.median(A, axis=1))
    close(ops.median(A), np.median(A))
    close(ops.average(A, axis=1, weights=V), np.average(A, axis=1, weights=V))


def test_sort_argsort_top_k():
    close(ops.sort(A), np.sort(A))
    close(ops.sort(A, axis=0), np.sort(A, axis=0))
    assert ops.argsort(A).dtype == torch.int32
    close(ops.argsort(A, axis=-1), np.argsort(A, axis=-1, kind="stable"))
    values, indices = ops.top_k(np.array([1.0, 5.0, 3.0, 4.0]), 2)
    assert values.tolist() == [5.0, 4.0]
    assert indices.tolist() == [1, 3]
    assert indices.dtype == torch.int32
    assert ops.in_top_k(np.array([1, 0]), np.array([[0.1, 0.9], [0.8, 0.2]]), 1).tolist() == [
        True,
        True,
    ]
    with pytest.raises(ArgumentError, match="`k`"):
        ops.top_k(A, 0)


def test_shape_ops_match_numpy():
    close(ops.reshape(A, (4, 3)), A.reshape(4, 3))
    close(ops.reshape(A, (-1,)), A.reshape(-1))
    close(ops.transpose(T3), np.transpose(T3))
    close(ops.transpose(T3, axes=(1, 0, 2)), np.transpose(T3, (1, 0, 2)))
    assert ops.expand_dims(A, 0).shape == (1, 3, 4)
    assert ops.expand_dims(A, -1).shape == (3, 4, 1)
    assert ops.expand_dims(A, (0, 2)).shape == np.expand_dims(A, (0, 2)).shape
    assert ops.squeeze(np.zeros((1, 3, 1))).shape == (3,)
    assert ops.squeeze(np.zeros((1, 3, 1)), axis=-1).shape == (1, 3)
    with pytest.raises(ArgumentError, match="squeeze"):
        ops.squeeze(np.zeros((2, 3)), axis=0)
    close(ops.concatenate([A, B], axis=1), np.concatenate([A, B], axis=1))
    close(ops.concatenate([A, B]), np.concatenate([A, B]))
    close(ops.stack([A, B], axis=-1), np.stack([A, B], axis=-1))
    for got, want in zip(ops.split(T3, 2, axis=-1), np.split(T3, 2, axis=-1), strict=True):
        close(got, want)
    for got, want in zip(ops.split(V, [1, 3]), np.split(V, [1, 3]), strict=True):
        close(got, want)
    with pytest.raises(ArgumentError, match="equal parts"):
        ops.split(V, 3)
    close(ops.tile(A, (2, 1)), np.tile(A, (2, 1)))
    close(ops.repeat(A, 2, axis=0), np.repeat(A, 2, axis=0))
    close(ops.repeat(A, 2), np.repeat(A, 2))
    close(ops.flip(A, axis=1), np.flip(A, axis=1))
    close(ops.flip(A), np.flip(A))
    close(ops.roll(V, 1), np.roll(V, 1))
    close(ops.moveaxis(T3, 0, -1), np.moveaxis(T3, 0, -1))
    close(ops.swapaxes(T3, 0, 2), np.swapaxes(T3, 0, 2))
    close(ops.broadcast_to(V, (2, 4)), np.broadcast_to(V, (2, 4)))
    close(ops.ravel(A), A.ravel())
    assert [u.shape for u in ops.unstack(A)] == [(4,)] * 3


def test_indexing_ops_match_numpy():
    idx = np.array([[2, 0], [-1, 1]])
    close(ops.take(A, idx, axis=1), np.take(A, idx, axis=1))
    close(ops.take(A, idx), np.take(A, idx))
    close(ops.take(A, [0, 2], axis=0), np.take(A, [0, 2], axis=0))
    order = np.argsort(A, axis=1)
    close(ops.take_along_axis(A, order, axis=1), np.take_along_axis(A, order, axis=1))
    close(ops.take_along_axis(A, order[:1], axis=1), np.take_along_axis(A, order[:1], axis=1))
    close(ops.slice(A, (1, 0), (2, 3)), A[1:3, 0:3])
    close(ops.slice(A, (1, 1), (-1, -1)), A[1:, 1:])
    updated = ops.slice_update(A, (0, 1), np.zeros((2, 2), np.float32))
    want = A.copy()
    want[0:2, 1:3] = 0
    close(updated, want)
    close(ops.scatter([[0, 1], [0, 1], [2, 3]], [1.0, 2.0, 5.0], (3, 4))[0, 1], 3.0)
    close(ops.scatter_update(np.zeros((2, 2)), [[1, 0]], [7.0]), [[0, 0], [7, 0]])
    close(ops.where(A > 0, A, B), np.where(A > 0, A, B))
    close(ops.where(A > 0, A, 0.0), np.where(A > 0, A, 0.0))
    assert [t.tolist() for t in ops.where(np.array([0, 1, 1]))] == [[1, 2]]
    with pytest.raises(ArgumentError, match="both"):
        ops.where(A > 0, A)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_follows_numpy_pad(mode):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for width in (((0, 0), (1, 2), (2, 1)), 1, ((0, 0), (0, 0), (1, 1))):
        close(ops.pad(x, width, mode=mode), np.pad(x, width, mode=mode))
    close(ops.pad(x, 1, constant_values=9.0), np.pad(x, 1, constant_values=9.0))
    with pytest.raises(ArgumentError, match="mode"):
        ops.pad(x, 1, mode="nearest")


def test_products_match_numpy():
    close(ops.matmul(A, B.T), A @ B.T)
    close(ops.matmul(T3, np.ones((4, 2), np.float32)), T3 @ np.ones((4, 2)))
    close(ops.dot(A, V), A.dot(V))
    close(ops.dot(V, V), V.dot(V))
    close(ops.dot(T3, np.ones((4, 5), np.float32)), np.dot(T3, np.ones((4, 5))))
    close(ops.dot(2.0, A), 2.0 * A)
    close(ops.einsum("ij,kj->ik", A, B), np.einsum("ij,kj->ik", A, B))
    close(ops.tensordot(A, B, axes=([1], [1])), np.tensordot(A, B, axes=([1], [1])))
    close(ops.outer(V, V), np.outer(V, V))
    close(ops.inner(A, B), np.inner(A, B))
    close(ops.trace(A), np.trace(A))
    close(ops.diag(V), np.diag(V))
    close(ops.tril(A), np.tril(A))
    close(ops.triu(A, 1), np.triu(A, 1))


def test_creation_ops_use_keras_dtypes():
    assert ops.arange(5).dtype == torch.int32
    assert ops.arange(5).tolist() == list(range(5))
    assert ops.arange(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75]
    assert ops.arange(3, dtype="float32").dtype == torch.float32
    close(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    close(ops.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 4, endpoint=False))
    assert ops.zeros((2, 3)).dtype == torch.float32
    assert ops.ones(3, dtype="int32").tolist() == [1, 1, 1]
    assert ops.full((2,), 7).dtype == torch.int32
    assert ops.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert ops.zeros_like(A).shape == (3, 4)
    assert ops.ones_like(A, dtype="int64").dtype == torch.int64
    assert ops.full_like(A, 2.0)[0, 0].item() == 2.0
    close(ops.eye(3), np.eye(3))
    close(ops.eye(3, 4, k=1), np.eye(3, 4, k=1))
    close(ops.eye(4, 3, k=-1), np.eye(4, 3, k=-1))
    close(ops.identity(2), np.identity(2))
    close(ops.tri(3, k=-1), np.tri(3, k=-1))
    with pytest.raises(ArgumentTypeError, match="shape"):
        ops.zeros("3")


def test_conversions_and_dtypes():
    t = ops.convert_to_tensor([1, 2])
    assert t.dtype == torch.int32
    assert ops.convert_to_tensor([1.0, 2]).dtype == torch.float32
    assert ops.convert_to_tensor(np.zeros(2)).dtype == torch.float64
    assert ops.convert_to_tensor(np.zeros(2), dtype="float32").dtype == torch.float32
    assert ops.convert_to_tensor(True).dtype == torch.bool
    x = torch.ones(2, requires_grad=True)
    assert ops.convert_to_tensor(x) is x
    arr = ops.convert_to_numpy(x * 2)
    assert isinstance(arr, np.ndarray)
    assert arr.tolist() == [2.0, 2.0]
    assert ops.convert_to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32
    assert ops.cast(A, "int32").dtype == torch.int32
    assert ops.cast(A, np.float16).dtype == torch.float16
    assert ops.cast(A, torch.float64).dtype == torch.float64
    assert ops.dtype(A) == "float32"
    assert ops.shape(T3) == (2, 3, 4)
    assert ops.ndim(T3) == 3
    assert ops.size(T3) == 24
    assert ops.is_tensor(torch.ones(1))
    assert not ops.is_tensor(A)
    with pytest.raises(ArgumentError, match="unknown dtype"):
        ops.cast(A, "float8")
    with pytest.raises(ArgumentTypeError, match="dtype"):
        ops.cast(A, object())
    with pytest.raises(ArgumentError, match="sparse"):
        ops.convert_to_tensor(A, sparse=True)


def test_nn_ops():
    close(ops.softmax(A), np.exp(A) / np.exp(A).sum(axis=-1, keepdims=True))
    close(ops.softmax(A, axis=0), np.exp(A) / np.exp(A).sum(axis=0, keepdims=True))
    close(ops.log_softmax(A), A - np.log(np.exp(A).sum(axis=-1, keepdims=True)))
    close(ops.gelu(A), 0.5 * A * (1 + np.tanh(np.sqrt(2 / np.pi) * (A + 0.044715 * A**3))))
    close(ops.gelu(A, approximate=False), 0.5 * A * (1 + np.vectorize(math.erf)(A / np.sqrt(2))))
    close(ops.leaky_relu(A), np.where(A > 0, A, 0.2 * A))
    hot = ops.one_hot(np.array([0, 2, -1, 3]), 3)
    assert hot.dtype == torch.float32
    assert hot.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert ops.one_hot(torch.tensor([[1]]), 2, axis=0).shape == (2, 1, 1)
    assert ops.multi_hot(np.array([[0, 2]]), 3).tolist() == [[1, 0, 1]]
    with pytest.raises(ArgumentError, match="num_classes"):
        ops.one_hot([1], 0)
    mean, var = ops.moments(T3, axes=(0, 1))
    close(mean, T3.mean(axis=(0, 1)))
    close(var, T3.var(axis=(0, 1)))
    close(ops.normalize(A), A / np.linalg.norm(A, axis=-1, keepdims=True))
    close(
        ops.batch_normalization(A, V, P[0], axis=-1, offset=V, scale=P[1]),
        (A - V) / np.sqrt(P[0] + 1e-3) * P[1] + V,
    )


def test_crossentropy_ops_are_keras_per_element_forms():
    y = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    p = np.array([[0.9, 0.2], [0.3, 0.6]], np.float32)
    close(ops.binary_crossentropy(y, p), -(y * np.log(p) + (1 - y) * np.log(1 - p)))
    logits = np.log(p / (1 - p))
    close(ops.binary_crossentropy(y, logits, from_logits=True), ops.binary_crossentropy(y, p))
    probs = p / p.sum(-1, keepdims=True)
    close(ops.categorical_crossentropy(y, p), -(y * np.log(probs)).sum(-1))
    close(
        ops.categorical_crossentropy(y, np.log(p), from_logits=True), -(y * np.log(probs)).sum(-1)
    )
    close(ops.sparse_categorical_crossentropy(np.array([0, 1]), p), -(y * np.log(probs)).sum(-1))
    close(
        ops.sparse_categorical_crossentropy(np.array([[0], [1]]), np.log(p), from_logits=True),
        -(y * np.log(probs)).sum(-1),
    )
    with pytest.raises(ArgumentError, match="same shape"):
        ops.binary_crossentropy(y[:, :1], p)


def test_ops_keep_gradients():
    x = torch.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    loss = ops.sum(ops.square(ops.relu(x))) + ops.mean(ops.logsumexp(x, axis=1))
    loss.backward()
    assert x.grad is not None
    assert x.grad[0, 1].item() != 0.0  # the logsumexp term reaches the negative entry


def test_ops_follow_the_tensor_device_and_keep_numpy_off_it():
    x = torch.ones(2, 2)
    out = ops.add(x, np.ones((2, 2), np.float32))
    assert out.device == x.device
    assert ops.concatenate([x, np.zeros((1, 2), np.float32)]).shape == (3, 2)


def test_clip_bounds():
    close(ops.clip(A, -0.5, 0.5), np.clip(A, -0.5, 0.5))
    close(ops.clip(A, V * 0 - 0.1, 0.2), np.clip(A, -0.1, 0.2))
    with pytest.raises(ArgumentError, match="x_min"):
        ops.clip(A, None, None)
    close(ops.round(np.array([0.5, 1.5, 2.567]), 1), np.round(np.array([0.5, 1.5, 2.567]), 1))
    close(ops.round(np.array([0.5, 1.5])), [0.0, 2.0])
    close(ops.nan_to_num(np.array([np.nan, 1.0])), [0.0, 1.0])


def test_axis_must_be_an_int_or_tuple():
    with pytest.raises(ArgumentTypeError, match="axis"):
        ops.sum(A, axis="rows")


@pytest.mark.parametrize("name", ["conv", "depthwise_conv", "ctc_loss", "rfft", "custom_gradient"])
def test_a_keras_op_not_here_is_named_in_the_error(name):
    with pytest.raises(
        AttributeError, match=rf"keras\.ops\.{name} is not available in epochal\.keras"
    ):
        getattr(ops, name)
    with pytest.raises(EpochalError):
        getattr(ops, name)
    assert not hasattr(ops, name)


def test_every_exported_op_is_there():
    assert ops.__all__ == sorted(ops.__all__)
    for name in ops.__all__:
        assert name == "image" or callable(getattr(ops, name)), name


# -- inside a functional model (keras.Input -> ops -> keras.Model) ---------------------------
SYMBOLIC = {
    "mean": lambda x: ops.mean(x, axis=-1, keepdims=True),
    "sum": lambda x: ops.sum(x, axis=1),
    "max": lambda x: ops.max(x, axis=-1),
    "std": lambda x: ops.std(x, axis=-1),
    "var": lambda x: ops.var(x, axis=-1),
    "prod": lambda x: ops.prod(x, axis=-1),
    "logsumexp": lambda x: ops.logsumexp(x, axis=-1),
    "argmax": lambda x: ops.cast(ops.argmax(x, axis=-1), "float32"),
    "square": ops.square,
    "sqrt": lambda x: ops.sqrt(ops.abs(x)),
    "exp": ops.exp,
    "log1p": lambda x: ops.log1p(ops.abs(x)),
    "erf": ops.erf,
    "sign": ops.sign,
    "round": ops.round,
    "clip": lambda x: ops.clip(x, -0.5, 0.5),
    "where": lambda x: ops.where(x > 0, x, 0.0),
    "maximum": lambda x: ops.maximum(x, 0.0),
    "add": lambda x: ops.add(x, 1),
    "divide": lambda x: ops.divide(x, 2.0),
    "logical": lambda x: ops.cast(ops.logical_and(x > 0, x < 1), "float32"),
    "any": lambda x: ops.cast(ops.any(x > 0, axis=-1), "float32"),
    "isnan": lambda x: ops.cast(ops.isnan(x), "float32"),
    "expand_squeeze": lambda x: ops.squeeze(ops.expand_dims(x, 1), axis=1),
    "reshape": lambda x: ops.reshape(x, (-1, 2, 3)),
    "transpose": lambda x: ops.transpose(ops.reshape(x, (-1, 2, 3)), (0, 2, 1)),
    "concatenate": lambda x: ops.concatenate([x, ops.square(x)], axis=-1),
    "stack": lambda x: ops.stack([x, x], axis=1),
    "split": lambda x: ops.split(x, 2, axis=-1)[1],
    "tile": lambda x: ops.tile(x, (1, 2)),
    "repeat": lambda x: ops.repeat(x, 2, axis=1),
    "flip": lambda x: ops.flip(x, axis=-1),
    "pad": lambda x: ops.pad(x, ((0, 0), (1, 2))),
    "slice": lambda x: ops.slice(x, (0, 1), (-1, 2)),
    "take": lambda x: ops.take(x, [0, 2], axis=1),
    "take_along_axis": lambda x: ops.take_along_axis(x, ops.argsort(x, axis=-1), axis=-1),
    "sort": ops.sort,
    "top_k": lambda x: ops.top_k(x, 2)[0],
    "cumsum": lambda x: ops.cumsum(x, axis=1),
    "norm": lambda x: ops.norm(x, axis=-1),
    "matmul": lambda x: ops.matmul(x, ops.ones((6, 2))),
    "dot": lambda x: ops.dot(x, ops.ones((6,))),
    "einsum": lambda x: ops.einsum("bi,bi->b", x, x),
    "softmax": ops.softmax,
    "log_softmax": ops.log_softmax,
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "gelu": ops.gelu,
    "silu": ops.silu,
    "one_hot": lambda x: ops.one_hot(ops.argmax(x, axis=-1), 6),
    "normalize": ops.normalize,
    "moments": lambda x: ops.moments(x, axes=[-1])[1],
    "cast": lambda x: ops.cast(x, "float64"),
    "binary_crossentropy": lambda x: ops.binary_crossentropy(ops.sigmoid(x), ops.sigmoid(x)),
    "shape": lambda x: ops.reshape(x, (-1, ops.shape(x)[1] // 2, 2)),
    "constants": lambda x: (
        x * ops.linspace(0, 1, 6) + ops.convert_to_tensor(np.ones(6, np.float32))
    ),
    "zeros_like": lambda x: ops.zeros_like(x) + x,
}


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_ops_on_symbolic_tensors_are_recorded_into_a_functional_model(name):
    from epochal import keras

    fn = SYMBOLIC[name]
    inputs = keras.Input(shape=(6,))
    model = keras.Model(inputs, fn(inputs))
    x = torch.randn(4, 6)
    got, want = model(x), fn(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    torch.testing.assert_close(got, want)


def test_a_functional_model_with_ops_trains_and_predicts():
    from _util import make_binary
    from epochal import keras
    from epochal.keras import layers

    x, y = make_binary(n=64, features=6, seed=2)
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,))
    h = layers.Dense(8)(inputs)
    h = ops.concatenate([ops.relu(h), ops.square(h)], axis=-1)
    h = (h - ops.mean(h, axis=-1, keepdims=True)) / (ops.std(h, axis=-1, keepdims=True) + 1e-3)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (64, 1)


def test_convert_to_numpy_of_a_symbolic_tensor_says_why():
    from epochal import keras

    with pytest.raises(ArgumentTypeError, match="symbolic"):
        ops.convert_to_numpy(keras.Input(shape=(2,)))


# -- control flow, linear algebra, binning, images ---------------------------------------------
def test_control_flow_runs_eagerly():
    assert ops.cond(torch.tensor(True), lambda: 1, lambda: 2) == 1
    assert ops.cond(np.array(0.0), lambda: 1, lambda: 2) == 2
    assert ops.fori_loop(0, 4, lambda i, v: v + i, 0) == 6
    assert ops.while_loop(lambda i: i < 5, lambda i: i + 1, 0) == 5
    assert ops.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * 2), (0, 1)) == (3, 8)
    assert ops.while_loop(lambda i: True, lambda i: i + 1, 0, maximum_iterations=4) == 4
    carry, ys = ops.scan(lambda c, x: (c + x, c), 0.0, torch.arange(4.0))
    assert float(carry) == 6.0 and ys.tolist() == [0.0, 0.0, 1.0, 3.0]
    _, rev = ops.scan(lambda c, x: (c + x, c), 0.0, torch.arange(4.0), reverse=True)
    assert rev.tolist() == [6.0, 5.0, 3.0, 0.0]
    assert ops.map(lambda r: ops.sum(r), torch.ones(3, 2)).tolist() == [2.0, 2.0, 2.0]
    pairs = (torch.ones(3), torch.arange(3.0))
    assert ops.vectorized_map(lambda r: r[0] * r[1], pairs).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ArgumentTypeError, match="callable"):
        ops.cond(True, 1, 2)


def test_control_flow_on_symbolic_tensors_says_where_to_put_it():
    from epochal import keras

    x = keras.Input(shape=(2,))
    with pytest.raises(ArgumentTypeError, match=r"keras\.layers\.Layer"):
        ops.cond(x, lambda: x, lambda: x)


def test_linear_algebra_matches_numpy():
    m = RNG.normal(size=(4, 4)).astype(np.float64)
    spd = m @ m.T + 4 * np.eye(4)
    rhs = RNG.normal(size=(4, 2))
    close(ops.inv(m), np.linalg.inv(m))
    close(ops.det(m), np.linalg.det(m))
    sign, logdet = ops.slogdet(m)
    close(sign, np.linalg.slogdet(m)[0])
    close(logdet, np.linalg.slogdet(m)[1])
    close(ops.solve(m, rhs), np.linalg.solve(m, rhs))
    lower = np.tril(spd)
    close(ops.solve_triangular(lower, rhs, lower=True), np.linalg.solve(lower, rhs))
    close(ops.cholesky(spd), np.linalg.cholesky(spd))
    q, r = ops.qr(m)
    close(ops.matmul(q, r), m)
    u, s, vh = ops.svd(m)
    close(s, np.linalg.svd(m)[1])
    close(ops.svd(m, compute_uv=False), np.linalg.svd(m)[1])
    close(ops.matmul(u * s, vh), m)
    values, _ = ops.eigh(spd)
    close(values, np.linalg.eigh(spd)[0])
    with pytest.raises(ArgumentError, match="mode"):
        ops.qr(m, mode="r")


def test_binning_ops_match_numpy():
    seq = np.array([1.0, 3.0, 5.0])
    vals = np.array([0.0, 3.0, 6.0])
    close(ops.searchsorted(seq, vals), np.searchsorted(seq, vals))
    close(ops.searchsorted(seq, vals, side="right"), np.searchsorted(seq, vals, side="right"))
    assert ops.searchsorted(seq, vals).dtype == torch.int32
    close(ops.digitize(np.array([0.5, 1.5, 3.0]), seq), np.digitize([0.5, 1.5, 3.0], seq))
    close(ops.bincount(np.array([0, 2, 2]), minlength=4), np.bincount([0, 2, 2], minlength=4))
    close(ops.bincount(np.array([0, 2]), weights=np.array([0.5, 2.0])), [0.5, 0.0, 2.0])


def test_image_extract_patches_lays_out_patches_as_keras():
    images = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)
    patches = ops.image.extract_patches(images, 2)
    assert patches.shape == (2, 3, 3, 12)
    close(patches[1, 2, 1], images[1, 4:6, 2:4, :].reshape(-1))
    strided = ops.image.extract_patches(images[0], (3, 2), strides=(1, 2))
    assert strided.shape == (4, 3, 18)
    close(strided[3, 2], images[0, 3:6, 4:6, :].reshape(-1))
    same = ops.image.extract_patches(images, 4, strides=4, padding="same")
    assert same.shape == (2, 2, 2, 48)
    with pytest.raises(ArgumentError, match="padding"):
        ops.image.extract_patches(images, 2, padding="full")


def test_image_resize_is_channels_last():
    images = np.ones((2, 8, 6, 3), np.float32)
    out = ops.image.resize(images, (4, 3))
    assert out.shape == (2, 4, 3, 3)
    close(out, np.ones((2, 4, 3, 3)))
    grid = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    close(ops.image.resize(grid, (2, 2), interpolation="nearest")[..., 0], grid[::2, ::2, 0])
    close(
        ops.image.resize(grid, (2, 2), interpolation="bilinear")[..., 0], [[2.5, 4.5], [10.5, 12.5]]
    )
    with pytest.raises(ArgumentError, match="interpolation"):
        ops.image.resize(images, (2, 2), interpolation="lanczos9")
    with pytest.raises(ArgumentError, match="channels_last"):
        ops.image.resize(images, (2, 2), data_format="channels_first")
    with pytest.raises(
        AttributeError, match=r"keras\.ops\.image\.affine_transform is not available"
    ):
        ops.image.affine_transform  # noqa: B018


def test_keras_sub_namespaces_name_the_same_ops():
    assert ops.numpy.mean is ops.mean and ops.nn.relu is ops.relu
    assert ops.linalg.inv is ops.inv and ops.math.logsumexp is ops.logsumexp
    assert ops.core.cond is ops.cond
