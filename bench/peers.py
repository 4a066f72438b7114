"""The optional peers: Keras 3 (torch, jax, tensorflow backends), Lightning, Poutyne, skorch.

Each peer runs in its own process (Keras reads ``KERAS_BACKEND`` once, at
import, and the frameworks' thread pools should not share a process), which
times the peer and the hand loop of `bench.runners` alternately, as
`bench.compare` does for epochal: the ratio peer / hand loop is measured side
by side there. A peer that is not installed is skipped with a note.

Every peer trains the workload's model with Adam (learning rate 1e-3), the
workload's batch size and epochs, shuffling, the same validation data and
accuracy when the workload has them, silent (no progress output, no logger,
no checkpoint files), written as its documentation shows:

- Keras: ``Sequential`` of ``Dense`` layers, ``compile``, ``fit`` on numpy
  arrays (Keras's own defaults, e.g. jit compilation on jax/tensorflow);
- Lightning: a ``LightningModule`` logging its loss (and accuracy) with
  ``self.log``, ``Trainer(...).fit`` on ``DataLoader(TensorDataset, shuffle=True)``;
- Poutyne: ``poutyne.Model(...).fit`` on tensors;
- skorch: ``NeuralNetBinaryClassifier``/``NeuralNetClassifier`` on numpy arrays.

Workload (a) is 20 one-epoch ``fit`` calls for Keras and Poutyne (``fit``
again) and skorch (``partial_fit``); Lightning's ``Trainer`` has no such
continuation, so it runs one ``fit`` of 20 epochs there (a slight advantage).

Run by `bench.run` (``--peers``); on its own::

    python -m bench.peers --peer keras-torch --workloads a,b --repeats 3 --out result.json
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.compare import stats
from bench.report import Row
from bench.runners import build_module, clock, hand_run, pin_to_one_core, set_clock, synchronize
from bench.workloads import LEARNING_RATE, Data, Workload, make_optimizer, workloads

__all__ = ["PEERS", "PEER_WORKLOADS", "PeerResult", "rows", "run_all"]

#: peer name -> (module to import, environment it needs)
PEERS: dict[str, tuple[str, dict[str, str]]] = {
    "keras-torch": ("keras", {"KERAS_BACKEND": "torch"}),
    "keras-jax": ("keras", {"KERAS_BACKEND": "jax"}),
    # Keras on JAX in steady state: one untimed warm-up epoch on the same model
    # first (where XLA compiles), as epochal's compile=True is timed.
    "keras-jax-steady": ("keras", {"KERAS_BACKEND": "jax"}),
    "keras-tensorflow": ("keras", {"KERAS_BACKEND": "tensorflow"}),
    "lightning": ("lightning", {}),
    "poutyne": ("poutyne", {}),
    "skorch": ("skorch", {}),
}
PEER_WORKLOADS = ("a", "b", "c")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PeerResult:
    """One peer on one workload (or a skip note, then ``key`` is None)."""

    peer: str
    key: str | None = None
    version: str = ""
    steps: int = 0
    ms_per_step: list[float] = field(default_factory=list)
    hand_ms_per_step: list[float] = field(default_factory=list)
    skipped: str | None = None
    # The peer's process CPU time over its wall time, per repeat: about 1 for a
    # peer that keeps to one thread, more for one using several cores.
    cpu_per_wall: list[float] = field(default_factory=list)
    clock: str = "wall"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the parent side -----------------------------------------------------------------
def run_all(
    keys: list[str],
    *,
    repeats: int,
    device: torch.device,
    quick: bool,
    seed: int,
    python: str,
    log: Callable[[str], None],
    threads: int | None = None,
    peers: list[str] | None = None,
    timeout_s: float = 3600.0,
    clock_name: str = "wall",
) -> list[PeerResult]:
    """Run every peer (or ``peers``) on workloads ``keys``, each in its own process."""
    results: list[PeerResult] = []
    if not keys:
        return results
    for peer in peers or list(PEERS):
        _, env_extra = PEERS[peer]
        log(f"peer {peer}: workloads {','.join(keys)}, {repeats} repeats (own process)")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "result.json"
            cmd = [
                python,
                "-m",
                "bench.peers",
                "--peer",
                peer,
                "--workloads",
                ",".join(keys),
                "--repeats",
                str(repeats),
                "--device",
                device.type,
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--clock",
                clock_name,
                *(["--quick"] if quick else []),
                *(["--threads", str(threads)] if threads is not None else []),
            ]
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env_extra, **_thread_env(threads)}
            try:
                proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, timeout=timeout_s, check=False)
            except subprocess.TimeoutExpired:
                results.append(PeerResult(peer, skipped=f"timed out after {timeout_s:.0f} s"))
                continue
            if proc.returncode != 0 or not out.exists():
                results.append(PeerResult(peer, skipped=f"failed (exit {proc.returncode})"))
                continue
            results.extend(PeerResult(**r) for r in json.loads(out.read_text(encoding="utf-8")))
    return results


def _thread_env(threads: int | None) -> dict[str, str]:
    """Environment that limits the peers' own thread pools (TensorFlow, XLA, OpenMP) too."""
    if threads is None:
        return {}
    n = str(threads)
    xla = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
    xla += f"intra_op_parallelism_threads={n}"
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {xla}".strip(),
    }


def rows(results: list[PeerResult], by_key: Mapping[str, Workload]) -> list[Row]:
    """Table rows for the peers that ran."""
    out = []
    for r in results:
        if r.skipped or r.key is None:
            continue
        wl = by_key[r.key]
        ratios = [p / h for p, h in zip(r.ms_per_step, r.hand_ms_per_step, strict=True)]
        name = f"{r.peer} {r.version}".strip()
        if r.cpu_per_wall:  # how many cores the peer kept busy: 1.0 is one thread
            name += f" [CPU/wall {stats(r.cpu_per_wall).median:.2f}]"
        out.append(Row(wl.key, wl.title, name, r.steps, stats(r.ms_per_step).median, stats(ratios)))
    return out


# -- the peers (run in the child process) ----------------------------------------------
def _numpy(t: Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy()


def _keras(
    workload: Workload, data: Data, device: torch.device, seed: int, *, steady: bool = False
) -> float:
    """Keras as its guide writes it; ``steady``: time after one untimed warm-up epoch."""
    import keras

    keras.utils.set_random_seed(seed)
    x, y, x_val, y_val = (_numpy(t) for t in workload.split(data))
    if workload.task == "binary":
        hidden, out, head, loss = [128], 1, "sigmoid", "binary_crossentropy"
    else:
        hidden, out, head, loss = [256, 256], 10, "softmax", "sparse_categorical_crossentropy"
    assert x is not None
    model = keras.Sequential(
        [
            keras.Input(shape=x.shape[1:]),
            *(keras.layers.Dense(h, activation="relu") for h in hidden),
            keras.layers.Dense(out, activation=head),
        ]
    )
    validation = (x_val, y_val) if x_val is not None else None
    start = clock()
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss, metrics=list(workload.metrics)
    )
    if steady:  # XLA compiles the steps in this epoch; the timed epochs reuse them
        fit = {"batch_size": workload.batch_size, "validation_data": validation, "verbose": 0}
        model.fit(x, y, epochs=1, **fit)  # type: ignore[arg-type]
        start = clock()
    for _ in range(workload.fit_calls):
        model.fit(
            x,
            y,
            batch_size=workload.batch_size,
            epochs=workload.epochs // workload.fit_calls,
            validation_data=validation,
            verbose=0,
        )
    return clock() - start


def _loss_and_hits(workload: Workload) -> tuple[Callable[..., Tensor], Callable[..., Tensor]]:
    if workload.task == "binary":
        return F.binary_cross_entropy_with_logits, lambda p, y: ((p > 0) == (y > 0.5)).sum()
    return F.cross_entropy, lambda p, y: (p.argmax(dim=1) == y).sum()


def _lightning(workload: Workload, data: Data, device: torch.device, seed: int) -> float:
    import logging

    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    # Lightning sets its loggers to INFO at import: its per-fit notices are not wanted here.
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    loss_fn, hits = _loss_and_hits(workload)
    track = workload.tracks_accuracy

    class Classifier(L.LightningModule):
        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch: Any, batch_idx: int) -> Tensor:
            x, y = batch
            logits = self.net(x)
            loss = loss_fn(logits, y)
            self.log("loss", loss)
            if track:
                self.log("accuracy", hits(logits, y) / y.shape[0])
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            logits = self.net(x)
            self.log("val_loss", loss_fn(logits, y))
            if track:
                self.log("val_accuracy", hits(logits, y) / y.shape[0])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return make_optimizer(self.parameters())

    net = build_module(workload, with_head=False, seed=seed, device=torch.device("cpu"))
    # DataLoaders read host memory (pinned for CUDA); Lightning moves each batch.
    x, y, x_val, y_val = workload.split(data.to(torch.device("cpu")))
    pin = device.type == "cuda"
    bs = workload.batch_size
    train = DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True, pin_memory=pin)
    val = None
    if x_val is not None and y_val is not None:
        val = DataLoader(TensorDataset(x_val, y_val), batch_size=bs, pin_memory=pin)
    start = clock()
    trainer = L.Trainer(
        max_epochs=workload.epochs,
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Classifier(net), train, val)
    synchronize(device)
    return clock() - start


def _poutyne(workload: Workload, data: Data, device: torch.device, seed: int) -> float:
    import poutyne

    net = build_module(workload, with_head=False, seed=seed, device=device)
    x, y, x_val, y_val = workload.split(data)
    loss = nn.BCEWithLogitsLoss() if workload.task == "binary" else nn.CrossEntropyLoss()
    metric = "binary_accuracy" if workload.task == "binary" else "accuracy"
    validation = (x_val, y_val) if x_val is not None else None
    start = clock()
    model = poutyne.Model(
        net,
        make_optimizer(net.parameters()),
        loss,
        batch_metrics=[metric] if workload.tracks_accuracy else [],
        device=device,
    )
    for _ in range(workload.fit_calls):
        model.fit(
            x,
            y,
            validation_data=validation,
            epochs=workload.epochs // workload.fit_calls,
            batch_size=workload.batch_size,
            verbose=False,
        )
    synchronize(device)
    return clock() - start


def _skorch(workload: Workload, data: Data, device: torch.device, seed: int) -> float:
    from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    net_module = build_module(workload, with_head=False, seed=seed, device=device)
    x, y, x_val, y_val = (_numpy(t) for t in workload.split(data))
    assert x is not None and y is not None
    binary = workload.task == "binary"
    if binary:  # skorch's binary classifier wants 1-D float targets
        y = y.reshape(-1)
        y_val = None if y_val is None else y_val.reshape(-1)
    split = predefined_split(Dataset(x_val, y_val)) if x_val is not None else None
    start = clock()
    net = (NeuralNetBinaryClassifier if binary else NeuralNetClassifier)(
        module=net_module,
        criterion=nn.BCEWithLogitsLoss if binary else nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LEARNING_RATE,
        batch_size=workload.batch_size,
        max_epochs=workload.epochs // workload.fit_calls,
        train_split=split,
        iterator_train__shuffle=True,
        device=device.type,
        verbose=0,
    )
    for _ in range(workload.fit_calls):
        net.partial_fit(x, y)
    synchronize(device)
    return clock() - start


_RUNNERS: dict[str, Callable[[Workload, Data, torch.device, int], float]] = {
    "keras-torch": _keras,
    "keras-jax": _keras,
    "keras-jax-steady": functools.partial(_keras, steady=True),
    "keras-tensorflow": _keras,
    "lightning": _lightning,
    "poutyne": _poutyne,
    "skorch": _skorch,
}


def _version(peer: str) -> str:
    module_name = PEERS[peer][0]
    module = sys.modules.get(module_name)
    version = getattr(module, "__version__", "")
    if peer.startswith("keras-"):
        backend = peer.split("-")[1]
        backend_module = sys.modules.get(backend)
        version += f" ({backend} {getattr(backend_module, '__version__', '?')})"
    return version


def measure_peer(
    peer: str,
    keys: list[str],
    *,
    repeats: int,
    device: torch.device,
    quick: bool,
    seed: int,
    log: Callable[[str], None],
) -> list[PeerResult]:
    """Time ``peer`` and the hand loop alternately on each workload (in this process)."""
    module_name = PEERS[peer][0]
    try:
        __import__(module_name)
        if peer.startswith("keras-"):
            __import__(peer.split("-")[1])
    except Exception as exc:  # ImportError, or a backend that fails to load
        return [PeerResult(peer, skipped=f"not importable: {type(exc).__name__}: {exc}")]
    run_peer = _RUNNERS[peer]
    results = []
    by_key = workloads(quick=quick)
    for key in keys:
        workload = by_key[key]
        data = workload.make_data(seed).to(device)
        steps = workload.train_steps(data)

        def hand(wl: Workload = workload, d: Data = data) -> float:
            module = build_module(wl, with_head=False, seed=seed, device=device)
            return hand_run(wl, d, module, seed=seed, device=device).seconds

        def other(wl: Workload = workload, d: Data = data) -> float:
            return run_peer(wl, d, device, seed)

        result = PeerResult(peer, key, _version(peer), steps)
        hand()
        other()  # warm-up: imports, tracing/jit compilation
        for r in range(repeats):
            gc.collect()
            result.hand_ms_per_step.append(1e3 * hand() / steps)
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            result.ms_per_step.append(1e3 * other() / steps)
            result.cpu_per_wall.append(
                (time.process_time() - cpu) / max(time.perf_counter() - wall, 1e-9)
            )
            log(
                f"  ({key}) {peer} repeat {r + 1}/{repeats}: ms/step hand "
                f"{result.hand_ms_per_step[-1]:.3f}, {peer} {result.ms_per_step[-1]:.3f}"
            )
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time one peer against the hand loop.")
    parser.add_argument("--peer", choices=sorted(PEERS), required=True)
    parser.add_argument("--workloads", default=",".join(PEER_WORKLOADS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args(argv)
    set_clock(args.clock)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.threads == 1 and args.device == "cpu":
        pin_to_one_core()  # the peer's helper threads share the one core too
    keys = [k for k in args.workloads.split(",") if k]
    bad = [k for k in keys if k not in PEER_WORKLOADS]
    if bad:
        parser.error(f"--workloads: peers run on {','.join(PEER_WORKLOADS)}. Received: {bad}")
    if args.peer.startswith("keras-"):
        os.environ["KERAS_BACKEND"] = args.peer.split("-")[1]
    # The peers' own notices (data loader workers, deprecations) are not ours to show.
    warnings.filterwarnings("ignore")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = measure_peer(
        args.peer,
        keys,
        repeats=args.repeats,
        device=torch.device(args.device),
        quick=args.quick,
        seed=args.seed,
        log=log,
    )
    args.out.write_text(json.dumps([r.to_dict() for r in results]) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
