"""The training step and the options around it: closures, mixed precision, torch.compile."""

from __future__ import annotations

import pytest
import torch

import epochal as ep
from _util import killed_and_resumed, make_binary, mlp
from epochal._step import build_train_step, needs_closure
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


# -- the training step ------------------------------------------------------------


def _lbfgs(params):
    return torch.optim.LBFGS(params, lr=0.5, max_iter=5)


def test_lbfgs_trains_with_the_closure_epochal_gives_it():
    model = ep.Model(mlp(seed=2), device="cpu")
    model.compile(optimizer=_lbfgs, loss="bce", metrics=["accuracy"], seed=0)
    # LBFGS is a full-batch method: one batch of all 256 samples per epoch
    history = model.fit(X, Y, batch_size=256, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 4
    assert losses[-1] < 0.05 * losses[0]
    assert history.history["accuracy"][-1] > 0.95
    assert model.run.step == 4  # one optimizer step per batch, however many evaluations


def test_lbfgs_reports_the_loss_before_its_step():
    """Like every optimizer, the step's loss is that of the weights it started from."""
    module = mlp(seed=2)
    start = [p.detach().clone() for p in module.parameters()]
    model = ep.Model(module, device="cpu")
    model.compile(optimizer=_lbfgs, loss="bce", seed=0)
    history = model.fit(X, Y, batch_size=256, epochs=1, shuffle=False, verbose=0)
    reference = mlp(seed=2)
    with torch.no_grad():
        for p, q in zip(reference.parameters(), start, strict=True):
            p.copy_(q)
        first = torch.nn.functional.binary_cross_entropy_with_logits(
            reference(torch.as_tensor(X)), torch.as_tensor(Y).reshape(-1, 1)
        )
    assert history.history["loss"][0] == pytest.approx(float(first), rel=1e-5)


def test_lbfgs_split_fits_equal_one_fit():
    def trained(splits):
        model = ep.Model(mlp(seed=2), device="cpu")
        model.compile(optimizer=_lbfgs, loss="bce", seed=0)
        for epochs in splits:
            model.fit(X, Y, batch_size=64, epochs=epochs, verbose=0)
        return [p.detach() for p in model.module.parameters()]

    for a, b in zip(trained([2, 1]), trained([3]), strict=True):
        assert torch.equal(a, b)


def test_an_optimizer_whose_step_requires_a_closure_gets_one():
    calls = []

    class NeedsClosure(torch.optim.SGD):
        def step(self, closure):  # no default: a closure is required
            calls.append(1)
            with torch.enable_grad():
                loss = closure()
            super().step()
            return loss

    model = ep.Model(mlp(seed=2), device="cpu")
    model.compile(optimizer=lambda p: NeedsClosure(p, lr=0.1), loss="bce", seed=0)
    history = model.fit(X, Y, batch_size=64, epochs=3, verbose=0)
    assert len(calls) == 12
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_needs_closure_tells_the_kinds_apart():
    params = list(mlp().parameters())
    assert needs_closure(torch.optim.LBFGS(params))
    assert not needs_closure(torch.optim.Adam(params))
    assert not needs_closure(torch.optim.SGD(params, lr=0.1))


def _engine(module, optimizer, *, scaler=None):
    from epochal.loop import Engine

    def loss_fn(out, y, sample_weight):
        return torch.nn.functional.binary_cross_entropy_with_logits(out, y)

    return Engine(
        module=module,
        device=torch.device("cpu"),
        forward=module,
        loss_fn=loss_fn,
        metric_input=None,
        optimizer=optimizer,
        train_metrics=[],
        eval_metrics=[],
        scaler=scaler,
    )


def test_the_scaled_step_runs_on_what_the_cpu_can_run():
    """The float16 path (CUDA) with a CPU gradient scaler: scaled backward, unscaled update."""
    module = mlp(seed=4)
    reference = mlp(seed=4)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    step = build_train_step(
        _engine(module, torch.optim.SGD(module.parameters(), lr=0.1), scaler=scaler),
        precision="32",
        compile=False,
    )
    plain = build_train_step(
        _engine(reference, torch.optim.SGD(reference.parameters(), lr=0.1)),
        precision="32",
        compile=False,
    )
    x, y = torch.as_tensor(X[:32]), torch.as_tensor(Y[:32]).reshape(-1, 1)
    out, _, loss = step(x, y, None)
    _, _, loss_ref = plain(x, y, None)
    assert not out.requires_grad and not loss.requires_grad
    torch.testing.assert_close(loss, loss_ref)
    for p, q in zip(module.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)
    assert scaler.get_scale() == 2.0**10  # no overflow: the scale stays


def test_a_closure_optimizer_with_a_gradient_scaler_is_refused():
    module = mlp()
    scaler = torch.amp.GradScaler("cpu")
    with pytest.raises(ArgumentError, match=r"precision='16-mixed' cannot drive LBFGS"):
        build_train_step(
            _engine(module, torch.optim.LBFGS(module.parameters()), scaler=scaler),
            precision="32",
            compile=False,
        )


def test_the_step_returns_detached_outputs_and_the_loss_before_the_update():
    module = mlp(seed=4)
    step = build_train_step(
        _engine(module, torch.optim.SGD(module.parameters(), lr=0.5)), precision="32", compile=False
    )
    x, y = torch.as_tensor(X[:32]), torch.as_tensor(Y[:32]).reshape(-1, 1)
    with torch.no_grad():
        before = torch.nn.functional.binary_cross_entropy_with_logits(module(x), y)
    out, conformed, loss = step(x, y, None)
    assert torch.equal(loss, before)
    assert conformed is y
    assert not out.requires_grad
    with torch.no_grad():
        after = torch.nn.functional.binary_cross_entropy_with_logits(module(x), y)
    assert after < before


# -- compile=True: the whole step as one graph ---------------------------------------


def _dropout_model(seed: int = 6) -> ep.Model:
    model = ep.Model(mlp(hidden=32, dropout=0.3, seed=seed), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=1, compile=True)
    return model


def _weights(model: ep.Model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.module.parameters()]


@pytest.mark.slow
def test_compiled_step_with_dropout_split_fits_equal_one_fit(tmp_path):
    # 250 samples, batch 32: a last batch of 26 in every epoch
    x, y = X[:250], Y[:250]
    split = _dropout_model()
    split.fit(x, y, batch_size=32, epochs=3, verbose=0)
    split.fit(x, y, batch_size=32, epochs=2, verbose=0)
    whole = _dropout_model()
    whole.fit(x, y, batch_size=32, epochs=5, verbose=0)
    for a, b in zip(_weights(split), _weights(whole), strict=True):
        assert torch.equal(a, b)
    assert split.history.history["loss"] == whole.history.history["loss"]
    # killed mid-epoch, then the script run again by a new model (its own
    # freshly compiled step) resumes from the checkpoint

    resumed = killed_and_resumed(
        _dropout_model,
        x,
        y,
        tmp_path / "run",
        step=20,
        batch_size=32,
        epochs=5,
        verbose=0,
        checkpoint_steps=3,
    )
    for a, b in zip(_weights(resumed), _weights(whole), strict=True):
        assert torch.equal(a, b)
    assert resumed.history.history["loss"] == whole.history.history["loss"]
    # dropout did draw: with another run seed, other weights
    other = ep.Model(mlp(hidden=32, dropout=0.3, seed=6), device="cpu")
    other.compile(optimizer="adam", loss="bce", seed=2, compile=True)
    other.fit(x, y, batch_size=32, epochs=5, shuffle=False, verbose=0)
    unshuffled = _dropout_model()
    unshuffled.fit(x, y, batch_size=32, epochs=5, shuffle=False, verbose=0)
    assert not all(
        torch.equal(a, b) for a, b in zip(_weights(other), _weights(unshuffled), strict=True)
    )


@pytest.mark.slow
def test_compiled_step_compiles_the_last_batch_once_not_every_epoch():
    from torch._dynamo.utils import counters

    model = _dropout_model()
    model.fit(X[:250], Y[:250], batch_size=32, epochs=1, verbose=0)
    graphs = counters["stats"]["unique_graphs"]
    model.fit(X[:250], Y[:250], batch_size=32, epochs=3, verbose=0)
    assert counters["stats"]["unique_graphs"] == graphs


@pytest.mark.slow
def test_many_compiled_models_in_one_process_stay_compiled(recwarn):
    """More models than torch's recompile limit, each of another width: all compiled."""
    from torch._dynamo.utils import counters

    limit = 2  # torch's is 8; the same rule, fewer models to compile
    before = counters["stats"]["unique_graphs"]
    with torch._dynamo.config.patch(recompile_limit=limit):
        for width in range(4, 4 + limit + 2):
            model = ep.Model(mlp(hidden=width, seed=width), device="cpu")
            model.compile(optimizer="sgd", loss="bce", seed=0, compile=True)
            model.fit(X[:64], Y[:64], batch_size=32, epochs=1, verbose=0)
    assert counters["stats"]["unique_graphs"] - before >= limit + 2
    assert [str(w.message) for w in recwarn if "could not compile" in str(w.message)] == []


@pytest.mark.slow
def test_compiled_step_with_batch_norm_updates_its_running_statistics():
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(10, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 1)
    )
    eager_module = torch.nn.Sequential(
        torch.nn.Linear(10, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 1)
    )
    eager_module.load_state_dict(module.state_dict())
    compiled = ep.Model(module, device="cpu")
    compiled.compile(optimizer="sgd", loss="bce", seed=0, compile=True)
    compiled.fit(X[:128], Y[:128], batch_size=32, epochs=2, verbose=0)
    eager = ep.Model(eager_module, device="cpu")
    eager.compile(optimizer="sgd", loss="bce", seed=0)
    eager.fit(X[:128], Y[:128], batch_size=32, epochs=2, verbose=0)
    for (name, a), b in zip(
        module.state_dict().items(), eager_module.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert int(module[1].num_batches_tracked) == 8


def test_compile_failure_of_the_whole_step_falls_back_once_with_a_warning(monkeypatch):
    calls = []

    def broken(fn, *args, **kwargs):
        def call(*a, **k):
            calls.append(1)
            raise RuntimeError("graph break in user code")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    model = ep.Model(mlp(seed=3), device="cpu")
    model.compile(optimizer="sgd", loss="bce", seed=0, compile=True)
    with pytest.warns(RuntimeWarning, match=r"could not compile the training step") as record:
        model.fit(X, Y, batch_size=64, epochs=2, verbose=0)
    assert len([w for w in record if "training step" in str(w.message)]) == 1
    assert len(calls) == 1  # after the failure, the eager step only
    eager = ep.Model(mlp(seed=3), device="cpu")
    eager.compile(optimizer="sgd", loss="bce", seed=0)
    eager.fit(X, Y, batch_size=64, epochs=2, verbose=0)
    for a, b in zip(_weights(model), _weights(eager), strict=True):
        assert torch.equal(a, b)


def test_an_error_of_the_model_itself_is_raised_as_it_is_under_compile(monkeypatch):
    def broken(fn, *args, **kwargs):
        def call(*a, **k):
            raise RuntimeError("tracing failed")

        return call

    class Bad(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(10, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 1:  # the output-shape probe passes, training fails
                raise ValueError("the model's own bug")
            return self.lin(x)

    monkeypatch.setattr(torch, "compile", broken)
    model = ep.Model(Bad(), device="cpu")
    model.compile(optimizer="sgd", loss="bce", seed=0, compile=True)
    with pytest.raises(ValueError, match="the model's own bug"):
        model.fit(X, Y, epochs=1, verbose=0)


def test_in_memory_targets_are_not_conformed_again_at_every_step(monkeypatch):
    from epochal import losses

    calls = []
    original = losses.prepare_targets

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(losses, "prepare_targets", counting)
    model = ep.Model(mlp(seed=2), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(X, Y, batch_size=16, epochs=2, verbose=0)  # 32 steps
    assert len(calls) <= 2  # once per fit call, for the whole array, not per batch


# -- compile=True on CUDA: the whole step replayed as a CUDA graph -----------------------


def test_compile_mode_is_reduce_overhead_on_cuda_only():
    from epochal._step import compile_mode

    assert compile_mode(torch.device("cuda")) == "reduce-overhead"
    assert compile_mode(torch.device("cpu")) == "default"
    assert compile_mode(torch.device("cpu"), graphs=True) == "reduce-overhead"


def _graphed_step(monkeypatch, metrics=(), compiled_fn=None):
    """`_whole_compiled_step` with CUDA graphs asked for, on the CPU; counts its copies."""
    from epochal import _step

    copied: list[int] = []
    real_clones = _step._clones

    def counting(values):
        copied.append(1)
        return real_clones(values)

    monkeypatch.setattr(_step, "_clones", counting)
    if compiled_fn is not None:
        monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: compiled_fn(fn))
    module = mlp(seed=4)
    engine = _engine(module, torch.optim.Adam(module.parameters(), lr=0.01))
    engine.train_metrics = list(metrics)
    forward_loss = _step.build_forward_loss(engine, precision="32", compile=False)
    return module, _step._whole_compiled_step(engine, forward_loss, graphs=True), copied


@pytest.mark.slow
def test_the_graphed_step_trains_like_the_plain_compiled_step(monkeypatch):
    """The CUDA-graph path's plumbing, on the CPU (where inductor replays no graph but runs it)."""
    from epochal._step import _whole_compiled_step, build_forward_loss

    graphed_module, graphed, copied = _graphed_step(monkeypatch)
    plain_module = mlp(seed=4)
    engine = _engine(plain_module, torch.optim.Adam(plain_module.parameters(), lr=0.01))
    plain = _whole_compiled_step(
        engine, build_forward_loss(engine, precision="32", compile=False), graphs=False
    )
    x, y = torch.as_tensor(X[:64]), torch.as_tensor(Y[:64]).reshape(-1, 1)
    for batch in (x[:32], y[:32]), (x[32:], y[32:]):
        out, _, loss = graphed(*batch, None)
        plain(*batch, None)
        assert not out.requires_grad and not loss.requires_grad
    for p, q in zip(graphed_module.parameters(), plain_module.parameters(), strict=True):
        assert torch.equal(p, q)
        assert torch.equal(p.grad, q.grad)
    assert copied == []  # no metric: nothing outlives the step, nothing is copied


def test_the_graphed_step_copies_outputs_only_for_metrics_that_may_keep_them(monkeypatch):
    class Counting:
        counts_only = True

    class Keeping:
        counts_only = False

    x, y = torch.as_tensor(X[:32]), torch.as_tensor(Y[:32]).reshape(-1, 1)
    eager = lambda fn: fn  # noqa: E731 (no compilation needed to see the copies)
    for metrics, copies in (((), 0), ((Counting(),), 0), ((Counting(), Keeping()), 1)):
        _, step, copied = _graphed_step(monkeypatch, metrics, compiled_fn=eager)
        step(x, y, None)
        assert len(copied) == copies, metrics


def test_torchs_empty_graph_warning_is_silenced_in_the_first_calls_only(monkeypatch):
    """torch warns "The CUDA Graph is empty" when its graph manager starts; -W error must not fail."""
    import warnings

    def warns_empty(fn):
        def call(*args):
            warnings.warn(
                "The CUDA Graph is empty. This usually means ...", UserWarning, stacklevel=2
            )
            return fn(*args)

        return call

    _, step, _ = _graphed_step(monkeypatch, compiled_fn=warns_empty)
    x, y = torch.as_tensor(X[:32]), torch.as_tensor(Y[:32]).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step(x, y, None)
        step(x, y, None)
        with pytest.raises(UserWarning, match="The CUDA Graph is empty"):
            step(x, y, None)  # later calls do not start a manager: nothing is hidden there
