"""epochal's benchmark: epochal against a hand-written PyTorch loop, side by side.

Run it from the repository root with ``python bench/run.py`` (see
``bench/README.md``). The modules, read in this order:

- `bench.workloads`: the workloads (a)-(d): data, model, loss and schedule;
- `bench.runners`: the hand-written fast loop and the epochal runner, each
  training one workload once and timing it;
- `bench.compare`: repeats, alternating the two, and turns times into ratios;
- `bench.report`: the Markdown table and machine information;
- `bench.peers`: the optional peers (Keras 3, Lightning, Poutyne, skorch);
- `bench.run`: the command line;
- `bench.profiling`: profile one runner (cProfile, torch.profiler, py-spy).
"""
