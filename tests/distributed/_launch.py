"""Launch a script on N gloo processes with torchrun (the launcher users run)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(
    script: Path,
    *args: str,
    nproc: int = 2,
    timeout: float = 240,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` under torchrun on ``nproc`` CPU processes; returns the finished process."""
    env = dict(os.environ if env is None else env)
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        *(extra or []),
        str(script),
        *args,
    ]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
