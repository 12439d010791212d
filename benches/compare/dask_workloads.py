"""dask.array's side of benches/compare: run one workload once, print one JSON line.

    python dask_workloads.py <workload> <store> [out]

Workloads (as benches/compare.rs): mean (mean of sin^2 + cos^2), sum0, std1, copy
(to_zarr into `out`, same chunks, zstd level 1, Zarr v3), tiny (ones(100_000,
chunks=1).sum()), rechunk (2048 x 2048 chunks to 16384 x 256 with dask's
default rechunk, then to_zarr into `out` as copy). dask runs on its threaded scheduler with 2 workers. `seconds`
is the wall time of the workload, opening the store included, interpreter start-up
and imports excluded; `vmhwm_kib` is this process's own peak resident set (peak.py).

Linear-algebra workloads (as benches/compare.rs; `store` is the 4,000,000 x 32
store, or the 16384 x 8192 one for svdc): tsqr (`da.linalg.tsqr`; Q reduced to
column sums of |Q| block by block, in the same graph as the row sums of |R|), svd
(`da.linalg.svd`, S only), svd_u (U reduced like Q, and S), ata (`A.T @ A`), svdc
(`da.linalg.svd_compressed(A, k=10, n_power_iter=2, n_oversamples=10, seed=42)`; U
and Vt reduced like Q, and S). `check` is the sum of those sums.

Data-movement workloads (as benches/compare.rs; each ends in a sum, its `check`):
take (`x[:, idx]` with the 2,000 unsorted, repeated column indices of
`take_indices`), mask (`x[x > 0.5]`, a 1-d array of unknown chunk sizes), reshape
(to 8 x 2048 x 8192, a split of axis 0 at its chunk boundaries, then the sum over
axis 0), shift2 (`x[1:, :] + x[:-1, :]`) and slices5 (the 5-point Laplacian
written with five shifted slices; sum of |.|).

Dense workloads, on the 4000 x 4000 store in 500 x 500 chunks: chol
(`da.linalg.cholesky(A + Aᵀ + 4000 I, lower=True)`, sum of |L|), solve
(`da.linalg.solve(A, A 1)`, sum of the solution), inv (sum of |A⁻¹|). dask has no
QR for a matrix chunked along both axes, so qr2d has no dask row.
"""

import json
import shutil
import sys
import time

import dask
import dask.array as da
import numpy as np
import zarr

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
from peak import vmhwm_kib  # noqa: E402

TINY = 100_000


def take_indices() -> np.ndarray:
    """The 2,000 column indices of take: unsorted, spread over every column chunk, the
    first 500 of them repeated (the same list as benches/compare.rs's)."""
    return (np.arange(2000) % 1500) * 7919 % 8192


def sum_all(*parts) -> float:
    """Computes the dask arrays `parts` in one graph; the sum of all their values."""
    return float(sum(np.sum(p) for p in dask.compute(*parts)))


def main() -> None:
    workload, store = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    out = sys.argv[3] if len(sys.argv) > 3 else (store or "") + ".copy-dask.zarr"
    dask.config.set(scheduler="threads", num_workers=2)
    extra = {}
    t = time.perf_counter()
    if workload == "mean":
        x = da.from_zarr(store)
        check = float((da.sin(x) ** 2 + da.cos(x) ** 2).mean().compute())
    elif workload == "cumsum0":
        x = da.from_zarr(store)
        check = float(abs(da.cumsum(x, axis=0)).sum().compute())
    elif workload == "nanpct90":
        # dask's percentile is 1-d only: the axis in one chunk (the rechunk is
        # part of the work), then NumPy's nanpercentile per column block.
        x = da.from_zarr(store)
        y = x.rechunk({0: -1, 1: x.chunksize[0] * x.chunksize[1] // x.shape[0]})
        p = y.map_blocks(lambda b: np.nanpercentile(b, 90, axis=0), drop_axis=0, dtype=x.dtype)
        check = float(p.sum().compute())
    elif workload == "hist100":
        x = da.from_zarr(store)
        counts, _ = da.histogram(x, bins=100, range=(-5.0, 5.0))
        c = counts.compute()
        check = float(sum(i * float(n) for i, n in enumerate(c)))
    elif workload == "groupmean":
        # flox's map-reduce on the dask array (what xarray's groupby uses).
        import flox
        x = da.from_zarr(store)
        labels = np.arange(x.shape[0]) % 365
        res, _ = flox.groupby_reduce(x.T, labels, func="mean", method="map-reduce")
        check = float(res.sum().compute())
    elif workload == "sum0":
        x = da.from_zarr(store)
        check = float(x.sum(axis=0).compute().sum())
    elif workload == "std1":
        x = da.from_zarr(store)
        check = float(x.std(axis=1).compute().mean())
    elif workload == "filter3":
        import scipy.ndimage as ndi
        x = da.from_zarr(store)
        y = x.map_overlap(lambda b: ndi.uniform_filter(b, 3, mode="reflect"), depth=1, boundary="reflect",
                          dtype=x.dtype)
        check = float(y.sum().compute())
    elif workload == "laplace":
        import scipy.ndimage as ndi
        x = da.from_zarr(store)
        y = x.map_overlap(lambda b: ndi.laplace(b, mode="reflect"), depth=1, boundary="reflect", dtype=x.dtype)
        check = float(abs(y).sum().compute())
    elif workload == "take":
        x = da.from_zarr(store)
        check = float(x[:, take_indices()].sum().compute())
    elif workload == "mask":
        x = da.from_zarr(store)
        check = float(x[x > 0.5].sum().compute())
    elif workload == "reshape":
        # 16384 = 8 x 2048: axis 0 split at its chunk boundaries (8192 x 16384 would
        # raise NotImplementedError: neither a merge nor a split).
        x = da.from_zarr(store)
        check = float(x.reshape(8, 2048, 8192).sum(axis=0).sum().compute())
    elif workload == "shift2":
        x = da.from_zarr(store)
        check = float((x[1:, :] + x[:-1, :]).sum().compute())
    elif workload == "slices5":
        x = da.from_zarr(store)
        y = x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4 * x[1:-1, 1:-1]
        check = float(abs(y).sum().compute())
    elif workload == "copy":
        x = da.from_zarr(store)
        shutil.rmtree(out, ignore_errors=True)
        z = zarr.create_array(
            store=out,
            shape=x.shape,
            chunks=x.chunksize,
            dtype=x.dtype,
            compressors=zarr.codecs.ZstdCodec(level=1, checksum=False),
            zarr_format=3,
            overwrite=True,
        )
        da.to_zarr(x, z)
        check = 0.0
    elif workload == "rechunk":
        # dask's default rechunk (its planner, block_size_limit from the config).
        x = da.from_zarr(store)
        y = x.rechunk((x.shape[0], 256))
        shutil.rmtree(out, ignore_errors=True)
        z = zarr.create_array(
            store=out,
            shape=y.shape,
            chunks=(x.shape[0], 256),
            dtype=y.dtype,
            compressors=zarr.codecs.ZstdCodec(level=1, checksum=False),
            zarr_format=3,
            overwrite=True,
        )
        da.to_zarr(y, z)
        check = 0.0
    elif workload == "tsqr":
        x = da.from_zarr(store)
        q, r = da.linalg.tsqr(x)
        check = sum_all(abs(q).sum(axis=0), abs(r).sum(axis=1))
    elif workload == "svd":
        x = da.from_zarr(store)
        _, s, _ = da.linalg.svd(x)
        check = sum_all(s)
    elif workload == "svd_u":
        x = da.from_zarr(store)
        u, s, _ = da.linalg.svd(x)
        check = sum_all(abs(u).sum(axis=0), s)
    elif workload == "ata":
        x = da.from_zarr(store)
        check = sum_all(x.T @ x)
    elif workload == "svdc":
        x = da.from_zarr(store)
        u, s, v = da.linalg.svd_compressed(x, k=10, n_power_iter=2, n_oversamples=10, seed=42)
        check = sum_all(abs(u).sum(axis=0), s, abs(v).sum(axis=1))
    elif workload == "chol":
        x = da.from_zarr(store)
        n = x.shape[0]
        spd = x + x.T + n * da.eye(n, chunks=x.chunksize[0])
        check = sum_all(abs(da.linalg.cholesky(spd, lower=True)))
    elif workload == "solve":
        x = da.from_zarr(store)
        check = sum_all(da.linalg.solve(x, x.sum(axis=1)))
    elif workload == "inv":
        x = da.from_zarr(store)
        check = sum_all(abs(da.linalg.inv(x)))
    elif workload == "tiny":
        tb = time.perf_counter()
        y = da.ones(TINY, chunks=1).sum()
        # The graph as dask materializes it before optimization.
        tasks = len(dict(y.__dask_graph__()))
        build = time.perf_counter() - tb
        tc = time.perf_counter()
        check = float(y.compute())
        total = time.perf_counter() - tc
        (opt,) = dask.optimize(y)
        extra = {
            "tasks": tasks,
            "tasks_optimized": len(dict(opt.__dask_graph__())),
            "graph_build_seconds": build,
            "per_task_us": total * 1e6 / tasks,
        }
        print(json.dumps({"tool": "dask", "workload": workload, "seconds": total, "check": check, **extra,
                          "vmhwm_kib": vmhwm_kib()}))
        return
    else:
        sys.exit(f"unknown workload {workload!r}")
    secs = time.perf_counter() - t
    print(json.dumps({"tool": "dask", "workload": workload, "seconds": secs, "check": check, **extra,
                      "vmhwm_kib": vmhwm_kib()}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
