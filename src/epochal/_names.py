"""Names: the one camel-case to snake-case conversion (Keras's)."""

from __future__ import annotations

import re

__all__ = ["snake_case"]


def snake_case(name: str) -> str:
    """``"GlorotUniform"`` -> ``"glorot_uniform"``, ``"MSELoss"`` -> ``"mse_loss"``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
