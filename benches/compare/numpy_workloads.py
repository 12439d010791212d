"""numpy's side of benches/compare (the in-memory LAPACK floor): load the whole
matrix into memory, then run one workload once, print one JSON line.

    python numpy_workloads.py <workload> <store>

Workloads: tsqr (`np.linalg.qr(A)`, reduced: Q and R), svd
(`np.linalg.svd(A, compute_uv=False)`), svd_u (`np.linalg.svd(A,
full_matrices=False)`), ata (`A.T @ A`), svdc (randomized SVD in memory, the
algorithm of dask's `svd_compressed` with k=10, n_power_iter=2, n_oversamples=10:
a Gaussian sketch, QR after every product, the SVD of Qᵀ A); on the 4000 x 4000
store: chol (`np.linalg.cholesky(A + Aᵀ + 4000 I)`, the sum formed in the timed
part as darray and dask form it), solve (`np.linalg.solve(A, A 1)`), inv and qr2d
(`np.linalg.qr(A)`). numpy's OpenBLAS uses
every core (OPENBLAS_NUM_THREADS is set to the core count here). `load_seconds` is
reading and decoding the store with zarr-python into one array; `seconds` is the
LAPACK/BLAS call alone; the `check` (as benches/compare.rs: sums of |Q| and |R|,
of S, of |U|, of A.T @ A) is computed after the timed part; `vmhwm_kib` is this
process's own peak resident set (peak.py).
"""

import json
import os
import sys
import time

import numpy as np
import zarr

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
from peak import vmhwm_kib  # noqa: E402


def main() -> None:
    workload, store = sys.argv[1], sys.argv[2]
    t = time.perf_counter()
    a = zarr.open_array(store, mode="r")[...]
    load = time.perf_counter() - t
    t = time.perf_counter()
    if workload == "tsqr":
        q, r = np.linalg.qr(a)
        secs = time.perf_counter() - t
        check = float(np.abs(q).sum() + np.abs(r).sum())
    elif workload == "svd":
        s = np.linalg.svd(a, compute_uv=False)
        secs = time.perf_counter() - t
        check = float(s.sum())
    elif workload == "svd_u":
        u, s, _ = np.linalg.svd(a, full_matrices=False)
        secs = time.perf_counter() - t
        check = float(np.abs(u).sum() + s.sum())
    elif workload == "ata":
        g = a.T @ a
        secs = time.perf_counter() - t
        check = float(g.sum())
    elif workload == "svdc":
        k, p, over = 10, 2, 10
        omega = np.random.default_rng(42).standard_normal((a.shape[1], k + over))
        q, _ = np.linalg.qr(a @ omega)
        for _ in range(p):
            z, _ = np.linalg.qr(a.T @ q)
            q, _ = np.linalg.qr(a @ z)
        ub, s, vt = np.linalg.svd(q.T @ a, full_matrices=False)
        u = q @ ub
        secs = time.perf_counter() - t
        check = float(np.abs(u[:, :k]).sum() + s[:k].sum() + np.abs(vt[:k]).sum())
    elif workload == "chol":
        n = a.shape[0]
        l = np.linalg.cholesky(a + a.T + n * np.eye(n))
        secs = time.perf_counter() - t
        check = float(np.abs(l).sum())
    elif workload == "solve":
        x = np.linalg.solve(a, a.sum(axis=1))
        secs = time.perf_counter() - t
        check = float(x.sum())
    elif workload == "inv":
        ai = np.linalg.inv(a)
        secs = time.perf_counter() - t
        check = float(np.abs(ai).sum())
    elif workload == "qr2d":
        q, r = np.linalg.qr(a)
        secs = time.perf_counter() - t
        check = float(np.abs(q).sum() + np.abs(r).sum())
    else:
        sys.exit(f"unknown workload {workload!r}")
    print(json.dumps({"tool": "numpy", "workload": workload, "seconds": secs, "load_seconds": load,
                      "check": check, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                      "vmhwm_kib": vmhwm_kib()}))


if __name__ == "__main__":
    main()
