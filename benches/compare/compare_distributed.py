"""Driver of the distributed comparison: darray's local executor (2 threads), a
darray LocalCluster (2 workers x 1 thread) and dask.distributed's LocalCluster
(2 workers x 1 thread, processes), on the same data in the same run.

Run through run_distributed.sh (which builds darray's side and sets up the venv):

    python compare_distributed.py --darray <compare_dist binary> [--repeats 1] [--workloads tiny,mean,...]

Every (tool, workload) runs `--repeats` times, each in a fresh process (a fresh
cluster for the cluster tools). The time reported is the best run's, measured
inside the process: the workload only, graph build included, cluster start-up
excluded. Peak memory is the largest sum of the resident set sizes of the process
and all its descendants (the worker processes), sampled every 20 ms. The store is
the one of benches/compare (float64 16384 x 8192, 2048 x 2048 chunks, zstd level
1, Zarr v3, 1 GiB), created by darray when missing and read once before timing.
Results also go to <data dir>/compare_distributed.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORKLOADS = ["tiny", "mean", "sum0", "std1", "transfer"]
TOOLS = ["darray-local", "darray-cluster", "dask-distributed"]
LABEL = {
    "tiny": "tiny tasks: ones(n, chunks=1).sum() (ratios per task)",
    "mean": "mean(sin^2+cos^2)",
    "sum0": "sum(axis=0)",
    "std1": "std(axis=1)",
    "transfer": "transfer: 16 pairs of 32 MiB chunks",
}
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root):
    """Resident bytes of `root` and all its descendants (from /proc)."""
    children = {}
    rss = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            with open(f"/proc/{d}/statm") as f:
                rss[int(d)] = int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def run_once(cmd, env):
    """Runs cmd; returns (its JSON line, peak MiB of its process tree)."""
    err = open(os.devnull, "w") if os.environ.get("QUIET") else None
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
    peak = 0
    import threading

    out = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    while p.poll() is None:
        peak = max(peak, tree_rss(p.pid))
        time.sleep(0.02)
    reader.join()
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode})")
    lines = [l for l in "".join(out).splitlines() if l.startswith("{")]
    if not lines:
        sys.exit(f"{' '.join(map(str, cmd))} printed no JSON")
    return json.loads(lines[-1]), peak / 2**20


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--darray", required=True, help="the built benches/compare_dist.rs binary")
    ap.add_argument("--python", default=sys.executable, help="python with dask.distributed (default: this one)")
    ap.add_argument("--data", default=str(ROOT / "target" / "bench-data"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--tiny", type=int, default=100_000, help="chunks of the tiny-task workload")
    ap.add_argument("--dask-tiny", type=int, default=None,
                    help="chunks of dask's tiny-task run (default --tiny; dask takes ~2 ms a task)")
    args = ap.parse_args()
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    store = data / "compare-16384x8192-c2048-zstd1.zarr"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    workloads = [w for w in args.workloads.split(",") if w]
    tools = [t for t in args.tools.split(",") if t]
    load_start = os.getloadavg()

    from importlib.metadata import version

    print(f"machine: {os.cpu_count()} cores; dask {version('dask')}, distributed {version('distributed')}; "
          f"load average {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}", flush=True)
    if any(w in ("mean", "sum0", "std1") for w in workloads):
        if not (store / "zarr.json").exists():
            print(f"creating {store} with darray ...", flush=True)
        run_once([args.darray, "create", str(store)], env)
        # Read everything once so that every timed run starts from the page cache.
        run_once([args.darray, "sum0", "local", str(store)], env)

    def command(tool, w):
        n = None
        if w == "tiny":
            n = args.dask_tiny if tool == "dask-distributed" and args.dask_tiny else args.tiny
        extra = [str(n)] if n else []
        if tool == "dask-distributed":
            return [args.python, str(HERE / "dask_distributed_workloads.py"), w, str(store)] + extra
        return [args.darray, w, tool.split("-", 1)[1], str(store)] + extra

    results = {}
    for w in workloads:
        for tool in tools:
            runs = []
            for _ in range(args.repeats):
                rec, peak = run_once(command(tool, w), env)
                rec["peak_mib"] = peak
                runs.append(rec)
            best = min(runs, key=lambda r: r["seconds"])
            best = {**best, "peak_mib": max(r["peak_mib"] for r in runs),
                    "all_seconds": [r["seconds"] for r in runs], "load_1min_after": os.getloadavg()[0]}
            results.setdefault(w, {})[tool] = best
            more = ""
            if "per_task_us" in best:
                more = f"  {best['per_task_us']:.2f} us/task ({best['tasks']} tasks)"
            if "gib_per_s" in best:
                more = (f"  {best['bytes_transferred'] / 2**30:.2f} GiB moved, {best['gib_per_s']:.2f} GiB/s "
                        f"(warm-up {best['warmup_seconds']:.3f} s)")
                if best.get("fetch_seconds"):
                    more += (f"; fetches {best['fetch_seconds']:.3f} s: {best['fetch_gib_per_s']:.2f} GiB/s, "
                             f"loopback TCP {best['loopback_gib_per_s']:.2f} GiB/s")
            print(f"  {tool:16} {w:9} best {best['seconds']:8.3f} s of {[round(s, 3) for s in best['all_seconds']]}"
                  f"  peak {best['peak_mib']:6.0f} MiB  check {best.get('check')}{more}"
                  f"  (start-up {best.get('startup_seconds', 0):.2f} s, load {best['load_1min_after']:.1f})",
                  flush=True)

    rows = []
    for w in workloads:
        r = results.get(w, {})
        # Tiny tasks compare per task: dask may run fewer (--dask-tiny).
        key = "per_task_us" if w == "tiny" else "seconds"
        sec = {t: r.get(t, {}).get(key) for t in TOOLS}
        rows.append({
            "workload": w,
            "seconds": sec,
            "peak_mib": {t: r.get(t, {}).get("peak_mib") for t in TOOLS},
            "cluster_over_local": sec["darray-cluster"] / sec["darray-local"]
            if sec["darray-cluster"] and sec["darray-local"] else None,
            "dask_over_cluster": sec["dask-distributed"] / sec["darray-cluster"]
            if sec["dask-distributed"] and sec["darray-cluster"] else None,
        })
    lines = ["| workload | darray local s | darray cluster s | dask.distributed s | cluster/local | "
             "dask/cluster | local peak MiB | cluster peak MiB | dask peak MiB |", "|" + "---|" * 9]
    for row in rows:
        s, p = row["seconds"], row["peak_mib"]
        if row["workload"] == "tiny":
            s = {t: results["tiny"].get(t, {}).get("seconds") for t in TOOLS}
        lines.append(
            f"| {LABEL[row['workload']]} | {fmt(s['darray-local'], '.3f')} | {fmt(s['darray-cluster'], '.3f')} | "
            f"{fmt(s['dask-distributed'], '.3f')} | {fmt(row['cluster_over_local'], '.2f')} | "
            f"{fmt(row['dask_over_cluster'], '.2f')} | {fmt(p['darray-local'], '.0f')} | "
            f"{fmt(p['darray-cluster'], '.0f')} | {fmt(p['dask-distributed'], '.0f')} |")
    if "tiny" in results:
        lines.append("")
        for tool, r in results["tiny"].items():
            lines.append(f"tiny tasks, {tool}: {r['chunks']} chunks, {r['tasks']} tasks, "
                         f"{r['per_task_us']:.2f} us per task")
    if "transfer" in results:
        lines.append("")
        for tool, r in results["transfer"].items():
            if "gib_per_s" in r:
                lines.append(f"transfer, {tool}: {r['bytes_transferred'] / 2**30:.2f} GiB moved between workers "
                             f"in {r['seconds']:.3f} s: at least {r['gib_per_s']:.2f} GiB/s (bytes over the whole "
                             f"time, making and summing the chunks included)")
            if r.get("fetch_seconds"):
                lines.append(f"transfer, {tool}: the workers' own fetch time {r['fetch_seconds']:.3f} s: "
                             f"{r['fetch_gib_per_s']:.2f} GiB/s; plain loopback TCP copy of the same chunks "
                             f"(the floor) {r['loopback_gib_per_s']:.2f} GiB/s")
    load_end = os.getloadavg()
    lines.append("")
    lines.append(f"load average at start {load_start[0]:.1f}, at end {load_end[0]:.1f} (1 min); "
                 f"{os.cpu_count()} cores")
    table = "\n".join(lines)
    print()
    print(table)
    out = {"command": " ".join(sys.argv), "repeats": args.repeats, "results": results, "rows": rows,
           "load_start": load_start, "load_end": load_end, "table_markdown": table}
    (data / "compare_distributed.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {data / 'compare_distributed.json'}")


if __name__ == "__main__":
    main()
