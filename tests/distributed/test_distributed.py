"""epochal.distributed on 2 gloo processes launched by torchrun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epochal import distributed as d

from ._launch import torchrun

HERE = Path(__file__).parent


def test_a_plain_process_is_a_world_of_one(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    w = d.setup()
    assert (w.rank, w.size, w.distributed, w.is_main) == (0, 1, False, True)
    assert d.any_rank(True) and not d.any_rank(False)
    assert d.broadcast_object(5) == 5


def test_partial_torchrun_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(d.DistributedError, match="not \\['WORLD_SIZE'"):
        d.setup()


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_shards_cover_every_row_once(size):
    for n in range(0, 23):
        seen = []
        for rank in range(size):
            start, stop = d.shard_bounds(n, rank, size)
            seen.extend(range(start, stop))
        assert seen == list(range(n))


@pytest.mark.slow
def test_collectives_on_two_gloo_processes(tmp_path):
    done = torchrun(HERE / "collectives_script.py", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, result in enumerate(results):
        assert (result["rank"], result["size"], result["backend"]) == (r, 2, "gloo")
        assert result["is_main"] == (r == 0)
        assert result["sum"] == 3.0
        assert result["any_only_rank1"] is True and result["any_none"] is False
        assert result["gathered"] == [0.0, 10.0, 11.0]
        assert result["broadcast"] == {"from": 0}
        assert result["saw_first"] is True
    assert [tuple(r["bounds"]) for r in results] == [(0, 5), (5, 10)]
