#!/usr/bin/env python3
"""Benchmark skiff beside runc and crun on the same busybox bundle.

Each scenario runs the same runtime commands for every runtime, alternating
runtimes inside each iteration, the order rotated each time (A B C, B C A, C A B,
...), so drift in the machine's
state (page cache, RCU backlog, thermal) lands on all of them alike.  Each
runtime has its own --root, on a tmpfs as /run is in production (--state disk: in
the temporary directory, beside the bundles).  The result is a markdown
table of medians with ratios against runc, ready for docs/benchmarks.md.

Environment:
  BENCH_N               iterations per scenario and runtime (default 30)
  SKIFF_BINARY          skiff to measure (default <repo>/.build/release/skiff)
  SKIFF_BUNDLE_ROOTFS   rootfs to use (default <repo>/bundles/busybox/rootfs)

Adding a scenario: write a function (ctx, runtime, cid) -> {metric: value}
that performs the commands and returns what it measured, then append a
Scenario to SCENARIOS naming the container's args, an optional config patch
(seccomp, resources, user namespace, ...) and the metrics it reports.

Standard library only; needs root (like the runtimes themselves).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMAND_TIMEOUT = 30.0  # seconds; a runtime that hangs is a failure, not a figure


class CommandFailed(Exception):
    pass


# --------------------------------------------------------------------------
# Running one runtime command: posix_spawn + wait4, so the timing covers the
# runtime process and nothing of Python's subprocess machinery, and wait4's
# rusage gives the runtime's peak RSS.


@dataclasses.dataclass
class Result:
    ms: float
    maxrss_kb: int


def _alarm(signum, frame):
    raise TimeoutError


def settle_page_cache(binaries: list[str], how: str = "evict") -> None:
    """Puts each runtime binary's page cache in the same state: written back and dropped, then
    read once from start to end ("read": as a file copied or read back, in large folios) or
    left to the first exec's page faults ("evict": as after a reboot, in small ones); "as-is"
    leaves it. A binary just written by the linker or `cp` sits in the page cache in whatever
    folio sizes its writes left, and the kernel maps text a folio at a time: two copies of one
    skiff binary ran up to 0.2 ms apart per `run` until both were settled alike, and the
    same binary's `run` and peak RSS move with the state (docs/benchmarks.md, tenth
    session). Pages a running process maps stay where they are."""
    if how == "as-is":
        return
    os.sync()
    # All dropped before any is read: dropped and read one after the other, the first one
    # read (with the others' old pages still cached) ran 0.08 ms slower than an identical copy.
    for path in binaries:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    if how == "read":
        for path in binaries:
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass


def spawn(argv: list[str], check: bool = True) -> Result:
    errpath = os.path.join(WORKDIR, "stderr")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, COMMAND_TIMEOUT)
    try:
        _, status, rusage = os.wait4(pid, 0)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        raise CommandFailed(f"{' '.join(argv)}: timed out after {COMMAND_TIMEOUT:.0f}s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    elapsed = (time.perf_counter() - start) * 1000.0
    code = os.waitstatus_to_exitcode(status)
    if check and code != 0:
        with open(errpath, errors="replace") as f:
            err = f.read().strip().splitlines()
        tail = err[-1] if err else "(no stderr)"
        raise CommandFailed(f"{' '.join(argv[-4:])}: exit {code}: {tail}")
    return Result(elapsed, rusage.ru_maxrss)


def wait_pid_exit(pid: int, timeout: float = COMMAND_TIMEOUT) -> None:
    """Wait for a process that is not our child (the container's init)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([fd], [], [], timeout)[0]:
            raise CommandFailed(f"container process {pid} still running after {timeout:.0f}s")
    finally:
        os.close(fd)


def read_pid(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


# --------------------------------------------------------------------------
# Runtimes


@dataclasses.dataclass
class Runtime:
    name: str
    binary: str
    prefix: list[str]  # what runs before the binary (setpriv for the rootless user)
    root: str = ""
    version: str = ""
    flags: list[str] = dataclasses.field(default_factory=list)  # global flags (--rootless true)
    view: str = "hidden"  # the cgroup view it runs in: "hidden" (cgroup2 covered) or "native"

    def cmd(self, *args: str) -> list[str]:
        View.enter(self.view)
        return [*self.prefix, self.binary, *self.flags, "--root", self.root, *args]


# --------------------------------------------------------------------------
# One cgroup view for every runtime. crun 1.8 refuses this hybrid host unless its
# cgroup2 mount is hidden, so every runtime runs in a private mount namespace with
# an empty tmpfs over /sys/fs/cgroup/unified (what crun needs), entered once by
# this process: no runtime pays a per-invocation wrapper. runc and skiff also run
# in the host's own view ("native") beside it. The switch is a setns(2) of this
# (single-threaded) process before each spawn, so it costs the runtimes nothing.

CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18


class View:
    fds: dict[str, int] = {}
    current = "native"

    @classmethod
    def setup(cls) -> bool:
        """Makes the hidden view; False on a host without a cgroup2 mount to hide."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        cls.libc = libc
        cls.fds["native"] = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        if not hybrid_cgroup2():
            cls.fds["hidden"] = cls.fds["native"]
            return False
        if libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
        if libc.mount(b"skiff-bench", b"/sys/fs/cgroup/unified", b"tmpfs", 0, b"size=1m") != 0:
            raise OSError(ctypes.get_errno(), "mount tmpfs on /sys/fs/cgroup/unified")
        cls.fds["hidden"] = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        cls.current = "hidden"
        return True

    @classmethod
    def enter(cls, view: str) -> None:
        if view == cls.current or view not in cls.fds:
            return
        import ctypes
        if cls.libc.setns(cls.fds[view], CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), f"setns into the {view} cgroup view")
        cls.current = view


def hybrid_cgroup2() -> bool:
    with open("/proc/self/mounts") as f:
        return any(
            line.split()[1:3] == ["/sys/fs/cgroup/unified", "cgroup2"] for line in f
        )


def discover_runtimes(native: bool) -> tuple[list[Runtime], list[str]]:
    """runc, crun and skiff in the hidden view; with `native`, runc and skiff again in the
    host's own view (crun cannot run there)."""
    found: list[Runtime] = []
    skipped: list[str] = []

    runc = shutil.which("runc") or ("/usr/sbin/runc" if os.path.exists("/usr/sbin/runc") else None)
    if runc:
        found.append(Runtime("runc", runc, []))
    else:
        skipped.append("runc: not installed (apt-get install runc)")

    crun = shutil.which("crun")
    if crun:
        found.append(Runtime("crun", crun, []))
    else:
        skipped.append("crun: not installed (apt-get install crun)")

    skiff = os.environ.get("SKIFF_BINARY") or os.path.join(REPO, ".build/release/skiff")
    if os.access(skiff, os.X_OK):
        found.append(Runtime("skiff", os.path.abspath(skiff), []))
    else:
        skipped.append(f"skiff: {skiff} not found (make build, or set SKIFF_BINARY)")
    if native:
        found += [Runtime(rt.name + " (native)", rt.binary, [], view="native") for rt in found
                  if rt.name in ("runc", "skiff")]
    return found, skipped


def version_of(rt: Runtime) -> str:
    try:
        out = subprocess.run([rt.binary, "--version"], capture_output=True, text=True, timeout=10)
        line = (out.stdout or out.stderr).strip().splitlines()
        return line[0] if line else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# --------------------------------------------------------------------------
# Rootless: the same runtime run by an unprivileged user (setpriv drops every id
# and capability after the root-only wrapper, if any), with its rootless flag and
# a root under the user's XDG_RUNTIME_DIR, on a config turned rootless as
# `runc spec --rootless` does (runc's specconv.ToRootless).

ROOTLESS_USER = os.environ.get("BENCH_USER", "skiff-rootless")
ROOTLESS_FLAGS = {"runc": ["--rootless", "true"], "crun": ["--rootless=true"], "skiff": ["--rootless", "true"]}


def rootless_ids() -> tuple[int, int]:
    """The bench user's uid and gid; a system user is added when missing."""
    import pwd
    try:
        entry = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", ROOTLESS_USER], check=True)
        entry = pwd.getpwnam(ROOTLESS_USER)
    return entry.pw_uid, entry.pw_gid


def rootless_runtime(rt: Runtime, tmp: str) -> Runtime:
    uid, gid = rootless_ids()
    runtime_dir = os.path.join(tmp, "xdg-" + ROOTLESS_USER)
    os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
    os.chown(runtime_dir, uid, gid)
    user = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "env", f"XDG_RUNTIME_DIR={runtime_dir}"]
    return Runtime(rt.name, rt.binary, [*rt.prefix, *user], os.path.join(runtime_dir, rt.name.split()[0] + "-" + rt.view),
                   rt.version, ROOTLESS_FLAGS.get(rt.name.split()[0], []), rt.view)


def rootless_patch(cfg: dict) -> None:
    uid, gid = rootless_ids()
    linux = cfg.setdefault("linux", {})
    linux["namespaces"] = [n for n in linux.get("namespaces", []) if n["type"] not in ("network", "user")]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    linux.pop("resources", None)
    for mount in cfg.get("mounts", []):
        if mount["destination"] == "/sys":
            mount.update({"type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
        elif mount.get("options"):
            mount["options"] = [o for o in mount["options"] if not o.startswith(("gid=", "uid="))]


# --------------------------------------------------------------------------
# Bundles: one per scenario, sharing the read-only busybox rootfs by absolute
# path, so every runtime starts the same process from the same files.


@dataclasses.dataclass
class Context:
    base_config: dict
    rootfs: str
    tmp: str
    bundles: dict[str, str] = dataclasses.field(default_factory=dict)

    def bundle(self, scenario: "Scenario") -> str:
        if scenario.key not in self.bundles:
            cfg = copy.deepcopy(self.base_config)
            cfg["root"] = {"path": self.rootfs, "readonly": True}
            cfg["process"]["args"] = list(scenario.args)
            cfg["process"]["terminal"] = False
            if scenario.patch:
                scenario.patch(cfg)
            path = os.path.join(self.tmp, "bundle-" + scenario.key)
            os.makedirs(path)
            with open(os.path.join(path, "config.json"), "w") as f:
                json.dump(cfg, f, indent=2)
            self.bundles[scenario.key] = path
        return self.bundles[scenario.key]

    def pidfile(self, rt: Runtime, cid: str) -> str:
        return os.path.join(self.tmp, f"{rt.name}-{cid}.pid")


# --------------------------------------------------------------------------
# Scenarios


@dataclasses.dataclass
class Metric:
    key: str
    label: str
    unit: str  # "ms" or "KB"


@dataclasses.dataclass
class Scenario:
    key: str
    args: list[str]
    measure: Callable[[Context, Runtime, str, "Scenario"], dict[str, float]]
    metrics: list[Metric]
    patch: Callable[[dict], None] | None = None
    cleanup: bool = True  # `delete --force` after each iteration (untimed)
    rootless: bool = False  # run by an unprivileged user (rootless_runtime)


def measure_run(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    # `run` in the foreground returns when the container has exited and, as
    # with runc, removes it; the untimed cleanup catches a runtime that doesn't.
    return {"run": spawn(rt.cmd("run", "--bundle", ctx.bundle(sc), cid)).ms}


# Peak RSS needs a small parent. Python's own wait4 cannot give it: posix_spawn
# (vfork) and fork both start the child on Python's ~17 MB address space, and
# the kernel folds that mm's high-water mark into the child's ru_maxrss at
# exec. GNU time forks from ~1 MB, so its %M is the runtime's own peak (with
# the children it waited for: runc's init, the container's /bin/true).
GNU_TIME = "/usr/bin/time"


def measure_rss(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    if not os.access(GNU_TIME, os.X_OK):
        raise CommandFailed(f"{GNU_TIME} not found (apt-get install time)")
    out = os.path.join(ctx.tmp, "rss")
    spawn([GNU_TIME, "-f", "%M", "-o", out, *rt.cmd("run", "--bundle", ctx.bundle(sc), cid)])
    with open(out) as f:
        return {"rss": float(f.read().split()[-1])}


def measure_lifecycle(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    # The wait is on the container's init through a pidfd, not by polling
    # `state`, so no runtime pays for extra invocations of itself.
    pidfile = ctx.pidfile(rt, cid)
    start = time.perf_counter()
    spawn(rt.cmd("create", "--bundle", ctx.bundle(sc), "--pid-file", pidfile, cid))
    pid = read_pid(pidfile)
    spawn(rt.cmd("start", cid))
    wait_pid_exit(pid)
    spawn(rt.cmd("delete", cid))
    return {"lifecycle": (time.perf_counter() - start) * 1000.0}


def measure_force_delete(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    pidfile = ctx.pidfile(rt, cid)
    start = time.perf_counter()
    spawn(rt.cmd("create", "--bundle", ctx.bundle(sc), "--pid-file", pidfile, cid))
    spawn(rt.cmd("start", cid))
    spawn(rt.cmd("delete", "--force", cid))
    return {"force_delete": (time.perf_counter() - start) * 1000.0}


def measure_rootless_run(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    return {"rootless_run": measure_run(ctx, rt, cid, sc)["run"]}


def measure_lifecycle_limits(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    # The same commands as the lifecycle; the bundle sets limits, so each runtime also
    # writes them into the cgroup before the container runs.
    return {"lifecycle_limits": measure_lifecycle(ctx, rt, cid, sc)["lifecycle"]}


# Limits a container manager typically sets: memory (swap equal, so no swap), a pids
# cap, and cpu shares plus a quota of half a CPU.
LIMITS = {
    "memory": {"limit": 256 << 20, "swap": 256 << 20},
    "pids": {"limit": 128},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}


def limits_patch(cfg: dict) -> None:
    cfg.setdefault("linux", {}).setdefault("resources", {}).update(copy.deepcopy(LIMITS))


# A podman-like default seccomp profile (Tests/Bench/seccomp-podman-like.json): default
# ERRNO(EPERM), three architectures, every x86_64 syscall but Docker's documented denylist
# plus the 32-bit names, and podman's conditional personality/clone/socket rules.
SECCOMP_PROFILE = os.path.join(REPO, "Tests/Bench/seccomp-podman-like.json")


def seccomp_patch(cfg: dict) -> None:
    with open(SECCOMP_PROFILE) as f:
        cfg.setdefault("linux", {})["seccomp"] = json.load(f)


def measure_run_seccomp(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    # skiff keeps compiled filters under its root, so only its first run compiles.
    return {"run_seccomp": measure_run(ctx, rt, cid, sc)["run"]}


def measure_exec(ctx: Context, rt: Runtime, cid: str, sc: Scenario) -> dict[str, float]:
    # A running container (untimed), then only `exec` of /bin/true is timed.
    pidfile = ctx.pidfile(rt, cid)
    spawn(rt.cmd("create", "--bundle", ctx.bundle(sc), "--pid-file", pidfile, cid))
    spawn(rt.cmd("start", cid))
    return {"exec": spawn(rt.cmd("exec", cid, "/bin/true")).ms}


SCENARIOS: list[Scenario] = [
    Scenario(
        "run", ["/bin/true"], measure_run,
        [Metric("run", "`run` /bin/true", "ms")],
    ),
    Scenario(
        "run_seccomp", ["/bin/true"], measure_run_seccomp,
        [Metric("run_seccomp", "`run` /bin/true with a podman-like seccomp profile", "ms")],
        patch=seccomp_patch,
    ),
    Scenario(
        "lifecycle", ["/bin/true"], measure_lifecycle,
        [Metric("lifecycle", "create + start + wait for exit + delete (/bin/true)", "ms")],
    ),
    Scenario(
        "lifecycle_limits", ["/bin/true"], measure_lifecycle_limits,
        [Metric("lifecycle_limits", "the same with memory, pids and cpu limits set", "ms")],
        patch=limits_patch,
    ),
    Scenario(
        "force_delete", ["/bin/sleep", "1000"], measure_force_delete,
        [Metric("force_delete", "create + start + `delete --force` (sleep 1000)", "ms")],
    ),
    Scenario(
        "exec", ["/bin/sleep", "1000"], measure_exec,
        [Metric("exec", "`exec` /bin/true into a running container", "ms")],
    ),
    Scenario(
        "rootless_run", ["/bin/true"], measure_rootless_run,
        [Metric("rootless_run", "rootless `run` /bin/true (an unprivileged user, its own uid mapped)", "ms")],
        patch=rootless_patch, rootless=True,
    ),
    Scenario(
        "rss", ["/bin/true"], measure_rss,
        [Metric("rss", "peak RSS of the runtime process (`run` /bin/true)", "KB")],
    ),
]


# --------------------------------------------------------------------------
# The smallest memory limit under which `run` /bin/true succeeds: everything the
# runtime does inside the container's cgroup (its init, a copy of its binary if it
# makes one, the kernel memory of the namespaces) is charged there.

MIN_MEMORY_STEP = 64 << 10  # bytes: the search's resolution
MIN_MEMORY_TRIES = 3  # a limit counts only if every try succeeds


def run_under_limit(ctx: Context, rt: Runtime, limit: int) -> bool:
    def patch(cfg: dict) -> None:
        cfg.setdefault("linux", {}).setdefault("resources", {})["memory"] = {"limit": limit, "swap": limit}

    sc = Scenario(f"mem{limit}", ["/bin/true"], measure_run, [], patch=patch)
    for i in range(MIN_MEMORY_TRIES):
        cid = f"bench-mem-{limit}-{i}"
        try:
            spawn(rt.cmd("run", "--bundle", ctx.bundle(sc), cid))
        except CommandFailed:
            return False
        finally:
            spawn(rt.cmd("delete", "--force", cid), check=False)
    return True


def min_memory(ctx: Context, rt: Runtime, high: int = 64 << 20) -> int | None:
    """Bisects between 0 and `high`; None when even `high` is not enough."""
    if not run_under_limit(ctx, rt, high):
        return None
    low = 0  # known to fail (or never tried)
    while high - low > MIN_MEMORY_STEP:
        mid = (low + high) // 2 // MIN_MEMORY_STEP * MIN_MEMORY_STEP
        if mid <= low:
            mid = low + MIN_MEMORY_STEP
        if run_under_limit(ctx, rt, mid):
            high = mid
        else:
            low = mid
    return high


def fmt_bytes(value: int) -> str:
    return f"{value / (1 << 20):.2f} MiB" if value >= 1 << 20 else f"{value >> 10} KiB"


def kernel_floor(n: int) -> float | None:
    """`unshare -pfmnui --fork /bin/true`: the namespaces alone, no runtime."""
    if not shutil.which("unshare"):
        return None
    argv = ["unshare", "-pfmnui", "--fork", "/bin/true"]
    return statistics.median(spawn(argv).ms for _ in range(n))


def rss_floor() -> float | None:
    """What GNU time itself reports for /bin/true: the floor under the RSS row."""
    if not os.access(GNU_TIME, os.X_OK):
        return None
    out = os.path.join(WORKDIR, "rss")
    spawn([GNU_TIME, "-f", "%M", "-o", out, "/bin/true"])
    with open(out) as f:
        return float(f.read().split()[-1])


# --------------------------------------------------------------------------
# Instruction counts of skiff's commands that valgrind 3.19 can run (no init to
# start, no pidfd_open, which it does not know): under callgrind, the runtime
# process only; mostly the cost every command pays before it does anything. Unlike wall time they do not move with load,
# so they show what a change to skiff saved. create, run and exec cannot be counted
# this way (every runtime re-executes /proc/self/exe for its init, which under
# valgrind is valgrind's own tool), nor can runc (the Go runtime aborts under
# valgrind) or crun (it re-executes itself from a memfd on every command).

CALLGRIND_COMMANDS = ["state", "list", "features"]  # valgrind 3.19 lacks pidfd_open: not start/kill/delete


def callgrind_ir(ctx: Context, argv: list[str]) -> int:
    out = os.path.join(ctx.tmp, "callgrind.out")
    spawn(["valgrind", "--tool=callgrind", "--trace-children=no", f"--callgrind-out-file={out}", *argv])
    with open(out) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise CommandFailed(f"no instruction total in {out}")


def callgrind_counts(ctx: Context, rt: Runtime) -> dict[str, int]:
    sleeping = ctx.bundle(Scenario("exec", ["/bin/sleep", "1000"], measure_exec, []))
    cid = "bench-callgrind"
    counts: dict[str, int] = {}
    # valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: count a copy
    # without debug info (the same code).
    stripped = os.path.join(ctx.tmp, rt.name.split()[0] + "-nodebug")
    spawn(["objcopy", "--strip-debug", rt.binary, stripped])
    rt = dataclasses.replace(rt, binary=stripped)
    try:
        spawn(rt.cmd("create", "--bundle", sleeping, "--pid-file", ctx.pidfile(rt, cid), cid))
        counts["state"] = callgrind_ir(ctx, rt.cmd("state", cid))
        counts["list"] = callgrind_ir(ctx, rt.cmd("list"))
        counts["features"] = callgrind_ir(ctx, rt.cmd("features"))
    finally:
        spawn(rt.cmd("delete", "--force", cid), check=False)
    return counts


def fmt(value: float, unit: str) -> str:
    if unit == "KB":
        return f"{value:,.0f} KB"
    return f"{value:.1f} ms"


def filesystem_of(path: str) -> str:
    """The type of the filesystem `path` is on, from /proc/self/mounts (the longest mount point
    that contains it)."""
    path = os.path.realpath(path)
    best, fstype = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            point = fields[1]
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, fstype = point, fields[2]
    return fstype


def state_directory(where: str, tmp: str) -> str:
    """A fresh directory for the runtimes' roots: on /dev/shm for "tmpfs" (refused when that is
    not a tmpfs here), else beside the bundles."""
    if where == "disk":
        return tmp
    if filesystem_of("/dev/shm") != "tmpfs":
        raise SystemExit("bench: /dev/shm is not a tmpfs here; pass --state disk")
    state = tempfile.mkdtemp(prefix="skiff-bench-state-", dir="/dev/shm")
    os.chmod(state, 0o755)  # the rootless scenarios' user makes its XDG_RUNTIME_DIR's roots here
    return state


def main() -> int:
    global WORKDIR
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", "30")),
                    help="iterations per scenario and runtime (env BENCH_N, default 30)")
    ap.add_argument("--runtime", action="append", help="only these runtimes (repeatable)")
    ap.add_argument("--scenario", action="append", help="only these scenarios (repeatable): "
                    + ", ".join(s.key for s in SCENARIOS))
    ap.add_argument("--json", help="also write raw samples to this file")
    ap.add_argument("--min-memory", choices=["yes", "no", "only"], default="yes",
                    help="also (or only) find the smallest memory limit under which `run` /bin/true "
                         "succeeds, per runtime (default yes)")
    ap.add_argument("--native", choices=["yes", "no"], default="yes",
                    help="also run runc and skiff in the host's own cgroup view (default yes)")
    ap.add_argument("--callgrind", choices=["yes", "no"], default="yes" if shutil.which("valgrind") else "no",
                    help="also count each command's instructions under callgrind (default yes when installed)")
    ap.add_argument("--page-cache", choices=["evict", "read", "as-is"], default="evict",
                    help="each runtime binary's page cache before the first run: dropped, so that "
                         "the first exec faults it in as after a reboot (default); dropped and read "
                         "through; or as found")
    ap.add_argument("--state", choices=["tmpfs", "disk"], default="tmpfs",
                    help="where the runtimes' --root directories live: a tmpfs (/dev/shm), as /run is on "
                         "production hosts (default), or beside the bundles in the temporary directory")
    opts = ap.parse_args()

    if os.geteuid() != 0:
        print("bench: needs root (the runtimes create namespaces and cgroups)", file=sys.stderr)
        return 2
    rootfs = os.path.abspath(os.environ.get("SKIFF_BUNDLE_ROOTFS")
                             or os.path.join(REPO, "bundles/busybox/rootfs"))
    if not os.path.exists(os.path.join(rootfs, "bin/busybox")):
        print(f"bench: no rootfs at {rootfs} (run `make bundle`)", file=sys.stderr)
        return 2
    with open(os.path.join(REPO, "bundles/busybox/config.json")) as f:
        base_config = json.load(f)

    hidden = View.setup()
    runtimes, skipped = discover_runtimes(native=hidden and opts.native == "yes")
    if opts.runtime:
        runtimes = [r for r in runtimes if r.name in opts.runtime]
    scenarios = [s for s in SCENARIOS if not opts.scenario or s.key in opts.scenario]
    if opts.min_memory == "only":
        scenarios = []

    tmp = tempfile.mkdtemp(prefix="skiff-bench-")
    os.chmod(tmp, 0o755)  # the rootless scenarios' user reads the bundles
    WORKDIR = tmp
    ctx = Context(base_config, rootfs, tmp)
    # The state roots. Each runtime writes, renames and unlinks its state file on every
    # command; on a disk filesystem (this machine's /tmp and /run are ext4) that costs every
    # runtime alike ~0.7 ms a `run` in writeback the kernel starts at the rename, which no
    # production host pays: /run, where runc, crun and skiff keep their state by default, is a
    # tmpfs there.
    state = state_directory(opts.state, tmp)
    for rt in runtimes:
        rt.root = os.path.join(state, "root-" + rt.name.split()[0] + "-" + rt.view)
        os.makedirs(rt.root)
        rt.version = version_of(rt)

    created: list[tuple[Runtime, str]] = []
    samples: dict[str, dict[str, list[float]]] = {}  # metric -> runtime -> values
    failed: dict[tuple[str, str], str] = {}  # (scenario, runtime) -> reason
    counts: dict[str, dict[str, int]] = {}  # runtime -> command -> instructions

    def cleanup(rt: Runtime, cid: str) -> None:
        spawn(rt.cmd("delete", "--force", cid), check=False)

    settle_page_cache(sorted({rt.binary for rt in runtimes}), opts.page_cache)
    # A runtime that cannot run the bundle at all is skipped, with its error.
    usable = []
    for rt in runtimes:
        try:
            spawn(rt.cmd("run", "--bundle", ctx.bundle(SCENARIOS[0]), "bench-smoke"))
            usable.append(rt)
        except CommandFailed as e:
            skipped.append(f"{rt.name}: smoke `run` failed: {e}")
        finally:
            cleanup(rt, "bench-smoke")
    runtimes = usable
    rootless = {rt.name: rootless_runtime(rt, state) for rt in runtimes} if any(s.rootless for s in scenarios) else {}

    try:
        for sc in scenarios:
            print(f"bench: {sc.key} x{opts.n} ({', '.join(r.name for r in runtimes)})",
                  file=sys.stderr, flush=True)
            for i in range(-1, opts.n):  # iteration -1 warms caches; not recorded
                # The order rotates each iteration (A B C, B C A, C A B, ...): a container's
                # teardown leaves the kernel work to do after the runtime has returned (the
                # network namespace's cleanup runs in a workqueue), which lands on whatever
                # runs next; in a fixed order one runtime would always follow the same one.
                shift = (i + 1) % len(runtimes) if runtimes else 0
                for rt in runtimes[shift:] + runtimes[:shift]:
                    if (sc.key, rt.name) in failed:
                        continue
                    if sc.rootless:
                        rt = rootless[rt.name]
                    cid = f"bench-{sc.key}-{i + 1}"
                    try:
                        values = sc.measure(ctx, rt, cid, sc)
                    except CommandFailed as e:
                        failed[(sc.key, rt.name)] = str(e)
                        print(f"bench: {rt.name} {sc.key}: {e}", file=sys.stderr)
                        values = None
                    finally:
                        if sc.cleanup:
                            cleanup(rt, cid)
                    if values and i >= 0:
                        for k, v in values.items():
                            samples.setdefault(k, {}).setdefault(rt.name, []).append(v)
        minimum: dict[str, int | None] = {}
        if opts.min_memory != "no":
            for rt in runtimes:
                print(f"bench: smallest memory limit for {rt.name}", file=sys.stderr, flush=True)
                minimum[rt.name] = min_memory(ctx, rt)
        if opts.callgrind == "yes":
            for rt in [r for r in runtimes if r.name.startswith("skiff")][:1]:
                print(f"bench: callgrind {rt.name}", file=sys.stderr, flush=True)
                try:
                    counts[rt.name] = callgrind_counts(ctx, rt)
                except CommandFailed as e:
                    failed[("callgrind", rt.name)] = str(e)
        View.enter("hidden")
        floor = kernel_floor(min(opts.n, 10))
        rss_min = rss_floor() if any(s.key == "rss" for s in scenarios) else None
    finally:
        for rt in [*runtimes, *rootless.values()]:
            for cid in os.listdir(rt.root) if os.path.isdir(rt.root) else []:
                cleanup(rt, cid)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)

    # ----- report
    names = [rt.name for rt in runtimes]
    base = "runc" if "runc" in names else (names[0] if names else None)
    print()
    print(f"<!-- bench.py: N={opts.n}, {datetime.date.today()}, {os.cpu_count()} cores, "
          f"kernel {platform.release()} -->")
    head = "| scenario (median) | " + " | ".join(
        f"{rt.name} {rt.version.split()[-1] if rt.version else ''}".strip() for rt in runtimes) + " |"
    print(head)
    print("|---|" + "---|" * len(runtimes))
    for sc in scenarios:
        for m in sc.metrics:
            cells = []
            ref = samples.get(m.key, {}).get(base) if base else None
            ref_med = statistics.median(ref) if ref else None
            for rt in runtimes:
                vals = samples.get(m.key, {}).get(rt.name)
                if (sc.key, rt.name) in failed:
                    cells.append("failed")
                elif not vals:
                    cells.append("–")
                else:
                    med = statistics.median(vals)
                    cell = fmt(med, m.unit)
                    if ref_med and rt.name != base:
                        cell += f" ({med / ref_med:.2f}× {base})"
                    cells.append(cell)
            print(f"| {m.label} | " + " | ".join(cells) + " |")
    if minimum:
        cells = [fmt_bytes(minimum[rt.name]) if minimum.get(rt.name) is not None else "> 64 MiB" for rt in runtimes]
        print("| smallest memory limit (swap = limit) under which `run` /bin/true succeeds "
              f"({MIN_MEMORY_TRIES}/{MIN_MEMORY_TRIES} tries, {MIN_MEMORY_STEP >> 10} KiB steps) | "
              + " | ".join(cells) + " |")
    print(flush=True)
    if floor is not None:
        print(f"Kernel floor, `unshare -pfmnui --fork /bin/true`: {floor:.1f} ms.")
    if rss_min is not None:
        print(f"RSS floor, GNU time's /bin/true: {rss_min:,.0f} KB.")
    print(f"State roots (--root) on {filesystem_of(state)} ({os.path.dirname(state)}).")
    print({"evict": "Each runtime binary's page cache dropped before the first run, which faulted it in (--page-cache evict).",
           "read": "Each runtime binary's page cache dropped and read through before the first run (--page-cache read).",
           "as-is": "Runtime binaries' page cache as found (--page-cache as-is)."}[opts.page_cache])
    if hidden:
        print("Every runtime ran in one cgroup view: a private mount namespace with an empty tmpfs over "
              "/sys/fs/cgroup/unified (what crun needs on this hybrid host), entered by the benchmark itself, "
              "so no runtime pays a wrapper; \"(native)\" is the host's own view.")
    if counts:
        print()
        print("| instructions per command (callgrind, the runtime process only; runc and crun "
              "cannot run under valgrind) | "
              + " | ".join(counts) + " |")
        print("|---|" + "---|" * len(counts))
        ref_counts = counts.get(base) if base else None
        for command in CALLGRIND_COMMANDS:
            cells = []
            for name, per in counts.items():
                value = per.get(command)
                cell = f"{value / 1e6:.1f} M" if value else "–"
                if value and ref_counts and ref_counts.get(command) and name != base:
                    cell += f" ({value / ref_counts[command]:.2f}× {base})"
                cells.append(cell)
            print(f"| `{command}` | " + " | ".join(cells) + " |")
    for s in skipped:
        print(f"Skipped {s}")
    for (sk, rn), why in failed.items():
        print(f"Failed {rn} {sk}: {why}")

    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"n": opts.n, "date": str(datetime.date.today()),
                       "kernel": platform.release(),
                       "versions": {rt.name: rt.version for rt in runtimes},
                       "samples": samples,
                       "min_memory": minimum,
                       "instructions": counts,
                       "failed": {f"{k[1]}/{k[0]}": v for k, v in failed.items()}}, f, indent=1)
    return 0


WORKDIR = ""

if __name__ == "__main__":
    sys.exit(main())
