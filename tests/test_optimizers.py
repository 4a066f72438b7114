"""Optimizers by name, instance or factory, and the kernel epochal picks for them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import epochal as ep
from _util import make_binary, mlp
from epochal import optimizers
from epochal.errors import ArgumentError

X, Y = make_binary(n=96, features=10, seed=5)


def _fitted(optimizer, optimizer_impl: str = "auto", module: nn.Module | None = None) -> ep.Model:
    model = ep.Model(module if module is not None else mlp(seed=1), device="cpu")
    model.compile(optimizer=optimizer, loss="bce", seed=0, optimizer_impl=optimizer_impl)
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    return model


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad"])
def test_default_picks_the_fused_kernel_where_torch_has_one(name: str) -> None:
    model = _fitted(name)
    assert optimizers.implementation(model.optimizer) == "fused"


@pytest.mark.parametrize("name", ["rmsprop", "nadam", "adamax"])
def test_default_on_the_cpu_is_the_for_loop_without_a_fused_kernel(name: str) -> None:
    assert optimizers.implementation(_fitted(name).optimizer) == "for-loop"


@pytest.mark.parametrize(
    ("name", "impl"),
    [("adam", "foreach"), ("adam", "for-loop"), ("rmsprop", "foreach"), ("sgd", "fused")],
)
def test_a_specific_kernel_can_be_asked_for(name: str, impl: str) -> None:
    assert optimizers.implementation(_fitted(name, impl).optimizer) == impl


def test_every_kernel_trains_the_same_algorithm() -> None:
    finals = {}
    for impl in ("fused", "foreach", "for-loop"):
        model = _fitted("adam", impl)
        finals[impl] = [p.detach().clone() for p in model.module.parameters()]
    for impl in ("foreach", "for-loop"):
        for a, b in zip(finals["fused"], finals[impl], strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_the_default_is_deterministic() -> None:
    a, b = _fitted("adam"), _fitted("adam")
    for p, q in zip(a.module.parameters(), b.module.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_factory_that_leaves_the_kernel_unset_gets_the_fused_one() -> None:
    model = _fitted(lambda params: torch.optim.Adam(params, lr=3e-3, betas=(0.8, 0.99)))
    opt = model.optimizer
    assert type(opt) is torch.optim.Adam
    assert optimizers.implementation(opt) == "fused"
    group = opt.param_groups[0]
    assert group["lr"] == 3e-3 and group["betas"] == (0.8, 0.99)


def test_a_factory_keeps_its_parameter_groups_and_a_learning_rate_override() -> None:
    def factory(params):
        params = list(params)
        return torch.optim.AdamW([{"params": params[:2], "lr": 0.1}, {"params": params[2:]}])

    model = ep.Model(mlp(seed=1), device="cpu")
    model.compile(optimizer=factory, loss="bce", seed=0, learning_rate=0.05)
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    groups = model.optimizer.param_groups
    assert [len(g["params"]) for g in groups] == [2, 2]
    assert [g["lr"] for g in groups] == [0.05, 0.05]
    assert all(g["fused"] for g in groups)
    assert groups[0]["weight_decay"] == 0.01  # AdamW's own default, kept


def test_a_factory_that_chose_a_kernel_is_honoured() -> None:
    model = _fitted(lambda params: torch.optim.Adam(params, foreach=False))
    assert optimizers.implementation(model.optimizer) == "for-loop"


def test_an_instance_is_used_as_built() -> None:
    module = mlp(seed=1)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    model = _fitted(opt, module=module)
    assert model.optimizer is opt
    assert optimizers.implementation(opt) == "default"


def test_an_instance_with_an_explicit_kernel_is_refused_before_any_change() -> None:
    module = mlp(seed=1)
    opt = torch.optim.Adam(module.parameters())
    model = ep.Model(module, device="cpu")
    with pytest.raises(ArgumentError, match=r"optimizer_impl='fused' cannot change an optimizer"):
        model.compile(optimizer=opt, loss="bce", optimizer_impl="fused")
    with pytest.raises(ep.errors.NotCompiledError):
        _ = model.run


def test_unknown_or_unavailable_kernels_are_refused_at_compile() -> None:
    model = ep.Model(mlp(), device="cpu")
    with pytest.raises(ArgumentError, match=r"Expected `optimizer_impl` to be one of 'auto'"):
        model.compile(optimizer="adam", loss="bce", optimizer_impl="fast")
    with pytest.raises(ArgumentError, match=r"torch has no fused RMSprop"):
        model.compile(optimizer="rmsprop", loss="bce", optimizer_impl="fused")


def test_a_factory_optimizer_without_the_kernel_is_refused_at_fit() -> None:
    model = ep.Model(mlp(), device="cpu")
    model.compile(
        optimizer=lambda p: torch.optim.RMSprop(p), loss="bce", seed=0, optimizer_impl="fused"
    )
    with pytest.raises(ArgumentError, match=r"torch has no fused RMSprop"):
        model.fit(X, Y, epochs=1, verbose=0)
    assert len(model.history.epoch) == 0


def test_lbfgs_has_no_choice_of_kernel() -> None:
    model = ep.Model(mlp(), device="cpu")
    model.compile(
        optimizer=lambda p: torch.optim.LBFGS(p), loss="bce", seed=0, optimizer_impl="foreach"
    )
    with pytest.raises(ArgumentError, match=r"LBFGS has no choice of implementation"):
        model.fit(X, Y, epochs=1, verbose=0)


def test_sparse_gradients_keep_the_for_loop() -> None:
    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(20, 4, sparse=True)
            self.out = nn.Linear(4, 1)

        def forward(self, idx):
            return self.out(self.emb(idx).mean(1))

    idx = torch.randint(0, 20, (64, 3), generator=torch.Generator().manual_seed(0))
    y = (idx.sum(1, keepdim=True) > 30).float()
    model = ep.Model(Bag(), device="cpu")
    model.compile(optimizer="sgd", loss="bce", seed=0)
    history = model.fit(idx, y, batch_size=16, epochs=2, verbose=0)
    assert optimizers.implementation(model.optimizer) == "for-loop"
    assert len(history.epoch) == 2


def test_the_kernel_choice_is_saved_with_the_run(tmp_path) -> None:
    model = _fitted("adam", "foreach")
    model.save(tmp_path / "m")
    loaded = ep.Model.load(tmp_path / "m", module=mlp(seed=1))
    loaded.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    assert optimizers.implementation(loaded.optimizer) == "foreach"


def test_a_factory_optimizer_is_switched_in_place_keeping_its_hooks() -> None:
    made = []
    calls = []

    def factory(params):
        opt = torch.optim.Adam(params)
        opt.register_step_post_hook(lambda *_: calls.append(1))
        made.append(opt)
        return opt

    model = _fitted(factory)
    assert model.optimizer is made[0]
    assert optimizers.implementation(model.optimizer) == "fused"
    assert len(calls) == 3  # 96 samples, batch 32: the hook ran at every step


def test_a_factory_optimizer_that_holds_state_cannot_be_switched_explicitly() -> None:
    model = ep.Model(mlp(), device="cpu")
    # torch's Adagrad creates its state when it is built
    model.compile(
        optimizer=lambda p: torch.optim.Adagrad(p), loss="bce", seed=0, optimizer_impl="fused"
    )
    with pytest.raises(ArgumentError, match=r"cannot switch this Adagrad: it holds state"):
        model.fit(X, Y, epochs=1, verbose=0)
    auto = _fitted(lambda p: torch.optim.Adagrad(p))
    assert optimizers.implementation(auto.optimizer) == "default"
