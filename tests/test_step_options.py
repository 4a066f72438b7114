"""Options around the training step: mixed precision and torch.compile."""

from __future__ import annotations

import pytest
import torch

import epochal as ep
from _util import make_binary, mlp
from epochal.errors import ArgumentError

X, Y = make_binary(n=256, features=10, seed=41)


def test_bf16_mixed_trains_on_cpu_and_runs_under_autocast():
    dtypes: list[torch.dtype] = []

    class Probe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = mlp()

        def forward(self, x):
            out = self.inner(x)
            dtypes.append(out.dtype)
            return out

    model = ep.Model(Probe(), device="cpu")
    model.compile(
        optimizer="adam",
        loss="bce",
        metrics=["accuracy"],
        learning_rate=0.01,
        seed=0,
        precision="bf16-mixed",
    )
    history = model.fit(X, Y, epochs=5, verbose=0)
    assert torch.bfloat16 in dtypes
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8
    assert all(p.dtype == torch.float32 for p in model.module.parameters())


def test_16_mixed_needs_cuda_and_unknown_precision_is_refused():
    model = ep.Model(mlp(), device="cpu")
    with pytest.raises(ArgumentError, match=r"precision='16-mixed' needs a CUDA device"):
        model.compile(optimizer="adam", loss="bce", precision="16-mixed")
    with pytest.raises(
        ArgumentError, match=r"Expected `precision` to be one of 32, bf16-mixed, 16-mixed"
    ):
        model.compile(optimizer="adam", loss="bce", precision="fp8")


@pytest.mark.slow
def test_compile_true_gives_the_eager_result():
    eager = ep.Model(mlp(seed=3), device="cpu")
    eager.compile(optimizer="sgd", loss="bce", seed=0)
    eager.fit(X, Y, epochs=2, verbose=0)
    compiled = ep.Model(mlp(seed=3), device="cpu")
    compiled.compile(optimizer="sgd", loss="bce", seed=0, compile=True)
    compiled.fit(X, Y, epochs=2, verbose=0)
    for a, b in zip(eager.module.parameters(), compiled.module.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert compiled.history.history["loss"] == pytest.approx(
        eager.history.history["loss"], rel=1e-4
    )


def test_compile_failure_falls_back_with_a_clear_warning(monkeypatch):
    def broken(fn, *args, **kwargs):
        def call(*a, **k):
            raise RuntimeError("no C++ compiler found")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0, compile=True)
    with pytest.warns(
        RuntimeWarning,
        match=r"torch.compile could not compile the training step \(RuntimeError: no C\+\+ compiler found\); training continues",
    ):
        history = model.fit(X, Y, epochs=2, verbose=0)
    assert len(history.epoch) == 2
