"""Out-of-core latent block models on dask.distributed: matrices of at least 10x a worker's memory limit.

Run: ``python -m benchmarks.lbm_out_of_core`` (``--quick`` for a small smoke
run; ``--workdir`` for the data, default a temporary folder that is removed).
Two planted matrices are written to disk block by block (never held whole):

* ``dense``: float32 Gaussian with 4 x 4 planted blocks, a plain zarr array
  (``dask.array.from_zarr``), uncompressed;
* ``csr``: Poisson counts with 4 x 4 planted blocks, an anndata CSR element
  in a zarr group, written with anndata's ``sparse_dataset(...).append`` and
  read with anndata's lazy reader (``tl._utils.lazy_matrix``), uncompressed.

For each, on a ``LocalCluster`` of processes with ``--worker-memory`` each
(1 dask thread and 1 numba thread per worker):

* the floor: one read of every block of X by the workers (``map_reduce`` with
  no work), cold (the files' pages dropped from the OS cache with
  ``posix_fadvise(DONTNEED)``) and warm (right after);
* one row half-step and one column half-step (soft, the VEM E-steps) as
  ratios to the warm read measured just before them, and cold as a ratio to
  the cold read;
* after a warm-up fit on the first two blocks (imports and compiled kernels
  loaded on every worker, as on a long-lived cluster; timed apart),
  the whole fit (``LatentBlockModel(4, 4, n_init=1, init="spectral")``) with
  1 and 2 workers: wall time, ARI of both partitions against the planted
  blocks, the driver's peak RSS and each worker's peak memory as
  distributed reports it (the scheduler's per-worker process memory, sampled
  every 0.2 s, and each worker's ``VmHWM``), and whether a worker was
  restarted;
* the in-memory numba fit (same starts) when it fits in the free memory,
  else the memory it would need.

``--scaling passes`` measures scaling without the two whole fits: on the same
store, the floor read and both half-steps with 1 worker and then with 2
(each on its own cluster, same warm-up), and their 1-to-2-worker speed-ups.
It merges the figures into the case of the existing JSON (key
``scaling_passes``) and leaves the fit figures there as they are.

Timings record ``os.getloadavg()``. Writes ``benchmarks/results/lbm_out_of_core.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
G = M = 4
DENSE_MEANS = np.array([[0.0, 0.5, 1.0, 1.5], [0.5, 0.0, 1.5, 1.0],
                        [1.0, 1.5, 0.0, 0.5], [1.5, 1.0, 0.5, 0.0]], dtype=np.float32)
POISSON_RATES = np.array([[0.02, 0.06, 0.04, 0.02], [0.06, 0.02, 0.02, 0.04],
                          [0.04, 0.02, 0.06, 0.02], [0.02, 0.04, 0.02, 0.06]])


def planted_labels(n, k, seed):
    """Balanced planted labels in a fixed random order."""
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


# ------------------------------------------------------------------ data


def _dense_block(block_id, rows, n_cols, z, w):
    i = block_id[0]
    rng = np.random.default_rng([11, i])
    zi = z[i * rows:(i + 1) * rows]
    return DENSE_MEANS[zi][:, w] + rng.standard_normal((zi.size, n_cols), dtype=np.float32)


def write_dense(path, n_rows, n_cols, rows):
    import dask
    import dask.array as da

    z, w = planted_labels(n_rows, G, 1), planted_labels(n_cols, M, 2)
    chunks = (tuple(min(rows, n_rows - i) for i in range(0, n_rows, rows)), (n_cols,))
    X = da.map_blocks(_dense_block, chunks=chunks, dtype=np.float32, rows=rows, n_cols=n_cols, z=z, w=w)
    with dask.config.set(scheduler="threads", num_workers=2):
        da.to_zarr(X, path, compressors=None)
    return z, w


def _csr_block(rng, z_block, w, rates):
    """Poisson(rate[z_i, w_j]) counts for rows ``z_block``: per (row, column cluster) a Poisson total
    spread uniformly over the cluster's columns, which makes every cell an independent Poisson draw."""
    import scipy.sparse as sp

    columns = [np.flatnonzero(w == l) for l in range(M)]
    sizes = np.array([c.size for c in columns])
    totals = rng.poisson(rates[z_block] * sizes[None, :])  # (rows, M)
    row_idx, col_idx = [], []
    for l in range(M):
        reps = totals[:, l]
        rows = np.repeat(np.arange(z_block.size, dtype=np.int32), reps)
        row_idx.append(rows)
        col_idx.append(columns[l][rng.integers(0, sizes[l], rows.size)].astype(np.int32))
    rows, cols = np.concatenate(row_idx), np.concatenate(col_idx)
    X = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(z_block.size, w.size))
    X.sum_duplicates()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int64)
    return X


def write_csr(path, n_rows, n_cols, rows):
    import anndata as ad
    import zarr

    z, w = planted_labels(n_rows, G, 3), planted_labels(n_cols, M, 4)
    group = zarr.open_group(path, mode="w", zarr_format=3)
    kwargs = {"compressors": None, "chunks": (1 << 22,)}
    rng = np.random.default_rng(12)
    dataset = None
    for start in range(0, n_rows, rows):
        block = _csr_block(rng, z[start:start + rows], w, POISSON_RATES)
        if dataset is None:
            ad.io.write_elem(group, "X", block, dataset_kwargs=kwargs)
            dataset = ad.io.sparse_dataset(group["X"])
        else:
            dataset.append(block)
    return z, w


def open_dense(path):
    import dask.array as da

    return da.from_zarr(path)


def open_csr(path):
    import zarr

    from coclust_deep.tl._utils import lazy_matrix

    return lazy_matrix(zarr.open_group(path, mode="r")["X"])


def stored_bytes(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def drop_from_page_cache(path):
    """Ask the OS to drop the cached pages of every file under ``path`` (no root needed)."""
    for f in Path(path).rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# --------------------------------------------------------------- measures


class MemorySampler:
    """Peak driver RSS and each worker's peak process memory as the scheduler reports it."""

    def __init__(self, client, interval=0.2):
        import psutil

        self.client, self.interval, self.process = client, interval, psutil.Process()
        self.driver_peak, self.worker_peaks = 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.driver_peak = max(self.driver_peak, self.process.memory_info().rss)
            for address, info in self.client.scheduler_info(n_workers=-1)["workers"].items():
                memory = info.get("metrics", {}).get("memory", 0)
                self.worker_peaks[address] = max(self.worker_peaks.get(address, 0), memory)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def peak_rss():
    """This process's peak resident memory (Linux ``VmHWM``; ``ru_maxrss`` would carry the parent's
    peak over the ``exec`` that started a spawned worker)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


def _noop_block(block):
    return (), (int(block.shape[0]),)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def half_steps(X, path, n_rows, n_cols, seed=0, cold_half_step=True):
    """Floor reads and the two soft half-steps, cold and warm, on the current client."""
    from coclust_deep.kernels import dask_backend as dk

    rng = np.random.default_rng(seed)
    Xp = dk.prepare(X)
    Xt = dk.transpose(Xp)
    T = rng.dirichlet(np.ones(M), n_cols)
    S = rng.dirichlet(np.ones(G), n_rows)
    A, w = rng.normal(size=(G, M)) * 0.01, np.zeros(G)
    read = lambda: dk.map_reduce(Xp, _noop_block)  # noqa: E731
    row = lambda: dk.row_estep(Xp, T, A, None, w)  # noqa: E731
    col = lambda: dk.row_estep(Xt, S, np.ascontiguousarray(A.T), None, np.zeros(M))  # noqa: E731
    out = {}
    drop_from_page_cache(path)
    out["read_cold_s"], (_, (rows_read,)) = timed(read)
    assert rows_read == n_rows
    out["read_warm_s"], _ = timed(read)
    out["row_half_step_s"], _ = timed(row)
    out["column_half_step_s"], _ = timed(col)
    out["row_half_step_over_read_warm"] = out["row_half_step_s"] / out["read_warm_s"]
    out["column_half_step_over_read_warm"] = out["column_half_step_s"] / out["read_warm_s"]
    if cold_half_step:
        drop_from_page_cache(path)
        out["row_half_step_cold_s"], _ = timed(row)
        out["row_half_step_cold_over_read_cold"] = out["row_half_step_cold_s"] / out["read_cold_s"]
    return out


def warm_up(X, family):
    """Import the package and load the numba kernels for X's dtypes on every worker and the driver."""
    import warnings

    from coclust_deep import LatentBlockModel

    head = X[:min(X.shape[0], sum(X.chunks[0][:2]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LatentBlockModel(G, M, family=family, n_init=1, init="spectral", max_iter=2, random_state=0).fit(head)


def local_cluster(n_workers, worker_memory):
    import distributed

    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                    memory_limit=worker_memory, dashboard_address=None,
                                    env={"NUMBA_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})


def passes_on_cluster(open_x, path, family, n_workers, worker_memory):
    """The floor read and both half-steps on a fresh cluster of ``n_workers`` (the scaling measure)."""
    import distributed

    with local_cluster(n_workers, worker_memory) as cluster, distributed.Client(cluster):
        X = open_x(path)
        out = {"n_workers": n_workers}
        out["warm_up_s"], _ = timed(lambda: warm_up(X, family))
        out["load_before"] = os.getloadavg()
        out.update(half_steps(X, path, *X.shape, cold_half_step=False))
        out["load_after"] = os.getloadavg()
    return out


def fit_on_cluster(open_x, path, family, z, w, n_workers, worker_memory, init_kwargs):
    import distributed

    from coclust_deep import LatentBlockModel
    from coclust_deep.metrics import ari

    with local_cluster(n_workers, worker_memory) as cluster, distributed.Client(cluster) as client:
        X = open_x(path)
        out = {"n_workers": n_workers}
        # a long-lived cluster has imported the package and loaded the compiled kernels already
        out["warm_up_s"], _ = timed(lambda: warm_up(X, family))
        pids = client.run(os.getpid)
        out["load_before"] = os.getloadavg()
        if n_workers == 2:
            out["floor_and_half_steps"] = half_steps(X, path, *X.shape)
        model = LatentBlockModel(G, M, family=family, **init_kwargs)
        with MemorySampler(client) as sampler:
            out["fit_s"], _ = timed(lambda: model.fit(X))
        out.update({
            "load_after": os.getloadavg(),
            "n_iter": int(model.n_iter_),
            "row_ari": float(ari(z, model.row_labels_)),
            "col_ari": float(ari(w, model.column_labels_)),
            "driver_peak_rss_bytes": int(sampler.driver_peak),
            "worker_peak_memory_bytes_distributed": sorted(int(v) for v in sampler.worker_peaks.values()),
            "worker_peak_rss_bytes_os": sorted(int(v) for v in client.run(peak_rss).values()),
            "worker_restarted": client.run(os.getpid) != pids,
        })
    return out, model


def in_memory_fit(open_x, path, family, model_dask, init_kwargs, stored, reserve):
    import psutil

    from coclust_deep import LatentBlockModel

    # 4x the store for either layout: dense, the loaded X, its centred and transposed copies (a 6.6 GB store
    # passed a 2x estimate here and was killed at 24 GB); CSR, the loaded copy, its widened indices and the
    # fit's working arrays (a 6.6 GB store took over 23 GB when this read 1.3x)
    need = 4 * stored + 2**30
    available = psutil.virtual_memory().available
    if need > available - reserve:
        return {"skipped": f"needs about {need / 2**30:.1f} GiB, {available / 2**30:.1f} GiB available "
                           f"(keeping {reserve / 2**30:.0f} GiB for other processes)"}
    load_s, X = timed(lambda: open_x(path).compute())
    model = LatentBlockModel(G, M, family=family, backend="numba", **init_kwargs)
    fit_s, _ = timed(lambda: model.fit(X))
    return {
        "load_s": load_s, "fit_s": fit_s, "load": os.getloadavg(),
        "same_partition_as_dask": bool(np.array_equal(model.row_labels_, model_dask.row_labels_)
                                       and np.array_equal(model.column_labels_, model_dask.column_labels_)),
    }


def run_case(name, workdir, n_rows, n_cols, rows, worker_memory, reserve, scaling):
    from dask.utils import parse_bytes

    path = str(Path(workdir) / f"{name}.zarr")
    writer, opener, family = {
        "dense": (write_dense, open_dense, "gaussian"),
        "csr": (write_csr, open_csr, "poisson"),
    }[name]
    write_s, (z, w) = timed(lambda: writer(path, n_rows, n_cols, rows))
    X = opener(path)
    stored = stored_bytes(path)
    limit = parse_bytes(worker_memory)
    case = {
        "case": name, "family": family, "shape": [n_rows, n_cols], "dtype": str(X.dtype),
        "row_blocks": int(X.numblocks[0]), "stored_bytes": int(stored), "worker_memory_limit_bytes": int(limit),
        "stored_over_worker_limit": stored / limit, "write_s": write_s,
    }
    if scaling == "passes":
        runs = [passes_on_cluster(opener, path, family, n, worker_memory) for n in (1, 2)]
        case["scaling_passes"] = {"runs": runs, "speedup_1_to_2_workers": {
            key: runs[0][f"{key}_s"] / runs[1][f"{key}_s"]
            for key in ("read_cold", "read_warm", "row_half_step", "column_half_step")}}
        shutil.rmtree(path)
        return case
    init_kwargs = dict(n_init=1, init="spectral", random_state=0)
    fits = []
    for n_workers in ((1, 2) if scaling == "fit" else (2,)):
        out, model = fit_on_cluster(opener, path, family, z, w, n_workers, worker_memory, init_kwargs)
        fits.append(out)
    case["fits"] = fits
    print(json.dumps({"case": name, "fits": fits}, indent=1), flush=True)  # kept if the in-memory fit fails
    two = fits[-1]
    if scaling == "fit":
        case["speedup_1_to_2_workers"] = fits[0]["fit_s"] / two["fit_s"]
    case["in_memory"] = in_memory_fit(opener, path, family, model, init_kwargs, stored, reserve)
    if "fit_s" in case["in_memory"]:
        case["dask_2_workers_over_in_memory_fit"] = two["fit_s"] / case["in_memory"]["fit_s"]
    shutil.rmtree(path)
    return case


def merge_scaling(previous, result):
    """The previous results with each new case's ``scaling_passes`` put into the case of the same name."""
    by_name = {case["case"]: case for case in previous["cases"]}
    for case in result["cases"]:
        old = by_name.get(case["case"])
        if old is None or old["shape"] != case["shape"]:
            previous["cases"].append(case)
        else:
            old["scaling_passes"] = dict(case["scaling_passes"], load_start=result["load_start"],
                                         load_end=result["load_end"])
    return previous


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small matrices (a smoke run, not 10x the limit)")
    ap.add_argument("--worker-memory", default="600MiB", help="memory limit of each worker")
    ap.add_argument("--dense-shape", type=int, nargs=2, default=[820_000, 2_000])
    ap.add_argument("--csr-shape", type=int, nargs=2, default=[1_200_000, 20_000])
    ap.add_argument("--rows-per-block", type=int, default=None,
                    help="rows per stored chunk (default: about 16 MiB per chunk)")
    ap.add_argument("--block-size", default=None,
                    help="dask's array.chunk-size: the size of the row blocks read from the CSR store "
                         "(default 16MiB; 1MiB with --quick, so that its small store has several blocks)")
    ap.add_argument("--cases", nargs="+", default=["dense", "csr"], choices=["dense", "csr"])
    ap.add_argument("--no-scaling", action="store_true", help="skip the 1-worker fit (same as --scaling none)")
    ap.add_argument("--scaling", choices=["fit", "passes", "none"], default="fit",
                    help="fit: whole fits with 1 and 2 workers; passes: only the read and half-steps with 1 and 2 "
                         "workers, merged into the existing JSON")
    ap.add_argument("--reserve", default="8GiB", help="memory left to other processes before an in-memory fit")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=str(RESULTS / "lbm_out_of_core.json"))
    args = ap.parse_args(argv)
    from dask.utils import parse_bytes

    if args.quick:
        args.dense_shape, args.csr_shape = [12_000, 300], [12_000, 2_000]
    if args.block_size is None:
        args.block_size = "1MiB" if args.quick else "16MiB"
    shapes = {"dense": args.dense_shape, "csr": args.csr_shape}
    # about 16 MiB per block: dense 4 bytes per value; CSR about 8 bytes per stored value (~4 % density)
    rows_for = {"dense": lambda d: (16 << 20) // (4 * d), "csr": lambda d: (16 << 20) // (8 * max(1, d // 25))}
    workdir = args.workdir or tempfile.mkdtemp(prefix="lbm_ooc_")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "lbm_out_of_core", "quick": args.quick, "cpu_count": os.cpu_count(),
              "worker_memory": args.worker_memory,
              "block_size": args.block_size, "load_start": os.getloadavg(), "cases": []}
    import dask

    try:
        for name in args.cases:
            n_rows, n_cols = shapes[name]
            rows = args.rows_per_block or max(1, min(n_rows, rows_for[name](n_cols)))
            with dask.config.set({"array.chunk-size": args.block_size}):  # blocks read from the CSR store
                case = run_case(name, workdir, n_rows, n_cols, rows, args.worker_memory, parse_bytes(args.reserve),
                                "none" if args.no_scaling else args.scaling)
            result["cases"].append(case)
            print(json.dumps(case, indent=1), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    result["load_end"] = os.getloadavg()
    if args.scaling == "passes" and not args.no_scaling and Path(args.out).exists():
        result = merge_scaling(json.loads(Path(args.out).read_text()), result)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
