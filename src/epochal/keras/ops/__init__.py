"""Keras's ``keras.ops`` over torch: math, reductions, shapes, comparisons and neural-network ops.

Arguments and semantics are Keras's (numpy's): ``axis`` (an int, a tuple or
None for every axis), ``keepdims``, population ``std``/``var``, int32 indices
from ``argmax``/``argsort``/``top_k``, int32 for Python ints and float32 for
Python floats. Each op takes torch tensors, numpy arrays, numbers and lists,
returns torch tensors, and keeps autograd. On the symbolic tensors of a
functional model (``keras.Input``) the ops are recorded into the graph, since
each is a call of torch functions. An op Keras has and epochal does not
raises an error naming it.

Example:
    >>> from epochal.keras import ops
    >>> ops.mean(ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]]), axis=-1)
    tensor([1.5000, 3.5000])
"""

from __future__ import annotations

import sys as _sys

from epochal.keras._unavailable import unavailable
from epochal.keras.ops import image
from epochal.keras.ops._control import cond, fori_loop, map, scan, vectorized_map, while_loop
from epochal.keras.ops._convert import (
    cast,
    convert_to_numpy,
    convert_to_tensor,
    dtype,
    is_tensor,
    ndim,
    shape,
    size,
    stop_gradient,
)
from epochal.keras.ops._linalg import (
    cholesky,
    det,
    eigh,
    inv,
    qr,
    slogdet,
    solve,
    solve_triangular,
    svd,
)
from epochal.keras.ops._math import (
    abs,
    absolute,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    ceil,
    clip,
    conj,
    conjugate,
    copysign,
    cos,
    cosh,
    divide,
    divide_no_nan,
    equal,
    erf,
    erfinv,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    hypot,
    imag,
    isclose,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
    negative,
    not_equal,
    power,
    real,
    reciprocal,
    round,
    rsqrt,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    true_divide,
    trunc,
    where,
)
from epochal.keras.ops._nn import (
    batch_normalization,
    binary_crossentropy,
    categorical_crossentropy,
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    moments,
    multi_hot,
    normalize,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    sparse_categorical_crossentropy,
    swish,
    tanh,
)
from epochal.keras.ops._reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    average,
    bincount,
    count_nonzero,
    cumprod,
    cumsum,
    digitize,
    in_top_k,
    logsumexp,
    max,
    mean,
    median,
    min,
    norm,
    prod,
    quantile,
    searchsorted,
    sort,
    std,
    sum,
    top_k,
    var,
)
from epochal.keras.ops._shape import (
    arange,
    array,
    broadcast_to,
    concatenate,
    cross,
    diag,
    diagonal,
    dot,
    einsum,
    empty,
    expand_dims,
    eye,
    flip,
    full,
    full_like,
    hstack,
    identity,
    inner,
    linspace,
    matmul,
    meshgrid,
    moveaxis,
    ones,
    ones_like,
    outer,
    pad,
    ravel,
    repeat,
    reshape,
    roll,
    scatter,
    scatter_update,
    slice,
    slice_update,
    split,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    tensordot,
    tile,
    trace,
    transpose,
    tri,
    tril,
    triu,
    unstack,
    vstack,
    zeros,
    zeros_like,
)

__all__ = [
    "abs", "absolute", "add", "all", "amax", "amin", "any", "arange", "arccos", "arccosh",
    "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "argsort", "array",
    "average", "batch_normalization", "binary_crossentropy", "bincount", "broadcast_to", "cast",
    "categorical_crossentropy", "ceil", "cholesky", "clip", "concatenate", "cond", "conj",
    "conjugate", "convert_to_numpy", "convert_to_tensor", "copysign", "cos", "cosh",
    "count_nonzero", "cross", "cumprod", "cumsum", "det", "diag", "diagonal", "digitize", "divide",
    "divide_no_nan", "dot", "dtype", "eigh", "einsum", "elu", "empty", "equal", "erf", "erfinv",
    "exp", "exp2", "expand_dims", "expm1", "eye", "flip", "floor", "floor_divide", "fori_loop",
    "full", "full_like", "gelu", "greater", "greater_equal", "hard_sigmoid", "hard_silu",
    "hard_swish", "hstack", "hypot", "identity", "imag", "image", "in_top_k", "inner", "inv",
    "is_tensor", "isclose", "isfinite", "isinf", "isnan", "leaky_relu", "less", "less_equal",
    "linspace", "log", "log10", "log1p", "log2", "log_sigmoid", "log_softmax", "logaddexp",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "map", "matmul", "max",
    "maximum", "mean", "median", "meshgrid", "min", "minimum", "mod", "moments", "moveaxis",
    "multi_hot", "multiply", "nan_to_num", "ndim", "negative", "norm", "normalize", "not_equal",
    "one_hot", "ones", "ones_like", "outer", "pad", "power", "prod", "qr", "quantile", "ravel",
    "real", "reciprocal", "relu", "relu6", "repeat", "reshape", "roll", "round", "rsqrt", "scan",
    "scatter", "scatter_update", "searchsorted", "selu", "shape", "sigmoid", "sign", "silu", "sin",
    "sinh", "size", "slice", "slice_update", "slogdet", "softmax", "softplus", "softsign", "solve",
    "solve_triangular", "sort", "sparse_categorical_crossentropy", "split", "sqrt", "square",
    "squeeze", "stack", "std", "stop_gradient", "subtract", "sum", "svd", "swapaxes", "swish",
    "take", "take_along_axis", "tan", "tanh", "tensordot", "tile", "top_k", "trace", "transpose",
    "tri", "tril", "triu", "true_divide", "trunc", "unstack", "var", "vectorized_map", "vstack",
    "where", "while_loop", "zeros", "zeros_like",
]  # fmt: skip

# Keras's sub-namespaces (keras.ops.numpy.mean, keras.ops.nn.relu, keras.ops.linalg.inv, ...)
# name the same ops.
numpy = nn = linalg = math = core = _sys.modules[__name__]

_ADVICE = (
    "write it with torch functions, which take these tensors (and, inside a functional model, "
    "the symbolic ones: torch calls on keras.Input tensors are recorded as ops are)"
)


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unavailable("keras.ops", name, _ADVICE)
