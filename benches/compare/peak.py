"""A process's own peak memory, as the workload scripts of benches/compare report it.

Each workload process (dask_workloads.py, numpy_workloads.py and darray's
benches/compare.rs alike) reads `VmHWM` from /proc/self/status at its end and puts it
in its JSON line as `vmhwm_kib`; compare.py reports that. The driver cannot measure
it from outside with `os.wait4`: Linux carries the forking process's peak into the
child's `ru_maxrss` across `exec`, so any peak below the Python driver's own (238 MiB
in the 2026-12-03 run, for every workload of the array group) was hidden.
"""


def vmhwm_kib():
    """This process's peak resident set in KiB, or None where /proc does not give it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
