"""dask.distributed's side of benches/compare/distributed.py: run one workload once
on a fresh LocalCluster(n_workers=2, threads_per_worker=1, processes=True) bound to
127.0.0.1, print one JSON line.

    python dask_distributed_workloads.py <workload> <store> [n]

Workloads (as benches/compare_dist.rs): tiny (ones(n, chunks=1).sum(), n = 100,000
by default), mean (mean of sin^2 + cos^2), sum0, std1 (over the store), transfer
(n pairs, 32 by default, of 32 MiB zeros chunks, one made on each worker, each pair
summed on the first worker: every pair moves one chunk worker-to-worker; placed
explicitly with futures, since dask.array gives no placement control either).
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
TRANSFER_PAIRS = 32


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
        futs = []
        for i in range(k):
            a = client.submit(np.zeros, TRANSFER_CHUNK, workers=[w[0]], pure=False, key=f"a-{i}")
            b = client.submit(np.zeros, TRANSFER_CHUNK, workers=[w[1]], pure=False, key=f"b-{i}")
            futs.append(client.submit(add_sum, a, b, workers=[w[0]], pure=False, key=f"s-{i}"))
        check = float(sum(client.gather(futs)))
        secs = time.perf_counter() - t
        moved = k * TRANSFER_CHUNK * 8
        extra = {"pairs": k, "chunk_bytes": TRANSFER_CHUNK * 8, "bytes_transferred": moved,
                 "gib_per_s": moved / secs / 2**30}
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
