#!/usr/bin/env python3
"""Two (or more) builds of a runtime on the same command, alternating: the A/B check of one change.

    python3 Tests/Bench/ab.py [--rounds 10] [--n 20] OLD_BINARY NEW_BINARY -- ARGS...

Runs `BINARY ARGS...` rounds x n times for each binary, the binaries taking turns run by
run (the order reversed every other time), so that the host's drift (its speed changes by
2x within an hour here) lands on every binary alike, each binary's page cache settled alike
first (bench.settle_page_cache), and prints the median wall time of each, timed by
bench.py's own spawn (posix_spawn, wait4, its timeout) in bench.py's cgroup view (unified
hierarchy hidden, what crun needs) unless --native. ARGS may name a container that each
binary reuses (`--root R run ID` deletes it on exit; `--root R exec ID /bin/true` needs it
running). Wall times on this machine vary by run; compare the binaries of one invocation,
never figures of different invocations. Two copies of one binary came out 0.00-0.06 ms
apart in a `run` of ~3.3 ms at the defaults (six invocations): a smaller difference is not
a result.
Standard library only; needs root for container commands.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its cgroup view and its spawn: posix_spawn, wait4, a timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--n", type=int, default=20, help="runs of each binary per round (rounds x n in all)")
    parser.add_argument("--native", action="store_true", help="the host's own cgroup view")
    # "read" by default: left to the first execs' faults ("evict", bench.py's default), the
    # binary listed first ran 0.06-0.1 ms slower than an identical copy; read through, the
    # copies came out 0.00-0.06 ms apart, in either order.
    parser.add_argument("--page-cache", choices=["read", "evict", "as-is"], default="read",
                        help="each binary's page cache first, as bench.py's option (default read)")
    parser.add_argument("binaries", nargs="+")
    argv = sys.argv[1:]
    if "--" not in argv:
        parser.error("separate the command's arguments with --")
    split = argv.index("--")
    options = parser.parse_args(argv[:split])
    arguments = argv[split + 1:]
    if not options.native:
        bench.View.setup()
    bench.WORKDIR = tempfile.mkdtemp(prefix="skiff-ab-")  # where spawn keeps a command's stderr
    # Each binary's page cache alike first: two copies of one binary, one just written by `cp`,
    # differed by up to 0.2 ms a `run` (bench.settle_page_cache).
    bench.settle_page_cache(options.binaries, options.page_cache)
    times: dict[str, list[float]] = {binary: [] for binary in options.binaries}
    failures: dict[str, int] = {binary: 0 for binary in options.binaries}
    # Run by run, the order reversed every other time (A B, B A, ...): consecutive blocks of
    # one binary put the host's drift between blocks into the comparison (two copies of one
    # binary came out 0.08 ms apart in blocks of 20, 0.01 ms interleaved so).
    for iteration in range(options.rounds * options.n):
        order = options.binaries if iteration % 2 == 0 else options.binaries[::-1]
        for binary in order:
            try:
                times[binary].append(bench.spawn([binary] + arguments).ms)
            except bench.CommandFailed:
                failures[binary] += 1
    for binary in options.binaries:
        note = f", {failures[binary]} failed" if failures[binary] else ""
        median = f"{statistics.median(times[binary]):.2f} ms" if times[binary] else "-"
        print(f"{binary}: median {median} (n={len(times[binary])}{note})")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
