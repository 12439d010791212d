"""dask.distributed's side of benches/compare/compare_distributed.py: run one workload once
on a fresh LocalCluster(n_workers=2, threads_per_worker=1, processes=True) bound to
127.0.0.1, print one JSON line.

    python dask_distributed_workloads.py <workload> <store> [n]

Workloads (as benches/compare_dist.rs): tiny (ones(n, chunks=1).sum(), n = 100,000
by default), mean (mean of sin^2 + cos^2), sum0, std1 (over the store), transfer
(n pairs, 16 by default, of 32 MiB zeros chunks: as a warm-up each pair made and
summed on one worker, alternating; then, timed, each pair's chunks made one on each
worker and summed on the first, so every pair moves one chunk worker-to-worker;
placed explicitly with futures, as dask.array gives no placement control).
`seconds` is the workload's wall time, cluster start-up excluded (reported apart).
"""

import json
import sys
import time

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

TINY = 100_000
TRANSFER_CHUNK = 4 << 20  # f64 elements: 32 MiB
TRANSFER_PAIRS = 16


def add_sum(a, b):
    return float((a + b).sum())


def main() -> None:
    workload = sys.argv[1]
    store = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    n = int(sys.argv[3]) if len(sys.argv) > 3 else None
    ts = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    startup = time.perf_counter() - ts
    extra = {}
    t = time.perf_counter()
    if workload == "tiny":
        n = n or TINY
        y = da.ones(n, chunks=1).sum()
        tasks = len(dict(y.__dask_graph__()))
        tc = time.perf_counter()
        check = float(y.compute())
        extra = {"tasks": tasks, "chunks": n, "per_task_us": (time.perf_counter() - tc) * 1e6 / tasks}
    elif workload == "mean":
        x = da.from_zarr(store)
        check = float((da.sin(x) ** 2 + da.cos(x) ** 2).mean().compute())
    elif workload == "sum0":
        x = da.from_zarr(store)
        check = float(x.sum(axis=0).compute().sum())
    elif workload == "std1":
        x = da.from_zarr(store)
        check = float(x.std(axis=1).compute().mean())
    elif workload == "transfer":
        k = n or TRANSFER_PAIRS
        w = sorted(client.scheduler_info()["workers"])

        def pairs(tag, cross):
            futs = []
            for i in range(k):
                home, other = w[i % 2], w[(i + 1) % 2]
                a = client.submit(np.zeros, TRANSFER_CHUNK, workers=[home], pure=False, key=f"{tag}a-{i}")
                b = client.submit(np.zeros, TRANSFER_CHUNK, workers=[other if cross else home], pure=False,
                                  key=f"{tag}b-{i}")
                futs.append(client.submit(add_sum, a, b, workers=[home], pure=False, key=f"{tag}s-{i}"))
            return float(sum(client.gather(futs)))

        # Warm-up: the same pairs, each made and summed on one worker (no transfer).
        t0 = time.perf_counter()
        check = pairs("local", False)
        warmup = time.perf_counter() - t0
        t = time.perf_counter()
        check += pairs("cross", True)
        secs = time.perf_counter() - t
        moved = k * TRANSFER_CHUNK * 8
        extra = {"pairs": k, "chunk_bytes": TRANSFER_CHUNK * 8, "bytes_transferred": moved,
                 "warmup_seconds": warmup, "gib_per_s": moved / secs / 2**30}
    else:
        sys.exit(f"unknown workload {workload!r}")
    secs = time.perf_counter() - t
    print(json.dumps({"tool": "dask-distributed", "workload": workload, "seconds": secs, "check": check,
                      "startup_seconds": startup, **extra}), flush=True)
    client.close()
    cluster.close()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
