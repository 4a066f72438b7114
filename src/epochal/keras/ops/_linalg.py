"""Linear algebra ops (Keras's ``keras.ops`` names over ``torch.linalg``)."""

from __future__ import annotations

from typing import Any

import torch

from epochal.errors import ArgumentError
from epochal.keras.ops._convert import floating, pair


def inv(x: Any) -> Any:
    """The inverse of each square matrix in ``x``."""
    return torch.linalg.inv(floating(x))


def det(x: Any) -> Any:
    """The determinant of each square matrix in ``x``."""
    return torch.linalg.det(floating(x))


def slogdet(x: Any) -> tuple[Any, Any]:
    """The sign and the log of the absolute determinant of each square matrix in ``x``."""
    out = torch.linalg.slogdet(floating(x))
    return out.sign, out.logabsdet


def solve(a: Any, b: Any) -> Any:
    """``x`` with ``a @ x == b``."""
    a, b = pair(floating(a), floating(b))
    return torch.linalg.solve(a, b)


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Any:
    """``x`` with ``a @ x == b`` for a triangular ``a``."""
    a, b = pair(floating(a), floating(b))
    return torch.linalg.solve_triangular(a, b, upper=not lower)


def cholesky(x: Any, upper: bool = False) -> Any:
    """The Cholesky factor of each symmetric positive-definite matrix in ``x`` (lower by default)."""
    return torch.linalg.cholesky(floating(x), upper=upper)


def qr(x: Any, mode: str = "reduced") -> tuple[Any, Any]:
    """The QR decomposition (``mode`` "reduced" or "complete").

    Raises:
        ArgumentError: another mode.
    """
    if mode not in ("reduced", "complete"):
        raise ArgumentError(
            f"keras.ops.qr: expected mode 'reduced' or 'complete'. Received: mode={mode!r}"
        )
    q, r = torch.linalg.qr(floating(x), mode=mode)
    return q, r


def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """The singular value decomposition ``(u, s, vh)``, or only ``s`` with ``compute_uv=False``."""
    x = floating(x)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    u, s, vh = torch.linalg.svd(x, full_matrices=full_matrices)
    return u, s, vh


def eigh(x: Any) -> tuple[Any, Any]:
    """The eigenvalues (ascending) and eigenvectors of each symmetric matrix in ``x``."""
    values, vectors = torch.linalg.eigh(floating(x))
    return values, vectors
