#!/usr/bin/env python3
"""make e2e: real callers (podman, rootless podman, containerd's ctr, Docker and
a Kubernetes pod through containerd's CRI plugin) drive runc, the reference,
and skiff through the same checks. Prints `N passed, N failed` per caller and
runtime and in total; exits 1 on any failure.

Environment: SKIFF_BINARY (default .build/release/skiff), SKIFF_BUNDLE_ROOTFS
(default bundles/busybox/rootfs), E2E_RUNTIMES (default "runc skiff"),
E2E_CALLERS (default all: podman podman-rootless ctr docker cri),
E2E_KEEP=1 keeps the temp directory, E2E_VERBOSE=1 prints every command.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import REPO, Fail, Suite, remove_tree  # noqa: E402
import image  # noqa: E402
import podman  # noqa: E402
import ctr  # noqa: E402
import docker  # noqa: E402
import cri  # noqa: E402

CALLERS = {
    "podman": lambda ctx, rts: podman.run_caller(ctx, rts, rootless=False),
    "podman-rootless": lambda ctx, rts: podman.run_caller(ctx, rts, rootless=True),
    "ctr": ctr.run_caller,
    "docker": docker.run_caller,
    "cri": cri.run_caller,
}
REFERENCE = {"runc": "/usr/sbin/runc"}


class Context:
    pass


def install_runtimes(tmp, wanted):
    """Copies each runtime under its own name into a bin dir every caller (and
    the rootless user) can reach."""
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    os.chmod(bindir, 0o755)
    sources = dict(REFERENCE, skiff=os.environ.get("SKIFF_BINARY", os.path.join(REPO, ".build/release/skiff")))
    paths = {}
    for name in wanted:
        src = sources.get(name) or shutil.which(name)
        if not src or not os.path.exists(src):
            raise SystemExit(f"e2e: runtime {name}: {src or name} not found")
        dst = os.path.join(bindir, name)
        shutil.copy(src, dst)
        os.chmod(dst, 0o755)
        paths[name] = dst
    return paths


def version_line(path):
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        return " ".join(out.split())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"({e})"


def main():
    started = time.monotonic()
    runtimes = os.environ.get("E2E_RUNTIMES", "runc skiff").split()
    callers = os.environ.get("E2E_CALLERS", " ".join(CALLERS)).split()
    unknown = [c for c in callers if c not in CALLERS]
    if unknown:
        raise SystemExit(f"e2e: unknown caller(s) {unknown}; known: {' '.join(CALLERS)}")
    if os.geteuid() != 0:
        raise SystemExit("e2e: needs root (the daemons and rootless setup); run as root")
    tmp = tempfile.mkdtemp(prefix="skiff-e2e-")
    os.chmod(tmp, 0o755)  # the rootless user reaches its own dirs and the runtimes through here
    ctx = Context()
    ctx.tmp = tmp
    ctx.rootless_uid = None
    ctx.rootless_error = None
    suites = []
    try:
        ctx.runtimes = install_runtimes(tmp, runtimes)
        for name, path in ctx.runtimes.items():
            print(f"e2e: {name}: {version_line(path)}")
        rootfs = os.environ.get("SKIFF_BUNDLE_ROOTFS", os.path.join(REPO, "bundles/busybox/rootfs"))
        ctx.image_archive = image.build_archive(rootfs, os.path.join(tmp, "busybox-image.tar"))
        print(f"e2e: temp dir {tmp}; image {image.IMAGE} from {rootfs}", flush=True)
        for caller in callers:
            t = time.monotonic()
            print(f"== {caller}", flush=True)
            try:
                got = CALLERS[caller](ctx, runtimes)
            except Exception as e:  # a caller that cannot start is a failure with its error
                got = []
                for rt in runtimes:
                    s = Suite(caller, rt)
                    s.record("setup", False, f"{type(e).__name__}: {e}")
                    got.append(s)
            suites.extend(got)
            print(f"== {caller}: {time.monotonic() - t:.0f}s", flush=True)
    finally:
        if os.environ.get("E2E_KEEP") == "1":
            print(f"e2e: kept {tmp}")
        else:
            remove_tree(tmp)
    print()
    print("e2e results (checks passed/failed per caller and runtime):")
    for s in suites:
        print(f"  {s.caller:16} {s.runtime:6} {s.passed} passed, {s.failed} failed")
    failures = [(s, n, m) for s in suites for n, ok, m in s.results if not ok]
    if failures:
        print("failed checks:")
        for s, n, m in failures:
            print(f"  {s.caller}/{s.runtime}: {n}: {m.splitlines()[0] if m else ''}"[:400])
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed for s in suites)
    print(f"e2e took {time.monotonic() - started:.0f}s")
    print(f"e2e: {passed} passed, {failed} failed")
    return 1 if failed or not suites else 0


if __name__ == "__main__":
    sys.exit(main())
