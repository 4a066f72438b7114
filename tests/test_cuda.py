"""epochal on a CUDA device: what the CPU cannot run.

Skipped without CUDA (CI has no GPU). On a machine with one:
``python -m pytest tests/test_cuda.py tests/bench -k cuda``. What the CPU
can run of the same paths (the graphed step's copies, the float16 scaler,
device copies kept across calls) is tested beside the CPU code.
"""

from __future__ import annotations

import pytest
import torch

import epochal as ep
import epochal.model as model_mod
from _util import killed_and_resumed, make_binary, mlp, state_equal

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    # inductor's advice on a GPU with TF32 units; epochal keeps torch's float32 default
    pytest.mark.filterwarnings("ignore:TensorFloat32 tensor cores:UserWarning"),
]

X, Y = make_binary(n=250, features=10, seed=41)  # batch 32: a last batch of 26


def _model(
    *, dropout: float = 0.3, compile: bool = False, precision: str = "32", seed: int = 6
) -> ep.Model:
    model = ep.Model(mlp(hidden=32, dropout=dropout, seed=seed), device="cuda")
    model.compile(
        optimizer="adam",
        loss="bce",
        metrics=["accuracy"],
        seed=1,
        compile=compile,
        precision=precision,
    )
    return model


def _weights(model: ep.Model) -> list[torch.Tensor]:
    return [p.detach().cpu().clone() for p in model.module.parameters()]


def _assert_equal_runs(a: ep.Model, b: ep.Model) -> None:
    for p, q in zip(_weights(a), _weights(b), strict=True):
        assert torch.equal(p, q)
    assert a.history.history == b.history.history


def _graphs_recorded() -> int:
    """CUDA graphs torch.compile's reduce-overhead mode recorded on this device so far."""
    from torch._inductor import cudagraph_trees

    manager = cudagraph_trees.get_manager(torch.cuda.current_device(), create_if_none_exists=False)
    if manager is None:
        return 0
    pending = [node for nodes in manager.roots.values() for node in nodes]
    count = 0
    while pending:
        node = pending.pop()
        count += 1
        pending.extend(child for children in node.children.values() for child in children)
    return count


def _skips() -> int:
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["cudagraph_skips"])


def test_the_default_optimizer_is_fused_on_cuda() -> None:
    model = _model()
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    assert model.optimizer.param_groups[0]["fused"] is True


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_split_fits_equal_one_fit_with_dropout_on_cuda(compile: bool) -> None:
    split = _model(compile=compile)
    split.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    split.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    split.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    whole = _model(compile=compile)
    whole.fit(X, Y, batch_size=32, epochs=5, verbose=0)
    _assert_equal_runs(split, whole)
    assert whole.history.history["loss"][-1] < whole.history.history["loss"][0]


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_a_killed_run_resumes_to_the_same_bits_on_cuda(tmp_path, compile: bool) -> None:
    resumed = killed_and_resumed(
        lambda: _model(compile=compile),
        X,
        Y,
        tmp_path / "run",
        step=20,
        batch_size=32,
        epochs=5,
        verbose=0,
        checkpoint_steps=3,
    )
    whole = _model(compile=compile)
    whole.fit(X, Y, batch_size=32, epochs=5, verbose=0)
    _assert_equal_runs(resumed, whole)


def test_compile_true_replays_the_step_as_cuda_graphs() -> None:
    recorded, skips = _graphs_recorded(), _skips()
    compiled = _model(dropout=0.0, compile=True)
    compiled.fit(X, Y, batch_size=32, epochs=3, verbose=0)
    assert _skips() == skips  # no graph was refused
    # the full batches' graph and the last batch's (26 rows): two graphs
    assert _graphs_recorded() - recorded >= 2
    eager = _model(dropout=0.0)
    eager.fit(X, Y, batch_size=32, epochs=3, verbose=0)
    for p, q in zip(_weights(compiled), _weights(eager), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    for key, values in eager.history.history.items():
        assert compiled.history.history[key] == pytest.approx(values, rel=1e-4, abs=1e-6)


def test_outputs_a_metric_keeps_survive_the_next_replay() -> None:
    """A user's metric keeping every batch's predictions reads them all after the epoch."""
    kept: list[torch.Tensor] = []

    def mean_prediction(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        kept.append(y_pred)
        return y_pred.mean()

    model = ep.Model(mlp(hidden=32, seed=6), device="cuda")
    model.compile(optimizer="adam", loss="bce", metrics=[mean_prediction], seed=1, compile=True)
    model.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    everything = torch.cat([k.reshape(-1) for k in kept])  # a dead graph output would raise
    assert torch.isfinite(everything).all()
    assert len({k.data_ptr() for k in kept}) == len(kept)


def test_a_learning_rate_schedule_reaches_the_graphed_step() -> None:
    """The optimizer's update runs outside the graph: a new learning rate takes effect."""

    def schedule(epoch: int, lr: float) -> float:
        return 0.0 if epoch >= 1 else lr

    class Snapshots(ep.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.weights: list[list[torch.Tensor]] = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append([p.detach().clone() for p in self.model.module.parameters()])

    snapshots = Snapshots()
    model = _model(dropout=0.0, compile=True)
    initial = [p.detach().clone() for p in model.module.parameters()]
    model.fit(
        X,
        Y,
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[ep.callbacks.LearningRateScheduler(schedule), snapshots],
    )
    first, second, third = snapshots.weights
    assert not all(torch.equal(p, q) for p, q in zip(first, initial, strict=True))
    for p, q, r in zip(first, second, third, strict=True):  # learning rate 0 from epoch 1 on
        assert torch.equal(p, q) and torch.equal(q, r)


def test_16_mixed_trains_and_splits_like_one_fit_on_cuda() -> None:
    split = _model(precision="16-mixed")
    split.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    split.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    whole = _model(precision="16-mixed")
    whole.fit(X, Y, batch_size=32, epochs=4, verbose=0)
    _assert_equal_runs(split, whole)
    assert whole.history.history["loss"][-1] < whole.history.history["loss"][0]
    assert whole._engine is not None and whole._engine.scaler is not None


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_bf16_mixed_trains_on_cuda(compile: bool) -> None:
    model = _model(precision="bf16-mixed", compile=compile, dropout=0.0)
    history = model.fit(X, Y, batch_size=32, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(p.dtype == torch.float32 for p in model.module.parameters())


def test_evaluate_and_predict_on_cuda_match_the_cpu() -> None:
    gpu = _model(dropout=0.0)
    gpu.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    cpu = ep.Model(mlp(hidden=32, seed=6), device="cpu")
    cpu.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=1)
    cpu.module.load_state_dict({k: v.cpu() for k, v in gpu.module.state_dict().items()})
    on_gpu, on_cpu = gpu.predict(X, verbose=0), cpu.predict(X, verbose=0)
    assert isinstance(on_gpu, type(on_cpu))
    torch.testing.assert_close(
        torch.as_tensor(on_gpu), torch.as_tensor(on_cpu), rtol=1e-4, atol=1e-5
    )
    tensor_out = gpu.predict(torch.as_tensor(X), verbose=0)
    assert tensor_out.device.type == "cpu"  # a tensor comes back where it came from
    logs_gpu = gpu.evaluate(X, Y, verbose=0, return_dict=True)
    logs_cpu = cpu.evaluate(X, Y, verbose=0, return_dict=True)
    for key, value in logs_cpu.items():
        assert logs_gpu[key] == pytest.approx(value, rel=1e-4, abs=1e-6)


def test_a_fit_loop_copies_host_tensors_to_the_gpu_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made = [0]
    real = model_mod.fit_sources

    def counting(*args, **kwargs):
        made[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(model_mod, "fit_sources", counting)
    x, y = torch.as_tensor(X).clone(), torch.as_tensor(Y).clone()
    looped = _model()
    for _ in range(4):
        looped.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert made[0] == 1
    x[:10] *= 3.0  # a write torch sees: the next call copies again
    looped.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert made[0] == 2
    fresh = _model()  # fresh copies every call: the data copied anew each time
    for _ in range(4):
        fresh.fit(torch.as_tensor(X).clone(), y.clone(), batch_size=32, epochs=1, verbose=0)
    fresh.fit(x.clone(), y.clone(), batch_size=32, epochs=1, verbose=0)
    assert state_equal(looped.module.state_dict(), fresh.module.state_dict())


def test_a_map_dataset_trains_on_cuda_from_pinned_batches() -> None:
    class Rows(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(X)

        def __getitem__(self, i: int):
            return torch.as_tensor(X[i]), torch.as_tensor(Y[i])

    from_dataset = _model(dropout=0.0)
    from_dataset.fit(Rows(), batch_size=32, epochs=2, shuffle=False, verbose=0)
    from_arrays = _model(dropout=0.0)
    from_arrays.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for p, q in zip(_weights(from_dataset), _weights(from_arrays), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_batch_norm_under_compile_on_cuda_keeps_its_statistics() -> None:
    def make() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(10, 16),
            torch.nn.BatchNorm1d(16),
            torch.nn.ReLU(),
            torch.nn.Linear(16, 1),
        )

    compiled = ep.Model(make(), device="cuda")
    compiled.compile(optimizer="sgd", loss="bce", seed=0, compile=True)
    compiled.fit(X[:128], Y[:128], batch_size=32, epochs=2, verbose=0)
    eager = ep.Model(make(), device="cuda")
    eager.compile(optimizer="sgd", loss="bce", seed=0)
    eager.fit(X[:128], Y[:128], batch_size=32, epochs=2, verbose=0)
    for (name, a), b in zip(
        compiled.module.state_dict().items(), eager.module.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert int(compiled.module[1].num_batches_tracked) == 8
