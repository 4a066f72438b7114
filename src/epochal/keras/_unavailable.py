"""The error for a Keras name that epochal.keras does not have, raised from module ``__getattr__``."""

from __future__ import annotations

from epochal.errors import EpochalError


class NotAvailableError(EpochalError, AttributeError):
    """A Keras feature that epochal.keras does not have (an ``AttributeError``, so ``hasattr`` is False)."""


def unavailable(module: str, name: str, advice: str) -> NotAvailableError:
    """The error for ``module.name``: names it, says it is not in epochal.keras and what to do instead."""
    return NotAvailableError(f"{module}.{name} is not available in epochal.keras: {advice}")
