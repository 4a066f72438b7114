"""Steady-state epoch time: epochal eager, epochal ``compile=True``, and Keras on JAX.

JAX (and ``torch.compile``) pay a compilation up front and then run faster;
this measures the epochs after that, to answer "does compile on the CPU beat
Keras-on-JAX's steady state?". Each side trains the workload's model, warms up
for ``--warmup`` epochs (compilation happens there), then times ``--epochs``
more epochs inside one ``fit`` call. Keras runs in the peers' environment
(``.venv-bench``, see ``requirements-peers.txt``), in its own process.

    python bench/steady_state.py --workloads a,b,c --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.runners import epochal_model, pin_to_one_core  # noqa: E402
from bench.workloads import workloads  # noqa: E402

PEERS_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def epochal_epoch_ms(key: str, *, compile: bool, warmup: int, epochs: int, seed: int = 0) -> float:

    workload = workloads()[key]
    data = workload.make_data(seed)
    x, y, x_val, y_val = workload.split(data)
    torch.manual_seed(seed)
    model = epochal_model(
        workload, workload.make_module(True), device=torch.device("cpu"), seed=seed, compile=compile
    )
    kwargs = dict(
        batch_size=workload.batch_size,
        verbose=0,
        validation_data=(x_val, y_val) if x_val is not None else None,
    )
    model.fit(x, y, epochs=warmup, **kwargs)
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, **kwargs)
    return (time.perf_counter() - start) / epochs * 1e3


def keras_epoch_ms(key: str, *, warmup: int, epochs: int, seed: int = 0) -> float:
    import keras

    workload = workloads()[key]
    data = workload.make_data(seed)
    x, y, x_val, y_val = (None if t is None else t.numpy() for t in workload.split(data))
    keras.utils.set_random_seed(seed)
    if workload.task == "binary":
        hidden, out, head = [128], 1, "sigmoid"
    else:
        hidden, out, head = [256, 256], 10, "softmax"
    model = keras.Sequential(
        [
            keras.Input(shape=x.shape[1:]),
            *(keras.layers.Dense(h, activation="relu") for h in hidden),
            keras.layers.Dense(out, activation=head),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=workload.loss, metrics=list(workload.metrics)
    )
    kwargs = dict(
        batch_size=workload.batch_size,
        verbose=0,
        validation_data=(x_val, y_val) if x_val is not None else None,
    )
    model.fit(x, y, epochs=warmup, **kwargs)
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, **kwargs)
    return (time.perf_counter() - start) / epochs * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="a,b,c")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keras-jax", action="store_true", help="(internal) the Keras side")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.threads == 1:
        # Keras's process inherits the affinity: JAX's dispatch thread shares the core too.
        print(pin_to_one_core(), file=sys.stderr)
    keys = args.workloads.split(",")
    if args.keras_jax:
        print(
            json.dumps(
                {
                    k: [
                        keras_epoch_ms(k, warmup=args.warmup, epochs=args.epochs)
                        for _ in range(args.repeats)
                    ]
                    for k in keys
                }
            )
        )
        return 0
    keras_ms: dict[str, list[float]] = {}
    if PEERS_PYTHON.exists():
        env = {**os.environ, "KERAS_BACKEND": "jax"}
        if args.threads:
            env.update(
                {
                    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
                    "OMP_NUM_THREADS": str(args.threads),
                }
            )
        proc = subprocess.run(
            [
                str(PEERS_PYTHON),
                __file__,
                "--keras-jax",
                "--workloads",
                args.workloads,
                "--warmup",
                str(args.warmup),
                "--epochs",
                str(args.epochs),
                "--repeats",
                str(args.repeats),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode == 0:
            keras_ms = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            print(f"keras-jax skipped: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    print(
        "| workload | epochal eager ms/epoch | epochal compile=True ms/epoch | Keras (JAX) ms/epoch |"
    )
    print("|---|---|---|---|")
    for key in keys:
        eager = [
            epochal_epoch_ms(key, compile=False, warmup=args.warmup, epochs=args.epochs)
            for _ in range(args.repeats)
        ]
        compiled = [
            epochal_epoch_ms(key, compile=True, warmup=args.warmup, epochs=args.epochs)
            for _ in range(args.repeats)
        ]
        jax = keras_ms.get(key)
        jax_text = f"{statistics.median(jax):.1f}" if jax else "not installed"
        print(
            f"| ({key}) | {statistics.median(eager):.1f} | {statistics.median(compiled):.1f} | {jax_text} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
