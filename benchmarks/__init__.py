"""Benchmarks, run as ``python -m benchmarks.<name>`` from the repository root.

Importing this package sets ``OMP_WAIT_POLICY=PASSIVE`` for the benchmark
process unless the caller set it: the figures are measured on shared cores,
where spinning OpenMP threads slow parallel regions by up to two orders of
magnitude (``python -m benchmarks.omp_wait_policy``). The library itself never
sets it (see ``coclust_deep.kernels._config``).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
