"""Test helpers: small separable datasets and tiny modules (import as `_util`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def make_binary(n: int = 400, features: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable 0/1 data."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=features).astype(np.float32)
    y = (x @ w > 0).astype(np.float32)
    return x, y


def make_multiclass(n: int = 300, features: int = 8, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, classes)).astype(np.float32)
    y = (x @ w).argmax(axis=1).astype(np.int64)
    return x, y


def mlp(
    features: int = 10,
    hidden: int = 16,
    out: int = 1,
    final: nn.Module | None = None,
    dropout: float = 0.0,
    seed: int = 0,
) -> nn.Sequential:
    torch.manual_seed(seed)
    parts: list[nn.Module] = [nn.Linear(features, hidden), nn.ReLU()]
    if dropout:
        parts.append(nn.Dropout(dropout))
    parts.append(nn.Linear(hidden, out))
    if final is not None:
        parts.append(final)
    return nn.Sequential(*parts)


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def killed_and_resumed(make_model, x, y, ckdir, *, step: int, **fit_kwargs):
    """A run killed after optimizer step ``step``, then resumed by a new model from ``ckdir``.

    ``make_model()`` builds and compiles a fresh model (a new process would);
    ``fit_kwargs`` are the script's fit arguments, a ``checkpoint_steps``
    among them. Returns the resumed model, trained to the end.
    """
    import pytest

    import epochal as ep

    class Kill(ep.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.run.step == step:
                raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        make_model().fit(x, y, callbacks=[Kill()], checkpoint_dir=ckdir, **fit_kwargs)
    resumed = make_model()
    resumed.fit(x, y, checkpoint_dir=ckdir, **fit_kwargs)
    return resumed
