"""The benchmark's runners train correctly and see the same batches; never their speed.

Everything runs the ``--quick`` sizes on the CPU (seconds per test).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `bench`

import bench.peers as peers
from bench.compare import compare
from bench.report import COLUMNS, markdown_table, rows_for
from bench.run import main
from bench.runners import (
    NullTTY,
    RunResult,
    build_module,
    epoch_order,
    epochal_run,
    hand_graph_run,
    hand_run,
)
from bench.workloads import Workload, workloads

from epochal.run import RunState

CPU = torch.device("cpu")
SEED = 3


def _hand(workload: Workload, *, fused: bool) -> RunResult:
    data = workload.make_data(SEED)
    module = build_module(workload, with_head=False, seed=SEED, device=CPU)
    return hand_run(workload, data, module, seed=SEED, device=CPU, fused=fused)


def _both(
    key: str, *, verbose: int = 0, fused: bool = True
) -> tuple[Workload, RunResult, RunResult]:
    """The workload, a hand loop (the best one by default) and epochal's default run."""
    workload = workloads(quick=True)[key]
    data = workload.make_data(SEED)
    hand = _hand(workload, fused=fused)
    epochal_module = build_module(workload, with_head=True, seed=SEED, device=CPU)
    ours = epochal_run(workload, data, epochal_module, seed=SEED, device=CPU, verbose=verbose)
    return workload, hand, ours


def _assert_same_weights(a: RunResult, b: RunResult) -> None:
    assert a.state.keys() == b.state.keys()
    for name, value in a.state.items():
        assert torch.equal(b.state[name], value), name


def _assert_trained(result: RunResult, epochs: int) -> None:
    losses = result.history["loss"]
    assert len(losses) == epochs
    assert losses[-1] < losses[0]


def test_hand_loop_shuffles_like_epochal() -> None:
    from epochal.callbacks.history import History

    run = RunState(seed=SEED, history=History())
    for epoch in range(3):
        assert torch.equal(epoch_order(SEED, epoch, 50, CPU), run.epoch_order(epoch, 50, CPU))


@pytest.mark.parametrize("key", ["a", "b"])
def test_seed_workloads_see_the_same_batches(key: str) -> None:
    workload, hand, ours = _both(key)
    _assert_trained(hand, workload.epochs)
    _assert_trained(ours, workload.epochs)
    # Same initial weights, optimizer kernel (fused) and batches, dropout-free:
    # bit for bit the same weights as the best hand loop.
    _assert_same_weights(hand, ours)
    assert set(ours.history) == set(hand.history)
    for name, values in hand.history.items():
        assert ours.history[name] == pytest.approx(values, abs=1e-5)


@pytest.mark.parametrize("key", ["c", "d"])
def test_mlp_and_cnn_workloads_train(key: str) -> None:
    workload, hand, ours = _both(key)
    _assert_trained(hand, workload.epochs)
    _assert_trained(ours, workload.epochs)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(ours.history)
    assert set(ours.history) == set(hand.history)
    _assert_same_weights(hand, ours)


@pytest.mark.parametrize("key", ["a", "c"])
def test_user_hand_loop_and_best_hand_loop_train_alike(key: str) -> None:
    """torch's default Adam and its fused kernel: the same algorithm, rounding apart.

    Adam's update m / sqrt(v) amplifies rounding where gradients are near 0,
    so a weight may drift by a fraction of the learning rate (1e-3).
    """
    workload = workloads(quick=True)[key]
    default, fused = _hand(workload, fused=False), _hand(workload, fused=True)
    _assert_trained(default, workload.epochs)
    for name, value in default.state.items():
        torch.testing.assert_close(fused.state[name], value, rtol=0, atol=1e-3)
    assert fused.history["loss"] == pytest.approx(default.history["loss"], rel=1e-3)


def test_epochal_compiled_side_warms_up_apart_and_trains() -> None:
    workload = workloads(quick=True)["b"]
    data = workload.make_data(SEED)
    module = build_module(workload, with_head=True, seed=SEED, device=CPU)
    result = epochal_run(workload, data, module, seed=SEED, device=CPU, compile=True)
    assert result.warmup_seconds is not None and result.warmup_seconds > 0
    # one warm-up epoch, then the workload's epochs
    assert len(result.history["loss"]) == workload.epochs + 1
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_progress_bar_run_trains_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    _, hand, ours = _both("a", verbose=1)
    _assert_same_weights(hand, ours)
    assert capsys.readouterr().out == ""  # the bar went to the fake terminal


def test_null_tty_claims_a_terminal() -> None:
    with NullTTY() as stream:
        assert stream.isatty()
        assert stream.write("\rEpoch 1/1 ...") == len("\rEpoch 1/1 ...")


def test_compare_alternates_sides_and_the_table_has_its_columns() -> None:
    workload = workloads(quick=True)["a"]
    result = compare(workload, repeats=2, seed=SEED, device=CPU, verbose_bar=True)
    assert [s.name for s in result.sides] == [
        "hand",
        "hand fused",
        "epochal verbose=0",
        "epochal verbose=1",
    ]
    assert all(len(s.ms_per_step) == 2 for s in result.sides)
    rows = rows_for(result)
    table = markdown_table(rows, {"device": "cpu"})
    lines = table.splitlines()
    assert lines[0] == "Machine: device: cpu"
    header = lines[2]
    assert [c.strip() for c in header.strip("|").split("|")] == list(COLUMNS)
    body = lines[4:]
    assert len(body) == 4
    assert "| hand |" in body[0]
    assert "| hand fused |" in body[1]
    assert "<= 0.85" in body[2] and "<= 1.03" in body[2]
    assert "<= 1.10" in body[3]


def test_cli_prints_the_table_and_saves_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    code = main(
        ["--quick", "--workloads", "b", "--repeats", "1", "--device", "cpu", "--json", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| (b) " in printed and "epochal verbose=0" in printed
    saved = json.loads(out.read_text())
    assert saved["machine"]["device"] == "cpu"
    assert set(saved["workloads"]["b"]["ms_per_step"]) == {
        "hand",
        "hand fused",
        "epochal verbose=0",
    }


def test_missing_peer_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(peers.PEERS, "missing", ("no_such_module_for_epochal_bench", {}))
    (result,) = peers.measure_peer(
        "missing", ["a"], repeats=1, device=CPU, quick=True, seed=SEED, log=lambda _: None
    )
    assert result.skipped is not None and "not importable" in result.skipped
    assert peers.rows([result], workloads(quick=True)) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_device_is_refused_without_cuda(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--device", "cuda", "--quick"])
    assert "no CUDA device is available" in capsys.readouterr().err


def test_fixed_costs_sides_train_the_same_weights() -> None:
    from bench.fixed_costs import train

    workload = workloads(quick=True)["a"]
    data = workload.make_data(SEED)
    one = train(workload, data, epochs=3, calls=1, seed=SEED)
    loop = train(workload, data, epochs=3, calls=3, seed=SEED)
    for a, b in zip(
        one.module.state_dict().values(), loop.module.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert one.history.history["loss"] == loop.history.history["loss"]


@pytest.mark.parametrize("key", ["b", "c"])
def test_inference_sides_compute_the_same(key: str) -> None:
    from bench.inference import (
        _inference_data,
        _model,
        epochal_evaluate,
        epochal_predict,
        hand_evaluate,
        hand_predict,
    )

    workload = workloads(quick=True)[key]
    x, y = _inference_data(workload, SEED)
    model = _model(workload, build_module(workload, with_head=True, seed=SEED, device=CPU))
    plain = build_module(workload, with_head=False, seed=SEED, device=CPU)
    ours, hand = epochal_evaluate(model, workload, x, y), hand_evaluate(workload, plain, x, y)
    assert ours["loss"] == pytest.approx(hand["loss"], rel=1e-5)
    assert ours["accuracy"] == pytest.approx(hand["accuracy"])
    logits = hand_predict(workload, plain, x)
    expected = torch.sigmoid(logits) if workload.task == "binary" else logits
    torch.testing.assert_close(epochal_predict(model, workload, x), expected)
    # the bench's predict hand loop runs the user's model, head included: the same outputs
    user_model = build_module(workload, with_head=True, seed=SEED, device=CPU)
    assert torch.equal(hand_predict(workload, user_model, x), epochal_predict(model, workload, x))


def test_cpu_clock_run_names_its_clock(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.runners import CLOCKS, clock, set_clock

    assert (
        main(["--quick", "--workloads", "a", "--repeats", "1", "--device", "cpu", "--clock", "cpu"])
        == 0
    )
    assert "clock: cpu" in capsys.readouterr().out
    set_clock("wall")
    assert CLOCKS["wall"] is not None and clock() > 0


def test_one_thread_runs_pin_their_process_to_one_core() -> None:
    # In a child process: pinning this one would slow the rest of the tests.
    import subprocess

    code = (
        "import os, sys; sys.path.insert(0, '.');"
        "from bench.runners import pin_to_one_core;"
        "print(pin_to_one_core(), len(os.sched_getaffinity(0)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    assert out[:3] == ["pinned", "to", "core"] and out[-1] == "1"


def test_only_peers_takes_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.run import parse_args

    args = parse_args(["--peers", "--only-peers", "keras-jax,keras-jax-steady"])
    assert args.only_peers == ["keras-jax", "keras-jax-steady"]
    with pytest.raises(SystemExit):
        parse_args(["--peers", "--only-peers", "keras-jaxx"])
    assert "keras-jaxx" in capsys.readouterr().err


def test_peer_rows_show_the_cores_a_peer_kept_busy() -> None:
    result = peers.PeerResult(
        "keras-jax-steady",
        "a",
        "3.15.1 (jax 0.10.2)",
        640,
        ms_per_step=[0.3, 0.31],
        hand_ms_per_step=[0.4, 0.4],
        cpu_per_wall=[1.0, 1.02],
    )
    (row,) = peers.rows([result], workloads(quick=True))
    assert row.runner.endswith("[CPU/wall 1.01]")
    assert row.ratio is not None and row.ratio.median == pytest.approx(0.7625)


def test_the_cuda_graph_hand_loop_needs_cuda() -> None:
    workload = workloads(quick=True)["a"]
    module = build_module(workload, with_head=False, seed=SEED, device=CPU)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        hand_graph_run(workload, workload.make_data(SEED), module, seed=SEED, device=CPU)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.filterwarnings("ignore:TensorFloat32 tensor cores:UserWarning")
@pytest.mark.parametrize("key", ["a", "b", "c", "d"])
def test_cuda_sides_see_the_same_batches_and_end_alike(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a GPU: the CUDA-graph hand loop, the fused hand loop and epochal train alike.

    cuDNN's default convolution backward adds with atomics, so two runs of
    the same loop on (d) differ in the last bits (seen at 1e-5 on an H200):
    deterministic kernels for the comparison.
    """
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    cuda = torch.device("cuda")
    workload = workloads(quick=True)[key]
    data = workload.make_data(SEED).to(cuda)

    def module(with_head: bool) -> torch.nn.Module:
        return build_module(workload, with_head=with_head, seed=SEED, device=cuda)

    fused = hand_run(workload, data, module(False), seed=SEED, device=cuda, fused=True)
    graphed = hand_graph_run(workload, data, module(False), seed=SEED, device=cuda)
    ours = epochal_run(workload, data, module(True), seed=SEED, device=cuda)
    _assert_trained(graphed, workload.epochs)
    assert set(graphed.history) == set(fused.history) == set(ours.history)
    for result in graphed, ours:
        for name, value in fused.state.items():
            torch.testing.assert_close(result.state[name], value, rtol=0, atol=1e-5, msg=name)
        for name, values in fused.history.items():
            assert result.history[name] == pytest.approx(values, rel=1e-4, abs=1e-6)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
@pytest.mark.parametrize("script", ["fixed_costs", "inference", "profiling"])
def test_every_script_refuses_cuda_without_cuda(
    script: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    module = importlib.import_module(f"bench.{script}")
    with pytest.raises(SystemExit):
        module.main(["--device", "cuda", "--quick"])
    assert "no CUDA device is available" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main(["--device", "tpu", "--quick"])
    assert "--device must be cpu or cuda. Received: 'tpu'" in capsys.readouterr().err


def test_profiling_compiled_steady_state_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.profiling import main as profile

    assert profile(["--workload", "a", "--compile", "--quick", "--tool", "none"]) == 0
    assert "(a) epochal:" in capsys.readouterr().out


def test_cuda_sides_are_named_in_order_and_the_cpu_has_none_of_them() -> None:
    from bench.compare import sides_for

    workload = workloads(quick=True)["a"]
    data = workload.make_data(SEED)

    def names(device: str) -> list[str]:
        sides = sides_for(
            workload, data, seed=SEED, device=torch.device(device), verbose_bar=False, compiled=True
        )
        return [name for name, _ in sides]

    assert names("cuda") == [
        "hand",
        "hand fused",
        "hand CUDA graph",
        "epochal verbose=0",
        "epochal compile=True",
        "epochal compile=True, no CUDA graphs",
    ]
    assert names("cpu") == ["hand", "hand fused", "epochal verbose=0", "epochal compile=True"]


def test_the_compiled_side_without_cuda_graphs_asks_torch_for_its_default_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import epochal._step as ep_step

    modes: list[str] = []
    real = torch.compile

    def recording(fn, **kwargs):
        modes.append(kwargs.get("mode"))
        return real(fn, **kwargs)

    monkeypatch.setattr(torch, "compile", recording)
    monkeypatch.setattr(ep_step, "compile_mode", lambda device, graphs=None: "reduce-overhead")
    workload = workloads(quick=True)["a"]
    data = workload.make_data(SEED)
    module = build_module(workload, with_head=True, seed=SEED, device=CPU)
    epochal_run(workload, data, module, seed=SEED, device=CPU, compile=True, cuda_graphs=False)
    assert "default" in modes  # the whole step
    assert "reduce-overhead" not in modes
