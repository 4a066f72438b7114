"""Element-wise math, comparisons and logical ops, with numpy's broadcasting and Keras's names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from epochal.errors import ArgumentError
from epochal.keras.ops._convert import floating, pair, tensor


def _unary(fn: Callable[[Any], Any], name: str, doc: str, *, to_float: bool = False) -> Any:
    def op(x: Any) -> Any:
        return fn(floating(x) if to_float else tensor(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _binary(fn: Callable[[Any, Any], Any], name: str, doc: str) -> Any:
    def op(x1: Any, x2: Any) -> Any:
        a, b = pair(x1, x2)
        return fn(a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


abs = _unary(torch.abs, "abs", "The absolute value of ``x``, element-wise.")
absolute = _unary(torch.abs, "absolute", "The absolute value of ``x``, element-wise.")
negative = _unary(torch.neg, "negative", "``-x``, element-wise.")
square = _unary(torch.square, "square", "``x * x``, element-wise.")
sqrt = _unary(
    torch.sqrt, "sqrt", "The square root of ``x`` (as a float), element-wise.", to_float=True
)
rsqrt = _unary(torch.rsqrt, "rsqrt", "``1 / sqrt(x)``, element-wise.", to_float=True)
exp = _unary(torch.exp, "exp", "``e ** x``, element-wise.", to_float=True)
exp2 = _unary(torch.exp2, "exp2", "``2 ** x``, element-wise.", to_float=True)
expm1 = _unary(torch.expm1, "expm1", "``exp(x) - 1``, accurate near 0.", to_float=True)
log = _unary(torch.log, "log", "The natural logarithm of ``x``, element-wise.", to_float=True)
log1p = _unary(torch.log1p, "log1p", "``log(1 + x)``, accurate near 0.", to_float=True)
log2 = _unary(torch.log2, "log2", "The base-2 logarithm of ``x``.", to_float=True)
log10 = _unary(torch.log10, "log10", "The base-10 logarithm of ``x``.", to_float=True)
sign = _unary(torch.sign, "sign", "-1, 0 or 1 by the sign of ``x``, element-wise.")
floor = _unary(torch.floor, "floor", "The largest integer <= ``x``, element-wise.", to_float=True)
ceil = _unary(torch.ceil, "ceil", "The smallest integer >= ``x``, element-wise.", to_float=True)
trunc = _unary(torch.trunc, "trunc", "``x`` rounded towards zero, element-wise.", to_float=True)
sin = _unary(torch.sin, "sin", "The sine of ``x``.", to_float=True)
cos = _unary(torch.cos, "cos", "The cosine of ``x``.", to_float=True)
tan = _unary(torch.tan, "tan", "The tangent of ``x``.", to_float=True)
arcsin = _unary(torch.asin, "arcsin", "The inverse sine of ``x``.", to_float=True)
arccos = _unary(torch.acos, "arccos", "The inverse cosine of ``x``.", to_float=True)
arctan = _unary(torch.atan, "arctan", "The inverse tangent of ``x``.", to_float=True)
sinh = _unary(torch.sinh, "sinh", "The hyperbolic sine of ``x``.", to_float=True)
cosh = _unary(torch.cosh, "cosh", "The hyperbolic cosine of ``x``.", to_float=True)
arcsinh = _unary(torch.asinh, "arcsinh", "The inverse hyperbolic sine of ``x``.", to_float=True)
arccosh = _unary(torch.acosh, "arccosh", "The inverse hyperbolic cosine of ``x``.", to_float=True)
arctanh = _unary(torch.atanh, "arctanh", "The inverse hyperbolic tangent of ``x``.", to_float=True)
reciprocal = _unary(torch.reciprocal, "reciprocal", "``1 / x``, element-wise.", to_float=True)
erf = _unary(torch.erf, "erf", "The Gauss error function of ``x``.", to_float=True)
erfinv = _unary(torch.erfinv, "erfinv", "The inverse error function of ``x``.", to_float=True)
isnan = _unary(torch.isnan, "isnan", "Whether each element of ``x`` is NaN.")
isinf = _unary(torch.isinf, "isinf", "Whether each element of ``x`` is +/-inf.")
isfinite = _unary(torch.isfinite, "isfinite", "Whether each element of ``x`` is finite.")
logical_not = _unary(torch.logical_not, "logical_not", "Element-wise NOT (non-zero is true).")
conj = _unary(torch.conj, "conj", "The complex conjugate of ``x``.")
conjugate = conj
real = _unary(torch.real, "real", "The real part of ``x``.")
imag = _unary(torch.imag, "imag", "The imaginary part of ``x``.")

add = _binary(torch.add, "add", "``x1 + x2``, broadcast.")
subtract = _binary(torch.subtract, "subtract", "``x1 - x2``, broadcast.")
multiply = _binary(torch.multiply, "multiply", "``x1 * x2``, broadcast.")
true_divide = _binary(torch.true_divide, "true_divide", "``x1 / x2`` as floats, broadcast.")
floor_divide = _binary(torch.floor_divide, "floor_divide", "``x1 // x2``, broadcast.")
mod = _binary(torch.remainder, "mod", "``x1 % x2`` with the sign of ``x2`` (numpy's mod).")
power = _binary(torch.pow, "power", "``x1 ** x2``, broadcast.")
maximum = _binary(torch.maximum, "maximum", "The element-wise larger of ``x1`` and ``x2``.")
minimum = _binary(torch.minimum, "minimum", "The element-wise smaller of ``x1`` and ``x2``.")
arctan2 = _binary(torch.atan2, "arctan2", "The angle of the point ``(x2, x1)``, element-wise.")
hypot = _binary(torch.hypot, "hypot", "``sqrt(x1 ** 2 + x2 ** 2)``, element-wise.")
logaddexp = _binary(torch.logaddexp, "logaddexp", "``log(exp(x1) + exp(x2))``, stably.")
equal = _binary(torch.eq, "equal", "``x1 == x2``, element-wise (bool).")
not_equal = _binary(torch.ne, "not_equal", "``x1 != x2``, element-wise (bool).")
less = _binary(torch.lt, "less", "``x1 < x2``, element-wise (bool).")
less_equal = _binary(torch.le, "less_equal", "``x1 <= x2``, element-wise (bool).")
greater = _binary(torch.gt, "greater", "``x1 > x2``, element-wise (bool).")
greater_equal = _binary(torch.ge, "greater_equal", "``x1 >= x2``, element-wise (bool).")
logical_and = _binary(torch.logical_and, "logical_and", "Element-wise AND (non-zero is true).")
logical_or = _binary(torch.logical_or, "logical_or", "Element-wise OR (non-zero is true).")
logical_xor = _binary(torch.logical_xor, "logical_xor", "Element-wise XOR (non-zero is true).")
copysign = _binary(torch.copysign, "copysign", "``x1`` with the sign of ``x2``.")


def divide(x1: Any, x2: Any) -> Any:
    """``x1 / x2`` as floats, broadcast (integers divide to floats, as numpy's ``/``)."""
    a, b = pair(x1, x2)
    return torch.true_divide(a, b)


def divide_no_nan(x1: Any, x2: Any) -> Any:
    """``x1 / x2``, with 0 where ``x2`` is 0."""
    a, b = pair(x1, x2)
    zero = torch.eq(b, 0)
    return torch.where(
        zero,
        torch.zeros_like(torch.true_divide(a, b)),
        torch.true_divide(a, torch.where(zero, torch.ones_like(b), b)),
    )


def round(x: Any, decimals: int = 0) -> Any:
    """``x`` rounded to ``decimals`` places, halves to even (as numpy)."""
    x = tensor(x)
    if not x.dtype.is_floating_point:
        return x
    return torch.round(x, decimals=decimals)


def clip(x: Any, x_min: Any, x_max: Any) -> Any:
    """``x`` limited to ``[x_min, x_max]``, element-wise (bounds may be tensors).

    Raises:
        ArgumentError: both bounds are None.
    """
    if x_min is None and x_max is None:
        raise ArgumentError(
            "keras.ops.clip: expected at least one of `x_min` and `x_max`, got None for both"
        )
    x = tensor(x)
    bounds = [x_min, x_max]
    if any(b is not None and not isinstance(b, (int, float)) for b in bounds):
        # torch takes two numbers or two tensors, not one of each.
        bounds = [None if b is None else tensor(b, like=x).to(x.dtype) for b in bounds]
    return torch.clamp(x, bounds[0], bounds[1])


def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """``x1`` where ``condition`` holds, else ``x2``, broadcast; with only ``condition``, the indices where it holds.

    Raises:
        ArgumentError: only one of ``x1`` and ``x2`` was given.
    """
    cond = tensor(condition)
    if x1 is None and x2 is None:
        return torch.where(cond)
    if x1 is None or x2 is None:
        raise ArgumentError(
            "keras.ops.where: expected both `x1` and `x2`, or neither. "
            f"Received: x1={'None' if x1 is None else 'a value'}, x2={'None' if x2 is None else 'a value'}"
        )
    a, b = pair(x1, x2)
    return torch.where(cond.to(torch.bool) if cond.dtype != torch.bool else cond, a, b)


def nan_to_num(
    x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Any:
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf``/``neginf`` (default: the dtype's extremes)."""
    return torch.nan_to_num(tensor(x), nan=nan, posinf=posinf, neginf=neginf)


def isclose(
    x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Any:
    """Whether ``x1`` and ``x2`` are equal within tolerances, element-wise."""
    a, b = pair(x1, x2)
    return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
