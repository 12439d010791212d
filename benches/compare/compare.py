"""Driver of benches/compare: darray vs dask.array vs the decode floor, on one store.

Run through run.sh (which builds darray's side and sets up the venv):

    python compare.py --darray <compare binary> [--repeats 3] [--workloads mean,tiny | linalg | all]

Every (tool, workload) runs `--repeats` times, each time in a fresh subprocess. The
time reported is the best of those runs, as measured inside the process (the
workload only: opening the store included, process start-up and imports excluded);
the peak memory is the largest of those processes' own peaks, which each reads from
/proc/self/status (VmHWM) at its end and prints (peak.py). Not os.wait4's ru_maxrss:
Linux carries this driver's peak into a child's across exec, so every peak below the
driver's own was hidden (238 MiB for every array workload in the 2026-12-03 run);
compare.json keeps that figure as ru_maxrss_mib, for comparison only. The store is
created by darray once (float64 16384 x 8192, 2048 x 2048 chunks, zstd level 1, Zarr
v3), checked with zarr-python, and read once before timing, so every run reads from
the page cache. Results also go to <data dir>/compare.json.

`--workloads linalg` (or naming its workloads) runs the linear-algebra group on a
second store, float64 4,000,000 x 32 in 250,000-row chunks, zstd level 1, Zarr v3,
also created by darray once: tsqr (Q and R; Q reduced block by block to column sums
of |Q|, in the same graph as R), tsqr_auto and tsqr_cholqr2 (darray only:
QrMethod::Auto, QrMethod::CholeskyQr2), svd (S
only), svd_u (U reduced like Q, and S), ata (A.T @ A), and svdc (svd_compressed,
k=10, 2 power iterations, oversampling 10, seed 42, on the 16384 x 8192 store). Its
third tool is numpy on the whole matrix in memory (numpy_workloads.py: load time and
LAPACK time reported apart, OpenBLAS on every core). `all` runs both groups.

`--workloads movement` runs the data-movement group on the 16384 x 8192 store, each
summed: take (2,000 unsorted, repeated column indices), mask (`x[x > 0.5]`), reshape
(to 8 x 2048 x 8192, blockwise under dask's rules, then sum(axis=0)), shift2
(`x[1:, :] + x[:-1, :]`) and slices5 (the 5-point Laplacian of shifted slices; the
map_overlap one is laplace).

`--workloads dense` runs the tiled algorithms on a third store, float64 4000 x 4000
in 500 x 500 chunks (zstd level 1, Zarr v3, created by darray once): chol
(cholesky of A + Aᵀ + 4000 I), solve (solve(A, A 1)), inv, and qr2d (QR of the
matrix chunked along both axes; dask has none, so darray and numpy only), against
dask (which needs scipy for these) and numpy's LAPACK on the whole matrix in memory.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
from peak import vmhwm_kib  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHAPE = (16384, 8192)
CHUNKS = (2048, 2048)
CHUNK_MIB = CHUNKS[0] * CHUNKS[1] * 8 / 2**20
TALL_SHAPE = (4_000_000, 32)
TALL_CHUNKS = (250_000, 32)
WORKLOADS = ["mean", "sum0", "std1", "copy", "tiny"]
SQUARE_SHAPE = (4000, 4000)
SQUARE_CHUNKS = (500, 500)
DENSE = ["chol", "solve", "inv", "qr2d"]
LINALG = ["tsqr", "tsqr_auto", "tsqr_cholqr2", "tsqr_lowmem", "svd", "svd_u", "svd_u_lowmem", "ata", "svdc"] + DENSE
# The analysis toolbox (stencils, ...): on the 16384 x 8192 store.
TOOLBOX = ["filter3", "laplace", "cumsum0", "nanpct90", "hist100", "groupmean", "rechunk"]
# Data movement (fancy and boolean indexing, reshape, stencils of shifted slices): on
# the 16384 x 8192 store, each summed.
MOVEMENT = ["take", "mask", "reshape", "shift2", "slices5"]
GROUPS = {"array": WORKLOADS, "linalg": LINALG[:-len(DENSE)], "dense": DENSE, "toolbox": TOOLBOX,
          "movement": MOVEMENT, "all": WORKLOADS + LINALG + TOOLBOX + MOVEMENT}
# Workloads on the tall store (every other one is on the 16384 x 8192 store).
TALL = {"tsqr", "tsqr_auto", "tsqr_cholqr2", "tsqr_lowmem", "svd", "svd_u", "svd_u_lowmem", "ata", "floor_tall", "floor_gram"}
# Workloads on the 4000 x 4000 store.
SQUARE = set(DENSE)
# Workloads dask has no function for.
NO_DASK = {"qr2d"}
# What each tool runs: darray everything; dask and numpy not darray's extra rows,
# numpy only the linear algebra. An extra row is compared with this workload's
# dask and numpy results.
SAME_AS = {"tsqr_auto": "tsqr", "tsqr_cholqr2": "tsqr", "tsqr_lowmem": "tsqr", "svd_u_lowmem": "svd_u"}
NUMPY = {"tsqr", "svd", "svd_u", "ata", "svdc"} | SQUARE
# Relative agreement asked of the checks: svdc's Gaussian sketches differ between
# tools (so do its U, S, Vt, slightly); the others are the same factorization.
CHECK_TOL = {"svdc": 2e-2}
# The floor each workload is held to: decode only, or decode plus the work that
# cannot be avoided where that is slower (the sin/cos arithmetic, re-encoding).
FLOOR_OF = {"mean": "floor_sincos", "sum0": "floor", "std1": "floor", "copy": "floor_copy",
            "filter3": "floor", "laplace": "floor", "cumsum0": "floor", "nanpct90": "floor",
            "hist100": "floor", "groupmean": "floor", "rechunk": "floor_copy",
            "take": "floor", "mask": "floor", "reshape": "floor", "shift2": "floor", "slices5": "floor",
            "ata": "floor_gram", "svdc": "floor_svdc"}
FLOORS = {
    "floor": "read + zstd-decompress every chunk into a reused buffer (rayon, all cores)",
    "floor_sincos": "floor + sum of sin^2+cos^2 over every value (libm sin_cos per element)",
    "floor_copy": "floor + zstd level 1 re-compress into a reused buffer + write each chunk file",
    "floor_tall": "floor on the 4,000,000 x 32 store",
    "floor_gram": "floor_tall + each chunk's AᵢᵀAᵢ by OpenBLAS dgemm (1 thread per core)",
    "floor_svdc": "floor keeping every chunk in memory, then 6 passes (those of randomized SVD with 2 power "
                  "iterations) of each 2048 x 2048 chunk times a 2048 x 20 block by OpenBLAS dgemm",
}
# The darray binary's workload for each floor name.
FLOOR_BIN = {"floor_tall": "floor"}
LABEL = {
    "mean": "mean(sin^2+cos^2)",
    "sum0": "sum(axis=0)",
    "std1": "std(axis=1)",
    "copy": "copy (to_zarr)",
    "tiny": "100,000 tiny tasks",
    "rechunk": "rechunk 2048 x 2048 -> 16384 x 256 chunks + to_zarr",
    "filter3": "3x3 mean filter (map_overlap), sum",
    "laplace": "laplace (map_overlap), sum of |.|",
    "cumsum0": "cumsum(axis=0), sum of |.|",
    "nanpct90": "nanpercentile(90, axis=0) (dask: axis rechunked to one chunk)",
    "hist100": "histogram(bins=100, range=(-5, 5))",
    "groupmean": "grouped mean, 365 groups along axis 0 (dask: flox map-reduce)",
    "take": "take 2,000 unsorted repeated columns, sum",
    "mask": "x[x > 0.5] (boolean mask, 1-d), sum",
    "reshape": "reshape to 8 x 2048 x 8192, sum(axis=0), sum",
    "shift2": "x[1:, :] + x[:-1, :] (shifted slices), sum",
    "slices5": "5-point Laplacian of shifted slices, sum of |.|",
    "tsqr": "tsqr (Q and R)",
    "tsqr_auto": "tsqr (Q and R), QrMethod::Auto",
    "tsqr_cholqr2": "tsqr (Q and R), QrMethod::CholeskyQr2",
    "tsqr_lowmem": "tsqr (Q and R), TsqrLeaves::Recompute",
    "svd_u_lowmem": "svd (U and S), TsqrLeaves::Recompute",
    "svd": "svd (S only)",
    "svd_u": "svd (U and S)",
    "ata": "A.T @ A",
    "svdc": "svd_compressed (k=10, 2 power it.)",
    "chol": "cholesky(A + A.T + n I), 4000^2",
    "solve": "solve(A, A 1), 4000^2",
    "inv": "inv(A), 4000^2",
    "qr2d": "qr (Q and R), 4000^2 in 500^2 tiles",
}


def run_once(cmd, env):
    """Runs cmd; returns (its JSON line, wall seconds of the process, its own peak RSS MiB).

    The peak is the one the process reports (`vmhwm_kib`; None where it has no /proc).
    """
    with tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        out = p.stdout.read()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{err.read().decode(errors='replace')}")
    lines = [l for l in out.decode().splitlines() if l.startswith("{")]
    if not lines:
        sys.exit(f"{' '.join(map(str, cmd))} printed no JSON:\n{out.decode(errors='replace')}")
    rec = json.loads(lines[-1])
    rec["cpu_seconds"] = ru.ru_utime + ru.ru_stime  # whole process, start-up included
    # Never below this driver's own peak (see the module's docstring): kept, not reported.
    rec["ru_maxrss_mib"] = ru.ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux
    if "vmhwm_kib" not in rec:
        sys.exit(f"{' '.join(map(str, cmd))} reported no peak (vmhwm_kib) in its JSON line:\n{lines[-1]}")
    kib = rec.pop("vmhwm_kib")
    return rec, wall, None if kib is None else kib / 1024.0


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                         text=True).stdout.strip()
    import dask
    import numcodecs
    import numpy
    import zarr

    blas = []
    try:
        import threadpoolctl

        blas = [
            {k: i.get(k) for k in ("internal_api", "architecture", "version", "num_threads")}
            for i in threadpoolctl.threadpool_info()
        ]
    except Exception:  # noqa: BLE001 - informational only
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": mem,
        "kernel": platform.release(),
        "rustc": rustc,
        "darray_git": git,
        "python": platform.python_version(),
        "dask": dask.__version__,
        "zarr": zarr.__version__,
        "numpy": numpy.__version__,
        "numcodecs": numcodecs.__version__,
        "numpy_blas": blas,
        "loadavg_at_start": os.getloadavg(),
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")},
    }


def check_store(store, shape=SHAPE, chunks=CHUNKS):
    """zarr-python reads darray's store: layout, codec, and one chunk."""
    import numpy as np
    import zarr

    z = zarr.open_array(store, mode="r")
    assert z.metadata.zarr_format == 3, z.metadata.zarr_format
    assert z.shape == shape and z.chunks == chunks and z.dtype == np.float64, (z.shape, z.chunks, z.dtype)
    comp = [type(c).__name__ + str(getattr(c, "level", "")) for c in z.compressors]
    assert comp == ["ZstdCodec1"], comp
    block = z[:chunks[0], :chunks[1]]
    assert np.isfinite(block).all() and abs(block.mean()) < 0.01 and abs(block.std() - 1) < 0.01
    files = sum(1 for p in Path(store).rglob("*") if p.is_file() and p.name != "zarr.json")
    size = sum(p.stat().st_size for p in Path(store).rglob("*") if p.is_file())
    return {"zarr_format": 3, "shape": list(z.shape), "chunks": list(z.chunks), "codecs": comp,
            "chunk_files": files, "bytes_on_disk": size}


def same_chunk(a, b):
    import numpy as np
    import zarr

    za, zb = zarr.open_array(a, mode="r"), zarr.open_array(b, mode="r")
    ok = za.shape == zb.shape and za.chunks == zb.chunks
    return bool(ok and np.array_equal(za[-2048:, -2048:], zb[-2048:, -2048:]))


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def linalg_table(workloads, results, rows):
    """The linear-algebra rows: darray against dask, numpy in memory and the floor."""
    lines = ["| workload | darray s | dask s | numpy s (+ load s) | floor s | darray/dask | darray/numpy | "
             "darray/floor | darray peak MiB | dask peak MiB | numpy peak MiB |", "|" + "---|" * 11]
    for w in workloads:
        r = results.get(w, {})
        same = results.get(SAME_AS.get(w, w), {})
        d = r.get("darray", {}).get("seconds")
        k = same.get("dask", {}).get("seconds")
        npy = same.get("numpy", {})
        n, load = npy.get("seconds"), npy.get("load_seconds")
        fname = FLOOR_OF.get(w)
        fl = results.get(fname, {}).get("floor", {}).get("seconds") if fname else None
        ratio = (lambda a, b: a / b if a and b else None)
        row = {
            "workload": w, "label": LABEL[w], "floor_workload": fname, "darray_s": d, "dask_s": k,
            "numpy_s": n, "numpy_load_s": load, "floor_s": fl, "darray_over_dask": ratio(d, k),
            "darray_over_numpy": ratio(d, n), "darray_over_floor": ratio(d, fl),
            "darray_peak_mib": r.get("darray", {}).get("peak_mib"),
            "dask_peak_mib": same.get("dask", {}).get("peak_mib"),
            "numpy_peak_mib": npy.get("peak_mib"),
        }
        rows.append(row)
        np_cell = f"{fmt(n, '.3f')} (+ {fmt(load, '.2f')})" if n is not None else "-"
        fl_cell = f"{fmt(fl, '.3f')} ({fname})" if fname else "-"
        lines.append(
            f"| {LABEL[w]} | {fmt(d, '.3f')} | {fmt(k, '.3f')} | {np_cell} | {fl_cell} | "
            f"{fmt(row['darray_over_dask'], '.2f')} | {fmt(row['darray_over_numpy'], '.2f')} | "
            f"{fmt(row['darray_over_floor'], '.2f')} | {fmt(row['darray_peak_mib'], '.0f')} | "
            f"{fmt(row['dask_peak_mib'], '.0f')} | {fmt(row['numpy_peak_mib'], '.0f')} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--darray", required=True, help="the built benches/compare.rs binary")
    ap.add_argument("--python", default=sys.executable, help="python with dask (default: this one)")
    ap.add_argument("--data", default=str(ROOT / "target" / "bench-data"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated workloads or groups ({', '.join(GROUPS)})")
    ap.add_argument("--tools", default="darray,dask,numpy", help="numpy runs the linalg workloads only")
    args = ap.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    store = data / "compare-16384x8192-c2048-zstd1.zarr"
    tall = data / "compare-4000000x32-c250000-zstd1.zarr"
    square = data / "compare-4000x4000-c500-zstd1.zarr"
    outs = {t: data / f"compare-copy-{t}.zarr" for t in ("darray", "dask", "floor")}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    workloads = []
    for w in (w for w in args.workloads.split(",") if w):
        for x in GROUPS.get(w, [w]):
            if x not in LABEL:
                sys.exit(f"unknown workload {x!r} (workloads: {', '.join(LABEL)}; groups: {', '.join(GROUPS)})")
            if x not in workloads:
                workloads.append(x)
    tools = [t for t in args.tools.split(",") if t]
    linalg_rows = [w for w in workloads if w in LINALG]
    need_big = any(w not in TALL and w not in SQUARE for w in workloads)
    need_tall = any(w in TALL for w in workloads)
    need_square = any(w in SQUARE for w in workloads)

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, {info['ram']} RAM; {info['rustc']}; "
          f"dask {info['dask']}, zarr {info['zarr']}, numpy {info['numpy']}", flush=True)

    # Free the page cache first (root only): with memory full of cached files, every
    # chunk write must reclaim pages first, and how full it is depends on whatever
    # ran before (seen here: the same copy 1.8x slower). Then read each store once
    # (below), so that every timed run starts from the page cache.
    if os.geteuid() == 0:
        try:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("1\n")
            print("dropped the page cache (sync; echo 1 > /proc/sys/vm/drop_caches)", flush=True)
        except OSError as e:
            print(f"could not drop the page cache: {e}", flush=True)
    created = {}
    store_info = {}
    for path, cmd, shape, chunks, needed in ((store, "create", SHAPE, CHUNKS, need_big),
                                             (tall, "create_tall", TALL_SHAPE, TALL_CHUNKS, need_tall),
                                             (square, "create_square", SQUARE_SHAPE, SQUARE_CHUNKS, need_square)):
        if not needed:
            continue
        if not (path / "zarr.json").exists():
            print(f"creating {path} with darray ...", flush=True)
            _, wall, rss = run_once([args.darray, cmd, str(path)], env)
            created[path.name] = {"seconds": wall, "peak_mib": rss}
            print(f"  created in {wall:.1f} s (peak {fmt(rss, '.0f')} MiB)", flush=True)
        store_info[path.name] = check_store(path, shape, chunks)
        print(f"store: {path} ({store_info[path.name]['chunk_files']} chunk files, "
              f"{store_info[path.name]['bytes_on_disk'] / 2**20:.0f} MiB on disk); zarr-python reads it", flush=True)
        # Read everything once so that every timed run starts from the page cache.
        run_once([args.darray, "floor", str(path)], env)

    def commands(tool, w):
        out = str(outs.get("floor" if tool == "floor" else tool, outs["darray"]))
        src = str(tall if w in TALL else square if w in SQUARE else store)
        if tool == "dask":
            return [args.python, str(HERE / "dask_workloads.py"), w, src, out]
        if tool == "numpy":
            return [args.python, str(HERE / "numpy_workloads.py"), w, src]
        return [args.darray, FLOOR_BIN.get(w, w), src, out]

    numpy_env = dict(env, OPENBLAS_NUM_THREADS=str(os.cpu_count() or 1))

    def runs_on(tool, w):
        if tool == "darray" or w.startswith("floor"):
            return True
        if w in SAME_AS or (tool == "dask" and w in NO_DASK):
            return False
        return w in NUMPY if tool == "numpy" else True

    results = {}

    def measure(tool, w):
        runs = []
        for _ in range(args.repeats):
            for o in outs.values():
                shutil.rmtree(o, ignore_errors=True)
            rec, wall, rss = run_once(commands(tool, w), numpy_env if tool == "numpy" else env)
            rec.update(process_seconds=wall, peak_mib=rss)
            runs.append(rec)
        best = min(runs, key=lambda r: r["seconds"])
        peaks = [r["peak_mib"] for r in runs if r["peak_mib"] is not None]
        res = {**best, "seconds": best["seconds"], "peak_mib": max(peaks, default=None),
               "all_seconds": [r["seconds"] for r in runs], "loadavg_1min_after": os.getloadavg()[0]}
        results.setdefault(w, {})[tool] = res
        load = f"  load {res['load_seconds']:.3f} s" if "load_seconds" in res else ""
        print(f"  {tool:6} {w:12} best {res['seconds']:8.3f} s  of {[round(s, 3) for s in res['all_seconds']]}{load}"
              f"  cpu {res['cpu_seconds']:7.2f} s  peak {fmt(res['peak_mib'], '7.0f')} MiB  check {res.get('check')}"
              f"  (load {res['loadavg_1min_after']:.1f})", flush=True)
        return res

    floors_needed = sorted({FLOOR_OF[w] for w in workloads if w in FLOOR_OF}
                           | ({"floor"} if need_big else set()) | ({"floor_tall"} if need_tall else set()))
    for f in floors_needed:
        measure("floor", f)
    copy_ok = {}
    for w in workloads:
        for tool in tools:
            if not runs_on(tool, w):
                continue
            measure(tool, w)
            if w == "copy":
                copy_ok[tool] = same_chunk(store, outs[tool])
    for o in outs.values():
        shutil.rmtree(o, ignore_errors=True)

    # Do both tools agree?
    agree = {}
    for w in workloads:
        r = dict(results.get(SAME_AS.get(w, w), {}), **{"darray": results.get(w, {}).get("darray")})
        tol = CHECK_TOL.get(w, 1e-6)
        for other in ("dask", "numpy"):
            if r.get("darray") and other in r and w != "copy":
                a, b = r["darray"]["check"], r[other]["check"]
                key = w if other == "dask" else f"{w}/numpy"
                agree[key] = a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(a), abs(b))
                if not agree[key]:
                    print(f"WARNING: {w}: darray {a} != {other} {b}")
    for t, ok in copy_ok.items():
        if not ok:
            print(f"WARNING: copy by {t} differs from the input")

    rows = []
    for w in workloads:
        if w in LINALG:
            continue
        r = results.get(w, {})
        d, k = r.get("darray", {}).get("seconds"), r.get("dask", {}).get("seconds")
        fl = results.get(FLOOR_OF.get(w, ""), {}).get("floor", {}).get("seconds")
        rows.append({
            "workload": w,
            "label": LABEL[w],
            "floor_workload": FLOOR_OF.get(w),
            "darray_s": d,
            "dask_s": k,
            "floor_s": fl,
            "darray_over_floor": d / fl if d and fl else None,
            "dask_over_darray": k / d if d and k else None,
            "darray_peak_mib": r.get("darray", {}).get("peak_mib"),
            "dask_peak_mib": r.get("dask", {}).get("peak_mib"),
        })

    hdr = "| workload | darray s | dask s | floor s | darray/floor | dask/darray | darray peak MiB | dask peak MiB |"
    lines = [hdr, "|" + "---|" * 8] if rows else []
    for row in rows:
        floor_name = f" ({row['floor_workload']})" if row["floor_workload"] else ""
        lines.append(
            f"| {row['label']} | {fmt(row['darray_s'], '.3f')} | {fmt(row['dask_s'], '.3f')} | "
            f"{fmt(row['floor_s'], '.3f')}{floor_name} | {fmt(row['darray_over_floor'], '.2f')} | "
            f"{fmt(row['dask_over_darray'], '.2f')} | {fmt(row['darray_peak_mib'], '.0f')} | "
            f"{fmt(row['dask_peak_mib'], '.0f')} |"
        )
    if linalg_rows:
        if lines:
            lines.append("")
        lines += linalg_table(linalg_rows, results, rows)
    lines += ["", "| floor | s | peak MiB | what it does |", "|---|---|---|---|"]
    for f in floors_needed:
        r = results[f]["floor"]
        lines.append(f"| {f} | {r['seconds']:.3f} | {fmt(r['peak_mib'], '.0f')} | {FLOORS[f]} |")
    lines += ["", "CPU seconds (user + system, whole process, of the best run):", ""]
    lines += ["| workload | darray cpu s | dask cpu s | numpy cpu s (load included) |", "|---|---|---|---|"]
    for w in workloads:
        r = results.get(w, {})
        lines.append(f"| {LABEL[w]} | {fmt(r.get('darray', {}).get('cpu_seconds'), '.2f')} | "
                     f"{fmt(r.get('dask', {}).get('cpu_seconds'), '.2f')} | "
                     f"{fmt(r.get('numpy', {}).get('cpu_seconds'), '.2f')} |")
    if "tiny" in results:
        lines.append("")
        for tool, r in results["tiny"].items():
            opt = f", {r['tasks_optimized']} after dask.optimize" if "tasks_optimized" in r else ""
            lines.append(
                f"tiny tasks, {tool}: {r['tasks']} tasks in the graph{opt}; {r['per_task_us']:.2f} us per task "
                f"(compute {r['seconds']:.3f} s / {r['tasks']}), {r['seconds'] * 1e6 / 100_000:.2f} us per chunk; "
                f"graph build alone {r['graph_build_seconds']:.3f} s"
            )
    lines.append("")
    if linalg_rows:
        lines.append(f"linalg chunks: {TALL_CHUNKS[0]} x {TALL_CHUNKS[1]} float64 = "
                     f"{TALL_CHUNKS[0] * TALL_CHUNKS[1] * 8 / 2**20:.0f} MiB (tall store)")
    lines.append(f"memory target: 4 chunks x {info['nproc']} threads x {CHUNK_MIB:.0f} MiB = "
                 f"{4 * info['nproc'] * CHUNK_MIB:.0f} MiB plus a small fixed amount")
    driver_kib = vmhwm_kib()
    driver_mib = None if driver_kib is None else driver_kib / 1024.0
    lines.append(f"peak MiB: each process's own (VmHWM, read by the process at its end); this driver's own "
                 f"peak {fmt(driver_mib, '.0f')} MiB")
    table = "\n".join(lines)
    load = os.getloadavg()
    table += f"\n\nload average at start {info['loadavg_at_start'][0]:.1f}, at end {load[0]:.1f} (1 min)"
    print()
    print(table)

    out = {
        "machine": info,
        "store": {"path": str(store), "stores": store_info, "created": created},
        "repeats": args.repeats,
        "driver_peak_mib": driver_mib,
        "command": " ".join(sys.argv),
        "rows": rows,
        "results": results,
        "checks_agree": agree,
        "copies_match_input": copy_ok,
        "table_markdown": table,
    }
    (data / "compare.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {data / 'compare.json'}")


if __name__ == "__main__":
    main()
