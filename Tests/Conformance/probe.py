#!/usr/bin/env python3
"""make conformance: is each runtime-spec 1.2.1 field applied, refused or ignored?

For skiff, runc and crun (where installed), one container per field group
(Tests/Conformance/fields.py) runs a static helper and a shell script that
print what the process sees (/proc/self/status, sched_getattr, ioprio,
personality, mempolicy, mountinfo, namespaces, limits, ...); the host reads
the container's cgroup files while it is `created`, and the hooks' files.
Each field × runtime is:

  applied       the effect the field asks for is visible
  refused       create/start failed (the error text is recorded)
  ignored       it ran, but without the effect
  n/a           it ran without the effect, and this host cannot show it (reason given)
  undetermined  the baseline (the group without the field) already shows the
                value: a defect of the check, never counted as applied

The table goes to stdout and docs/conformance.md (--out). Each runtime has its
own --root in a temporary directory; every container is deleted, and the probe
checks that no cgroup or mount of its own is left on the host.

Environment: SKIFF_BINARY (default <repo>/.build/release/skiff),
SKIFF_BUNDLE_ROOTFS (default <repo>/bundles/busybox/rootfs). Needs root and gcc.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fields as F  # noqa: E402
from runner import Runtime, run_container  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = f"conf{os.getpid()}-"

# What every container prints; fields.py reads it by section. Busybox applets only.
SCRIPT = r"""
echo "@@args"; echo "$0"
echo "@@status"; cat /proc/self/status
echo "@@limits"; cat /proc/self/limits
echo "@@oom"; cat /proc/self/oom_score_adj
echo "@@ns"; for n in cgroup ipc mnt net pid time user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo "@@uname"; uname -m
echo "@@hostname"; hostname
echo "@@domainname"; cat /proc/sys/kernel/domainname
echo "@@env"; env
echo "@@cwd"; pwd
echo "@@mountinfo"; cat /proc/self/mountinfo
echo "@@uid_map"; cat /proc/self/uid_map
echo "@@timens"; cat /proc/self/timens_offsets 2>&1
echo "@@attr"; cat /proc/self/attr/current 2>&1
echo "@@sysctl"; cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>&1
echo "@@dev"; stat -c "%F %t:%T %a %u:%g" /dev/conf-dev 2>&1; (: > /dev/conf-dev) 2>&1
echo "@@masked"; cat /etc/conf-masked 2>&1; ls -A /conf-maskdir 2>&1
echo "@@writes"; for p in /tmp/conf-w /conf-rootw; do (: > $p) 2>&1 && echo "$p ok" && rm -f $p; done
echo "@@seccomp"; mkdir /tmp/conf-sc 2>&1 && echo "mkdir ok" && rmdir /tmp/conf-sc; kill -0 $$ 2>&1 && echo "kill0 ok"; kill -CONT $$ 2>&1 && echo "killcont ok"
echo "@@net"; ls /sys/class/net 2>&1
echo "@@tty"; tty 2>&1; stty size 2>&1
echo "@@idmap"; stat -c "%u:%g" /conf-idmap/file 2>&1
echo "@@bind"; cat /conf-bind/file 2>&1
echo "@@rro"; (: > /conf-rro/sub/x) 2>&1 && echo "sub writable" && rm -f /conf-rro/sub/x
echo "@@end"
"""

# Hooks write their stdin (the state) and where they ran into the bundle's out/
# directory (from the state's "bundle"); a hook that runs after pivot_root (startContainer)
# finds that directory bind-mounted at /conf-out instead.
HOOK_SCRIPT = r"""s=$(cat); b=$(echo "$s" | sed -n 's/.*"bundle": *"\([^"]*\)".*/\1/p'); d="$b/out"
[ -d "$d" ] || d=/conf-out; echo "$s" > "$d/$0.state"
{ readlink /proc/self/ns/mnt; echo "$CONF_HOOK_ENV"; } > "$d/$0.info"
"""


def sh(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- runtimes

def hybrid_cgroup2() -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1:3] == ["/sys/fs/cgroup/unified", "cgroup2"] for line in f)


def discover(names: list[str]) -> tuple[list[Runtime], list[str]]:
    found, skipped = [], []
    for name in names:
        if name == "skiff":
            b = os.environ.get("SKIFF_BINARY") or os.path.join(REPO, ".build/release/skiff")
            if os.access(b, os.X_OK):
                found.append(Runtime("skiff", os.path.abspath(b), []))
            else:
                skipped.append(f"skiff: {b} not found (make build, or set SKIFF_BINARY)")
        else:
            b = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
            if not b:
                skipped.append(f"{name}: not installed")
                continue
            prefix = []
            if name == "crun" and hybrid_cgroup2():
                # crun 1.8 refuses a hybrid v1/v2 host: hide cgroup2 in a private mount
                # namespace for each invocation (docs ANCHORS).
                prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                          'mount -t tmpfs -o size=1m x /sys/fs/cgroup/unified && exec "$0" "$@"']
            found.append(Runtime(name, b, prefix))
    for rt in found:
        out = subprocess.run([rt.binary, "--version"], capture_output=True, text=True)
        rt.version = " ".join(ln.strip() for ln in out.stdout.strip().splitlines()[:2])
    return found, skipped


# ---------------------------------------------------------------- host setup

def build_rootfs(tmp: str) -> str:
    src = os.environ.get("SKIFF_BUNDLE_ROOTFS") or os.path.join(REPO, "bundles/busybox/rootfs")
    if not os.path.isfile(os.path.join(src, "bin/busybox")):
        sys.exit(f"conformance: no rootfs at {src} (make bundle)")
    rootfs = os.path.join(tmp, "rootfs")
    sh("cp", "-a", src, rootfs)
    sh("gcc", "-static", "-O1", "-o", os.path.join(rootfs, "conf-helper"), os.path.join(HERE, "helper.c"))
    for d in ("conf-out", "conf-bind", "conf-rro", "conf-idmap", "conf-tmpfs", "conf-shared", "conf-maskdir", "var/tmp"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    with open(os.path.join(rootfs, "etc/conf-masked"), "w") as f:
        f.write("conf-secret\n")
    with open(os.path.join(rootfs, "conf-maskdir/conf-maskfile"), "w") as f:
        f.write("x\n")
    return rootfs


class Holders:
    """One process per namespace type sitting in a namespace of its own, for the
    `path` form; fresh per runtime (a joined mount namespace is changed by the run)."""

    FLAGS = {"pid": "-p", "net": "-n", "ipc": "-i", "uts": "-u", "mnt": "-m", "cgroup": "-C", "time": "-T", "user": "-U"}

    def __init__(self):
        self.procs = []
        self.info = {}
        for kind, flag in self.FLAGS.items():
            p = subprocess.Popen(["unshare", flag, "--fork", "--kill-child", "sleep", "600"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            self.procs.append(p)
            child = None
            for _ in range(200):
                try:
                    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                        kids = f.read().split()
                    if kids:
                        child = int(kids[0])
                        # the child is in the namespace once it has exec'd sleep
                        with open(f"/proc/{child}/comm") as f:
                            if f.read().strip() == "sleep":
                                break
                except OSError:
                    pass
                time.sleep(0.01)
            if child and kind == "user":
                # mapped from here rather than with `unshare -r`, which sets setgroups to deny
                # (containers' user namespaces, as podman and CRI make them, allow it)
                for m in ("uid_map", "gid_map"):
                    with open(f"/proc/{child}/{m}", "w") as f:
                        f.write("0 0 65536\n")
            if child:
                path = f"/proc/{child}/ns/{kind}"
                self.info[kind] = {"path": path, "ns": os.readlink(path)}

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        # --kill-child already takes the sleep down with unshare; this is for a holder whose
        # unshare died first
        for v in self.info.values():
            try:
                os.kill(int(v["path"].split("/")[2]), 9)
            except (OSError, ValueError):
                pass


def base_config(rootfs: str) -> dict:
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False, "user": {"uid": 0, "gid": 0},
            "args": ["/conf-helper", "/bin/sh", "-c", SCRIPT, "conf-args-marker"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": "conf",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": [], "readonlyPaths": [],
        },
    }


# ---------------------------------------------------------------- running the groups

class Probe:
    def __init__(self, tmp: str, rootfs: str, ctx: dict):
        self.tmp, self.rootfs, self.ctx = tmp, rootfs, ctx
        self.n = 0
        self.baselines: dict = {}

    def run(self, rt: Runtime, group: F.Group, cfg: dict):
        self.n += 1
        cid = f"{PREFIX}{rt.name}-{self.n}"
        bundle = os.path.join(self.tmp, rt.name, str(self.n))
        os.makedirs(bundle)
        cfg = copy.deepcopy(cfg)
        cfg["mounts"].append({"destination": "/conf-out", "type": "bind", "source": os.path.join(bundle, "out"),
                              "options": ["rbind", "rw"]})
        exec_process = None
        if group.mode == "exec":
            exec_process = copy.deepcopy(cfg["process"])
            cfg["process"]["args"] = ["/bin/sleep", "30"]
            cfg["process"].pop("execCPUAffinity", None)
        notify = self.ctx.get("notify_path", "") if group.notify else ""
        if notify and os.path.exists(notify):
            os.unlink(notify)
        return run_container(rt, cid, bundle, cfg, mode=group.mode, exec_process=exec_process, notify_path=notify)

    def configure(self, group: F.Group, fields: list[F.Field]) -> dict:
        cfg = base_config(self.rootfs)
        if group.base:
            group.base(cfg, self.ctx)
        for f in fields:
            f.patch(cfg, self.ctx)
        return cfg

    def group(self, rt: Runtime, group: F.Group) -> dict:
        self.ctx["notify_path"] = os.path.join(self.tmp, f"notify-{rt.name}-{self.n}.sock")
        whole = self.run(rt, group, self.configure(group, group.fields))
        per_field = {f.name: whole for f in group.fields}
        if whole.error and len(group.fields) > 1:
            # tell which field was refused: each alone
            for f in group.fields:
                per_field[f.name] = self.run(rt, group, self.configure(group, [f]))
        key = (rt.name, group.name if (group.base or group.mode != "run" or group.notify) else "")
        if key not in self.baselines and any(f.baseline for f in group.fields):
            self.baselines[key] = self.run(rt, group, self.configure(group, []))
        base = self.baselines.get(key)
        results = {}
        for f in group.fields:
            o = per_field[f.name]
            results[f.name] = self.judge(f, o, base)
        return results

    def judge(self, f: F.Field, o, base) -> tuple[str, str]:
        try:
            ok, seen = f.check(o, self.ctx)
        except Exception as e:  # a check that trips over odd output says so
            ok, seen = False, f"check failed: {type(e).__name__}: {e}"
        if f.refusal_ok:
            if ok:
                return "applied", seen
            return ("refused", f"{o.step} after {o.elapsed:.1f}s: {o.error}") if o.error else ("ignored", seen)
        if o.error:
            return "refused", f"{o.step}: {o.error}"
        if ok:
            if f.baseline and base is not None and not base.error:
                try:
                    bok, bseen = f.check(base, self.ctx)
                except Exception:
                    bok, bseen = False, ""
                if bok:
                    why = f.na(self.ctx) if f.na else ""
                    if why:
                        return "n/a", f"{seen} ({why})"
                    return "undetermined", f"baseline without the field shows it too: …{bseen[-70:]}"
            return "applied", seen
        why = f.na(self.ctx) if f.na else ""
        if why:
            return "n/a", f"{seen} ({why})"
        return "ignored", seen


# ---------------------------------------------------------------- leftovers

def leftovers(tmp: str) -> list[str]:
    found = []
    for ctrl in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", ctrl)
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                if d.startswith(PREFIX) or d.startswith(PREFIX.rstrip("-")):
                    found.append(f"cgroup {os.path.join(dirpath, d)}")
            if dirpath.count("/") - top.count("/") >= 3:
                dirnames[:] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if tmp in line.split()[4] and not line.split()[4].endswith("/rro/sub"):
                found.append(f"mount {line.split()[4]}")
    return found


def remove_cgroups() -> None:
    for ctrl in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", ctrl)
        for dirpath, dirnames, _ in os.walk(top, topdown=False):
            if os.path.basename(dirpath).startswith(PREFIX):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass


# ---------------------------------------------------------------- output

def short(text: str, n: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= n else text[: n - 1] + "…"


def markdown(runtimes, rows, results, skipped, elapsed, skiff_version) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["# Runtime-spec 1.2.1 conformance: applied, refused or ignored",
           "",
           f"Generated by `make conformance` (Tests/Conformance/probe.py) on {now}; do not edit by hand.",
           "",
           "Runtimes: " + "; ".join(f"**{rt.name}** `{rt.version}`" for rt in runtimes) + ".",
           f"skiff: `{skiff_version}`." if skiff_version else "",
           f"Host: Linux {os.uname().release}, {os.cpu_count()} CPUs, "
           f"{'hybrid cgroup v1/v2' if hybrid_cgroup2() else 'cgroups'}; crun runs in a private mount "
           "namespace with cgroup2 hidden. The whole probe took "
           f"{elapsed:.0f} s.",
           ""]
    if skipped:
        out += ["Not run: " + "; ".join(skipped) + ".", ""]
    out += ["Each field is set in a container of its group and checked from inside it (helper + shell: "
            "/proc/self/status, sched_getattr, ioprio_get, personality, get_mempolicy, mountinfo, ...) "
            "or from the host (cgroup files while `created`, the hooks' files, the notify socket).",
            "**applied**: the asked effect is visible. **refused**: create/start failed (error shown). "
            "**ignored**: it ran without the effect (what was seen is shown). **n/a**: it ran without the "
            "effect and this host cannot show it (reason). **undetermined**: the run without the field "
            "shows the same value (a defect of the check).",
            ""]
    out += ["## Summary", "", "| runtime | applied | refused | ignored | n/a | undetermined |", "|---|---|---|---|---|---|"]
    for rt in runtimes:
        c = {}
        for name, _ in rows:
            s = results[rt.name].get(name, ("", ""))[0]
            c[s] = c.get(s, 0) + 1
        out.append(f"| {rt.name} | " + " | ".join(str(c.get(k, 0)) for k in
                                                  ("applied", "refused", "ignored", "n/a", "undetermined")) + " |")
    out += ["", "## Fields", "", "| field | asked | " + " | ".join(rt.name for rt in runtimes) + " |",
            "|---|---|" + "---|" * len(runtimes)]
    for name, asked in rows:
        cells = []
        for rt in runtimes:
            s, seen = results[rt.name].get(name, ("-", ""))
            cells.append(f"**{s}**" if s == "applied" else f"**{s}**: {short(seen)}")
        out.append(f"| `{name}` | {short(asked, 40)} | " + " | ".join(cells) + " |")
    out += ["", "Not rows: `process.user.username` and `process.commandLine` (Windows only); "
            "`process.capabilities.effective` and `.permitted` (execve recomputes both: root gets the bounding "
            "set, other users the ambient set, so the process cannot see what the runtime set); "
            "`linux.resources.memory.checkBeforeUpdate` (an `update` behaviour); `linux.personality.flags` "
            "(the spec defines no values).", ""]
    return "\n".join(ln for ln in out if ln is not None) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtimes", default="skiff,runc,crun")
    ap.add_argument("--only", default="", help="run only groups whose name contains this")
    ap.add_argument("--out", default=os.path.join(REPO, "docs/conformance.md"), help="markdown output ('' for none)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("conformance: needs root (the runtimes do)")
    runtimes, skipped = discover(a.runtimes.split(","))
    if not runtimes:
        sys.exit("conformance: no runtime to probe: " + "; ".join(skipped))
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="skiff-conformance-")
    os.chmod(tmp, 0o755)
    rootfs = build_rootfs(tmp)
    # Sources on the host: a file owned by 0:0 for bind and idmapped mounts; a dir with a
    # tmpfs submount for rro.
    bind_src = os.path.join(tmp, "bind")
    os.makedirs(bind_src)
    with open(os.path.join(bind_src, "file"), "w") as f:
        f.write("conf-bind-content\n")
    rro_src = os.path.join(tmp, "rro")
    os.makedirs(os.path.join(rro_src, "sub"))
    sh("mount", "-t", "tmpfs", "-o", "size=1m", "confrro", os.path.join(rro_src, "sub"))
    allow = json.load(open(os.path.join(REPO, "Tests/Bench/seccomp-podman-like.json")))
    allow["defaultAction"] = "SCMP_ACT_ALLOW"
    allow.pop("defaultErrnoRet", None)
    for rule in allow["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != "getppid"]
    ssb = "?"
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Speculation_Store_Bypass:"):
                ssb = line.split(":", 1)[1].strip()
    st = os.stat("/")
    ctx = {"host_ns": {k: os.readlink(f"/proc/self/ns/{k}") for k in
                       ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")},
           "bind_src": bind_src, "rro_src": rro_src, "cid_prefix": PREFIX, "hook_script": HOOK_SCRIPT,
           "blkdev": (os.major(st.st_dev), os.minor(st.st_dev)), "ssb": ssb, "allowlist": allow}
    groups = [g for g in F.groups(ctx) if a.only in g.name]
    rows = []
    for g in groups:
        for f in g.fields:
            rows.append((f.name, f.asked))
    probe = Probe(tmp, rootfs, ctx)
    results: dict = {}
    veths = []
    try:
        for rt in runtimes:
            rt.root = os.path.join(tmp, "state-" + rt.name)
            os.makedirs(rt.root)
            holders = Holders()
            veth = f"cf{os.getpid() % 100000}{rt.name[0]}"
            r = subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"], capture_output=True)
            if r.returncode == 0:
                veths.append(veth)
            ctx["holders"], ctx["netdev"] = holders.info, veth
            results[rt.name] = {}
            t1 = time.monotonic()
            try:
                for g in groups:
                    results[rt.name].update(probe.group(rt, g))
            finally:
                holders.close()
            print(f"conformance: {rt.name}: {len(groups)} groups in {time.monotonic() - t1:.1f}s", file=sys.stderr)
    finally:
        for v in veths:
            subprocess.run(["ip", "link", "del", v], capture_output=True)
        left_by = leftovers(tmp)
        remove_cgroups()
        for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
            if tmp in line.split()[4]:
                subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
        left = leftovers(tmp)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - t0
    skiff_version = next((rt.version for rt in runtimes if rt.name == "skiff"), "")
    md = markdown(runtimes, rows, results, skipped, elapsed, skiff_version)
    if left_by:
        by_rt = {}
        for item in left_by:
            rtn = next((rt.name for rt in runtimes if f"-{rt.name}-" in item), "a runtime")
            by_rt.setdefault(rtn, []).append(item)
        md += "\n## Left on the host (removed by the probe)\n\n" + "\n".join(
            f"- {k}: {len(v)} cgroup directories or mounts of "
            f"{len({i.rsplit('/', 1)[-1] for i in v})} containers, e.g. {short(v[0], 120)}" for k, v in sorted(by_rt.items())) + "\n"
        for k, v in sorted(by_rt.items()):
            print(f"conformance: {k} left {len(v)} cgroup dirs/mounts behind (removed)", file=sys.stderr)
    # stdout: the table only, one line per field
    w = max(len(n) for n, _ in rows)
    print(f"{'field':<{w}}  " + "  ".join(f"{rt.name:<13}" for rt in runtimes))
    for name, _ in rows:
        print(f"{name:<{w}}  " + "  ".join(f"{results[rt.name].get(name, ('-', ''))[0]:<13}" for rt in runtimes))
    for rt in runtimes:
        c = {}
        for name, _ in rows:
            s = results[rt.name].get(name, ("", ""))[0]
            c[s] = c.get(s, 0) + 1
        print(f"{rt.name}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    if left:
        print("conformance: LEFT ON THE HOST: " + "; ".join(left), file=sys.stderr)
    if a.out:
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(md)
        print(f"conformance: wrote {a.out} ({elapsed:.0f} s)", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
