"""The runtime-spec 1.2.1 fields the probe sets, and how each one is seen.

A Group is one container: `base` patches the probe's base config into what the
group needs to run at all (a user namespace for uid maps, uid 1000 for ambient
capabilities); each Field's `patch` then sets the field under test. The probe
runs the group once with every field (and once per field alone if that run is
refused, to tell which field the runtime refused) and once with `base` only:
the baseline. A field's `check` reads an observation and returns (ok, seen);
ok on the baseline too means the probe could not tell the field's effect from
the runtime's default, which the probe reports as a defect of the check
("undetermined"), never as applied.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from typing import Callable

CAPS = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
        "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_NICE": 23,
        "CAP_AUDIT_WRITE": 29}


def capmask(*names: str) -> str:
    v = 0
    for n in names:
        v |= 1 << CAPS[n]
    return f"{v:016x}"


@dataclasses.dataclass
class Field:
    name: str
    patch: Callable[[dict, dict], None]
    check: Callable[["Obs", dict], tuple[bool, str]]
    asked: str = ""  # what the field asks for, for the table
    na: Callable[[dict], str] | None = None  # host precondition: returns why the effect cannot show
    baseline: bool = True  # False: the field is always present (process.args)
    refusal_ok: bool = False  # the expected outcome is a failed create (hooks' timeout)


@dataclasses.dataclass
class Group:
    name: str
    fields: list[Field]
    base: Callable[[dict, dict], None] | None = None
    mode: str = "run"  # run | exec | terminal
    notify: bool = False


# ---------------------------------------------------------------- observation helpers

def sec(o, name) -> list[str]:
    return o.out.get(name, [])


def status(o, key) -> str:
    for line in sec(o, "status"):
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return "?"


def helper(o, key) -> str:
    return o.out.get("helper", {}).get(key, "?")


def sched(o) -> dict:
    v = helper(o, "sched")
    return dict(p.split(":", 1) for p in v.split() if ":" in p)


def first(o, name) -> str:
    s = sec(o, name)
    return s[0].strip() if s else "?"


def limit(o, title) -> str:
    for line in sec(o, "limits"):
        if line.startswith(title):
            return " ".join(line[len(title):].split()[:2])
    return "?"


def mountinfo(o, dest) -> str:
    for line in sec(o, "mountinfo"):
        parts = line.split()
        if len(parts) > 4 and parts[4] == dest:
            return line
    return ""


def root_mount(o) -> str:
    lines = [ln for ln in sec(o, "mountinfo") if len(ln.split()) > 4 and ln.split()[4] == "/"]
    return lines[-1] if lines else ""


def optional_fields(line: str) -> str:
    parts = line.split()
    if " - " not in line:
        return ""
    i = parts.index("-")
    return " ".join(parts[6:i]) or "(none)"


def cg(o, key) -> str:
    return o.cg.get(key, "(no file)")


def eq(seen, want):
    return (seen == want, " ".join(map(str, seen)) if isinstance(seen, tuple) else str(seen))


def ns_new(kind):
    """A new namespace: the process's differs from the probe's own."""
    def check(o, ctx):
        mine = ctx["host_ns"][kind]
        got = next((ln.split()[1] for ln in sec(o, "ns") if ln.split()[0] == kind and len(ln.split()) > 1), "?")
        return (got != "?" and got != mine, f"{got} (host {mine})")
    return check


def ns_joined(kind):
    def check(o, ctx):
        want = ctx["holders"][kind]["ns"]
        got = next((ln.split()[1] for ln in sec(o, "ns") if ln.split()[0] == kind and len(ln.split()) > 1), "?")
        return (got == want, f"{got} (asked {want})")
    return check


def write_err(o, path) -> str:
    for line in sec(o, "writes"):
        if path in line:
            return line
    return "?"


def set_(path, value):
    """A patch that sets config[path...] = value (dicts made as needed)."""
    def patch(cfg, ctx):
        d = cfg
        keys = path.split(".")
        for k in keys[:-1]:
            d = d.setdefault(k, {})
        # a copy: a field's patch may change what a group's base set, and the base's
        # value must stay as it was for the baseline run
        d[keys[-1]] = copy.deepcopy(value(ctx) if callable(value) else value)
    return patch


def add_mount(m):
    def patch(cfg, ctx):
        cfg["mounts"].append({k: (v(ctx) if callable(v) else v) for k, v in m.items()})
    return patch


def add_ns(kind, path=None):
    def patch(cfg, ctx):
        nss = [n for n in cfg["linux"]["namespaces"] if n["type"] != kind]
        n = {"type": kind}
        if path:
            n["path"] = ctx["holders"][path]["path"]
        nss.append(n)
        cfg["linux"]["namespaces"] = nss
    return patch


def hook(kind, extra=None):
    def patch(cfg, ctx):
        h = {"path": "/bin/sh", "args": ["sh", "-c", ctx["hook_script"], kind], "env": ["CONF_HOOK_ENV=conf-" + kind]}
        if extra:
            h.update(extra)
        cfg.setdefault("hooks", {}).setdefault(kind, []).append(h)
    return patch


def hook_ran(kind, in_container=False):
    def check(o, ctx):
        state = o.hooks.get(kind + ".state", "")
        info = o.hooks.get(kind + ".info", "").split("\n")
        if not state:
            return False, "no output file"
        try:
            st = json.loads(state)
        except ValueError:
            return False, f"stdin not JSON: {state[:60]!r}"
        if st.get("id") != o.cid:
            return False, f"state id {st.get('id')!r}"
        if in_container:
            mnt = next((ln.split()[1] for ln in sec(o, "ns") if ln.startswith("mnt ")), "?")
            hmnt = info[0] if info else "?"
            return (hmnt == mnt, f"ran, mnt ns {hmnt} (container {mnt})")
        return True, f"ran, state status {st.get('status')!r}"
    return check


# ---------------------------------------------------------------- the groups

def groups(ctx) -> list[Group]:
    G = []
    uid1000 = set_("process.user", {"uid": 1000, "gid": 1000})

    # crun 1.8 refuses any ociVersion but 1.0.x, so the base config says 1.0.2-dev (as
    # `runc spec` does) and this row records what each runtime does with 1.2.1 itself.
    G.append(Group("ociVersion", [
        Field("ociVersion 1.2.1", set_("ociVersion", "1.2.1"), lambda o, x: (True, "accepted"), "1.2.1", baseline=False)]))
    G.append(Group("process", [
        Field("process.args", lambda c, x: None,
              lambda o, x: ("conf-args-marker" in sec(o, "args"), " ".join(sec(o, "args")) or "?"),
              "sh -c SCRIPT conf-args-marker", baseline=False),
        Field("process.env", set_("process.env", ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CONF_ENV=conf-value"]),
              lambda o, x: ("CONF_ENV=conf-value" in sec(o, "env"),
                            next((e for e in sec(o, "env") if e.startswith("CONF_ENV")), "CONF_ENV unset")),
              "CONF_ENV=conf-value"),
        Field("process.cwd", set_("process.cwd", "/var/tmp"), lambda o, x: eq(first(o, "cwd"), "/var/tmp"), "/var/tmp"),
        Field("process.rlimits", set_("process.rlimits", [{"type": "RLIMIT_CORE", "soft": 1234, "hard": 5678},
                                                         {"type": "RLIMIT_NOFILE", "soft": 999, "hard": 1001}]),
              lambda o, x: ((limit(o, "Max core file size"), limit(o, "Max open files")) == ("1234 5678", "999 1001"),
                            f"core {limit(o, 'Max core file size')}, nofile {limit(o, 'Max open files')}"),
              "CORE 1234/5678, NOFILE 999/1001"),
        Field("process.noNewPrivileges", set_("process.noNewPrivileges", True),
              lambda o, x: eq(status(o, "NoNewPrivs"), "1"), "true"),
        Field("process.oomScoreAdj", set_("process.oomScoreAdj", 123), lambda o, x: eq(first(o, "oom"), "123"), "123"),
    ]))

    G.append(Group("process.user", [
        Field("process.user.uid", set_("process.user.uid", 1000),
              lambda o, x: eq(status(o, "Uid").split()[0] if status(o, "Uid") != "?" else "?", "1000"), "1000"),
        Field("process.user.gid", set_("process.user.gid", 1000),
              lambda o, x: eq(status(o, "Gid").split()[0] if status(o, "Gid") != "?" else "?", "1000"), "1000"),
        Field("process.user.umask", set_("process.user.umask", 0o077), lambda o, x: eq(status(o, "Umask"), "0077"), "0077"),
        Field("process.user.additionalGids", set_("process.user.additionalGids", [5, 100]),
              lambda o, x: (set(status(o, "Groups").split()) == {"5", "100"}, status(o, "Groups") or "(none)"), "5 100"),
    ], base=lambda c, x: c["process"].__setitem__("user", {"uid": 0, "gid": 0})))

    # As uid 1000 the kernel keeps bounding, inheritable and ambient across execve; effective
    # and permitted are recomputed by execve (root: bounding; others: ambient), so they are
    # not visible from the process and are left out rather than guessed at.
    caps = lambda s: set_(f"process.capabilities.{s}", None)  # noqa: E731
    def capset(kind, names):
        def patch(c, x):
            c["process"].setdefault("capabilities", {})[kind] = names
            if kind == "ambient":  # ambient needs the caps in permitted and inheritable
                for k in ("permitted", "inheritable"):
                    c["process"]["capabilities"][k] = sorted(set(c["process"]["capabilities"].get(k, [])) | set(names))
        return patch
    G.append(Group("process.capabilities", [
        Field("process.capabilities.bounding", capset("bounding", ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_NICE"]),
              lambda o, x: eq(status(o, "CapBnd"), capmask("CAP_CHOWN", "CAP_KILL", "CAP_SYS_NICE")), "CHOWN KILL SYS_NICE"),
        Field("process.capabilities.inheritable", capset("inheritable", ["CAP_KILL", "CAP_AUDIT_WRITE"]),
              lambda o, x: (int(status(o, "CapInh") if status(o, "CapInh") != "?" else "0", 16)
                            & int(capmask("CAP_AUDIT_WRITE"), 16) != 0, status(o, "CapInh")), "KILL AUDIT_WRITE"),
        Field("process.capabilities.ambient", capset("ambient", ["CAP_KILL"]),
              lambda o, x: eq(status(o, "CapAmb"), capmask("CAP_KILL")), "KILL (uid 1000)"),
    ], base=lambda c, x: (uid1000(c, x), c["process"].__setitem__("capabilities", {
        "bounding": ["CAP_KILL", "CAP_AUDIT_WRITE"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}))))

    G.append(Group("process.terminal", [
        Field("process.terminal", set_("process.terminal", True),
              lambda o, x: (first(o, "tty").startswith("/dev/"), first(o, "tty")), "true")]))
    G.append(Group("process.consoleSize", [
        Field("process.consoleSize", set_("process.consoleSize", {"height": 33, "width": 97}),
              lambda o, x: eq(sec(o, "tty")[1].strip() if len(sec(o, "tty")) > 1 else "?", "33 97"), "33x97"),
    ], base=set_("process.terminal", True)))

    G.append(Group("process.ioPriority", [
        Field("process.ioPriority", set_("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 6}),
              lambda o, x: eq(helper(o, "ioprio"), "class:2 level:6"), "BE 6"),
    ]))
    G.append(Group("process.scheduler (batch)", [
        Field("process.scheduler.policy", set_("process.scheduler", {"policy": "SCHED_BATCH", "nice": 5}),
              lambda o, x: eq(sched(o).get("policy", "?"), "3"), "SCHED_BATCH"),
        Field("process.scheduler.nice", set_("process.scheduler", {"policy": "SCHED_BATCH", "nice": 5}),
              lambda o, x: eq(sched(o).get("nice", "?"), "5"), "5"),
    ]))
    # Real-time needs a cgroup with an RT budget on this kernel (CONFIG_RT_GROUP_SCHED): a
    # top-level cgroup whose cpu.rt_runtime_us the config sets.
    G.append(Group("process.scheduler (rr)", [
        Field("process.scheduler.priority", set_("process.scheduler", {"policy": "SCHED_RR", "priority": 10}),
              lambda o, x: eq((sched(o).get("policy"), sched(o).get("priority")), ("2", "10")), "SCHED_RR 10"),
    ], base=lambda c, x: (set_("linux.cgroupsPath", "/" + x["cid_prefix"] + "rt")(c, x),
                          set_("linux.resources.cpu", {"realtimeRuntime": 100000, "realtimePeriod": 1000000})(c, x))))
    G.append(Group("process.scheduler (flags)", [
        Field("process.scheduler.flags", set_("process.scheduler", {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_RESET_ON_FORK"]}),
              lambda o, x: eq(sched(o).get("flags", "?"), "1"), "RESET_ON_FORK"),
    ]))
    dl = {"policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 10000000, "period": 20000000}
    G.append(Group("process.scheduler (deadline)", [
        Field("process.scheduler.runtime/deadline/period", set_("process.scheduler", dl),
              lambda o, x: eq(tuple(sched(o).get(k, "?") for k in ("policy", "runtime", "deadline", "period")),
                              ("6", "2000000", "10000000", "20000000")), "DEADLINE 2ms/10ms/20ms"),
    ], base=set_("process.args", ["/conf-helper"])))
    G.append(Group("process.execCPUAffinity", [
        Field("process.execCPUAffinity.final", set_("process.execCPUAffinity", {"final": "1"}),
              lambda o, x: eq(helper(o, "affinity"), "1"), "final 1 (exec)"),
        Field("process.execCPUAffinity.initial", set_("process.execCPUAffinity", {"initial": "1"}),
              lambda o, x: eq(helper(o, "affinity"), "1"), "initial 1 (exec)",
              na=lambda x: "the kernel resets a task's affinity to its cpuset when it joins the cgroup "
                           "(v1), so `initial` alone cannot show in the process"),
    ], mode="exec"))
    G.append(Group("process.apparmorProfile", [
        Field("process.apparmorProfile", set_("process.apparmorProfile", "conf-profile"),
              lambda o, x: eq(first(o, "attr"), "conf-profile"), "conf-profile"),
    ]))
    G.append(Group("process.selinuxLabel", [
        Field("process.selinuxLabel", set_("process.selinuxLabel", "system_u:system_r:container_t:s0:c1,c2"),
              lambda o, x: (first(o, "attr").startswith("system_u:system_r:container_t"), first(o, "attr")),
              "container_t:s0:c1,c2"),
    ]))

    G.append(Group("root", [
        Field("root.readonly", set_("root.readonly", True),
              lambda o, x: ("Read-only" in write_err(o, "/conf-rootw"), write_err(o, "/conf-rootw")), "true"),
    ]))
    G.append(Group("hostname", [
        Field("hostname", set_("hostname", "conf-host"), lambda o, x: eq(first(o, "hostname"), "conf-host"), "conf-host"),
        Field("domainname", set_("domainname", "conf.domain"), lambda o, x: eq(first(o, "domainname"), "conf.domain"),
              "conf.domain"),
    ]))

    G.append(Group("mounts", [
        Field("mounts (tmpfs: type, source, data options)",
              add_mount({"destination": "/conf-tmpfs", "type": "tmpfs", "source": "conftmp", "options": ["size=1m", "mode=710"]}),
              lambda o, x: ("conftmp" in mountinfo(o, "/conf-tmpfs") and "mode=710" in mountinfo(o, "/conf-tmpfs"),
                            mountinfo(o, "/conf-tmpfs")[-70:] or "not mounted"), "tmpfs size=1m,mode=710"),
        Field("mounts (bind)", add_mount({"destination": "/conf-bind", "type": "bind", "source": lambda x: x["bind_src"],
                                          "options": ["bind"]}),
              lambda o, x: eq(first(o, "bind"), "conf-bind-content"), "host dir"),
        Field("mounts options ro,nosuid,nodev,noexec",
              add_mount({"destination": "/conf-bind-ro", "type": "bind", "source": lambda x: x["bind_src"],
                         "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}),
              lambda o, x: (all(f in mountinfo(o, "/conf-bind-ro").split()[5].split(",")
                                for f in ("ro", "nosuid", "nodev", "noexec")) if mountinfo(o, "/conf-bind-ro") else False,
                            mountinfo(o, "/conf-bind-ro").split()[5] if mountinfo(o, "/conf-bind-ro") else "not mounted"),
              "ro,nosuid,nodev,noexec"),
        Field("mounts options (propagation: shared)",
              add_mount({"destination": "/conf-shared", "type": "tmpfs", "source": "confshared", "options": ["shared"]}),
              lambda o, x: ("shared:" in optional_fields(mountinfo(o, "/conf-shared")),
                            optional_fields(mountinfo(o, "/conf-shared")) or "not mounted"), "shared"),
        Field("mounts options (recursive: rro)",
              lambda c, x: next(m for m in c["mounts"] if m["destination"] == "/conf-rro").__setitem__(
                  "options", ["rbind", "rro"]),
              lambda o, x: ("Read-only" in " ".join(sec(o, "rro")), " ".join(sec(o, "rro")) or "?"),
              "submount read-only"),
        Field("mounts[].uidMappings/gidMappings (idmapped)",
              add_mount({"destination": "/conf-idmap", "type": "bind", "source": lambda x: x["bind_src"],
                         "options": ["bind", "idmap"],
                         # runc 1.2's reading (tests/integration/idmap.bats): an id on disk is a
                         # containerID and shows as its hostID, so host root's file shows as 1000.
                         "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                         "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}),
              lambda o, x: eq(first(o, "idmap"), "1000:1000"), "on-disk 0 -> 1000"),
    ], base=lambda c, x: c["mounts"].append({"destination": "/conf-rro", "type": "bind", "source": x["rro_src"],
                                              "options": ["rbind", "ro"]})))

    hooks = [Field(f"hooks.{k}", hook(k), hook_ran(k, k in ("createContainer", "startContainer")),
                   "sh writes state" + (" (in container mnt ns)" if k in ("createContainer", "startContainer") else ""))
             for k in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")]
    hooks.append(Field("hooks[].args, env", hook("createRuntime"),
                       lambda o, x: (o.hooks.get("createRuntime.info", "").split("\n")[1:2] == ["conf-createRuntime"],
                                     "env " + (o.hooks.get("createRuntime.info", "").split("\n")[1:2] or ["?"])[0]),
                       "args $1, CONF_HOOK_ENV"))
    G.append(Group("hooks", hooks))
    G.append(Group("hooks (timeout)", [
        Field("hooks[].timeout", lambda c, x: c.setdefault("hooks", {}).setdefault("createRuntime", []).append(
            {"path": "/bin/sh", "args": ["sh", "-c", "sleep 4"], "timeout": 1}),
              lambda o, x: (bool(o.error) and o.elapsed < 3.5,
                            f"create failed after {o.elapsed:.1f}s" if o.error else f"ran ({o.elapsed:.1f}s)"),
              "1 s on a 4 s hook", refusal_ok=True),
    ]))
    G.append(Group("annotations", [
        Field("annotations", set_("annotations", {"org.conf.probe": "yes"}),
              lambda o, x: eq((o.state.get("annotations") or {}).get("org.conf.probe", "(absent)"), "yes"),
              "in `state`"),
    ]))

    # ---- linux
    for kind, cfgname in (("pid", "pid"), ("net", "network"), ("ipc", "ipc"), ("uts", "uts"), ("mnt", "mount"),
                          ("cgroup", "cgroup"), ("time", "time"), ("user", "user")):
        base = None
        if kind == "user":
            base = lambda c, x: None  # noqa: E731
        G.append(Group(f"linux.namespaces {cfgname} (new)", [
            # the probe's own namespace is the baseline here (no run without the field: a
            # config without a mount namespace mounts onto the host)
            Field(f"linux.namespaces: {cfgname} (new)", add_ns(cfgname), ns_new(kind), "new", baseline=False),
        ] + ([Field("linux.uidMappings/gidMappings", lambda c, x: None,
                    lambda o, x: eq(" ".join(first(o, "uid_map").split()), "0 100000 65536"), "0 100000 65536")]
             if kind == "user" else []),
            base=(lambda c, x: (set_("linux.uidMappings", [{"containerID": 0, "hostID": 100000, "size": 65536}])(c, x),
                                set_("linux.gidMappings", [{"containerID": 0, "hostID": 100000, "size": 65536}])(c, x)))
            if kind == "user" else (lambda c, x, k=cfgname: c["linux"].__setitem__(
                "namespaces", [n for n in c["linux"]["namespaces"] if n["type"] != k]))))
    for kind, cfgname in (("pid", "pid"), ("net", "network"), ("ipc", "ipc"), ("uts", "uts"), ("mnt", "mount"),
                          ("cgroup", "cgroup"), ("time", "time"), ("user", "user")):
        G.append(Group(f"linux.namespaces {cfgname} (path)", [
            Field(f"linux.namespaces: {cfgname} (path)", add_ns(cfgname, kind), ns_joined(kind), "holder's ns"),
        ]))
    G.append(Group("linux.timeOffsets", [
        Field("linux.timeOffsets", set_("linux.timeOffsets", {"monotonic": {"secs": 86400, "nanosecs": 0},
                                                               "boottime": {"secs": 172800, "nanosecs": 0}}),
              lambda o, x: (sorted(" ".join(ln.split()) for ln in sec(o, "timens")) == ["boottime 172800 0", "monotonic 86400 0"],
                            "; ".join(" ".join(ln.split()) for ln in sec(o, "timens")) or "?"), "mono 1d, boot 2d"),
    ], base=add_ns("time")))
    G.append(Group("linux.sysctl", [
        Field("linux.sysctl", set_("linux.sysctl", {"net.ipv4.ip_unprivileged_port_start": "80"}),
              lambda o, x: eq(first(o, "sysctl"), "80"), "ip_unprivileged_port_start=80"),
    ]))
    G.append(Group("linux.devices", [
        Field("linux.devices (node)", set_("linux.devices", [{"path": "/dev/conf-dev", "type": "c", "major": 240, "minor": 7,
                                                             "fileMode": 0o640, "uid": 1000, "gid": 5}]),
              lambda o, x: (first(o, "dev").startswith("character special file f0:7"), first(o, "dev")), "c 240:7"),
        Field("linux.devices[].fileMode", lambda c, x: None,
              lambda o, x: (first(o, "dev").split()[-2:-1] == ["640"], first(o, "dev")), "0640"),
        Field("linux.devices[].uid/gid", lambda c, x: None,
              lambda o, x: (first(o, "dev").endswith(" 1000:5"), first(o, "dev")), "1000:5"),
    ]))
    G.append(Group("linux.resources.devices", [
        Field("linux.resources.devices", set_("linux.resources.devices", [
            {"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 240, "minor": 7, "access": "rw"}]),
              lambda o, x: ("No such device" in " ".join(sec(o, "dev")[1:]), " ".join(sec(o, "dev")[1:])[:80]),
              "allow c 240:7 rw"),
    ], base=set_("linux.devices", [{"path": "/dev/conf-dev", "type": "c", "major": 240, "minor": 7, "fileMode": 0o666}])))
    G.append(Group("linux.cgroupsPath", [
        Field("linux.cgroupsPath", set_("linux.cgroupsPath", lambda x: "/" + x["cid_prefix"] + "cgpath"),
              lambda o, x: (o.cgpaths.get("pids", "?") == "/" + x["cid_prefix"] + "cgpath", o.cgpaths.get("pids", "?")),
              "/<prefix>cgpath"),
    ]))

    mem = [("limit", 64 << 20, "memory/memory.limit_in_bytes", str(64 << 20)),
           ("reservation", 32 << 20, "memory/memory.soft_limit_in_bytes", str(32 << 20)),
           ("swap", 128 << 20, "memory/memory.memsw.limit_in_bytes", str(128 << 20)),
           ("kernel", 48 << 20, "memory/memory.kmem.limit_in_bytes", str(48 << 20)),
           ("kernelTCP", 16 << 20, "memory/memory.kmem.tcp.limit_in_bytes", str(16 << 20)),
           ("swappiness", 42, "memory/memory.swappiness", "42")]
    memfields = [Field(f"linux.resources.memory.{k}", set_(f"linux.resources.memory.{k}", v),
                       lambda o, x, f=f, w=w: eq(cg(o, f), w), str(v)) for k, v, f, w in mem]
    # swap is memory+swap: it needs the limit below it
    memfields[2] = Field("linux.resources.memory.swap", lambda c, x: (set_("linux.resources.memory.swap", 128 << 20)(c, x),
                                                                     set_("linux.resources.memory.limit", 64 << 20)(c, x)),
                         lambda o, x: eq(cg(o, "memory/memory.memsw.limit_in_bytes"), str(128 << 20)), str(128 << 20))
    memfields.append(Field("linux.resources.memory.disableOOMKiller", set_("linux.resources.memory.disableOOMKiller", True),
                           lambda o, x: ("oom_kill_disable 1" in cg(o, "memory/memory.oom_control"),
                                         cg(o, "memory/memory.oom_control").split("\n")[0]), "true"))
    memfields.append(Field("linux.resources.memory.useHierarchy", set_("linux.resources.memory.useHierarchy", False),
                           lambda o, x: eq(cg(o, "memory/memory.use_hierarchy"), "0"), "false",
                           na=lambda x: "cgroup v1 use_hierarchy is always 1 since Linux 6.2 (cannot be set)"))
    G.append(Group("linux.resources.memory", memfields))

    cpu = [("shares", 512, "cpu/cpu.shares", "512"), ("quota", 50000, "cpu/cpu.cfs_quota_us", "50000"),
           ("period", 200000, "cpu/cpu.cfs_period_us", "200000"), ("burst", 10000, "cpu/cpu.cfs_burst_us", "10000"),
           ("cpus", "1", "cpuset/cpuset.cpus", "1"), ("mems", "0", "cpuset/cpuset.mems", "0")]
    cpufields = [Field(f"linux.resources.cpu.{k}", set_(f"linux.resources.cpu.{k}", v),
                       lambda o, x, f=f, w=w: eq(cg(o, f), w), str(v)) for k, v, f, w in cpu]
    cpufields[-1].na = lambda x: "" if len(os.listdir("/sys/devices/system/node")) and \
        sum(1 for n in os.listdir("/sys/devices/system/node") if n.startswith("node")) > 1 else \
        "one memory node: cpuset.mems is 0 with or without the field"
    G.append(Group("linux.resources.cpu", cpufields))
    G.append(Group("linux.resources.cpu (idle)", [
        Field("linux.resources.cpu.idle", set_("linux.resources.cpu.idle", 1), lambda o, x: eq(cg(o, "cpu/cpu.idle"), "1"), "1")]))
    G.append(Group("linux.resources.cpu (realtime)", [
        Field("linux.resources.cpu.realtimeRuntime", set_("linux.resources.cpu.realtimeRuntime", 20000),
              lambda o, x: eq(cg(o, "cpu/cpu.rt_runtime_us"), "20000"), "20000"),
        Field("linux.resources.cpu.realtimePeriod", set_("linux.resources.cpu.realtimePeriod", 500000),
              lambda o, x: eq(cg(o, "cpu/cpu.rt_period_us"), "500000"), "500000"),
    ], base=set_("linux.cgroupsPath", lambda x: "/" + x["cid_prefix"] + "rt")))
    G.append(Group("linux.resources.pids", [
        Field("linux.resources.pids.limit", set_("linux.resources.pids.limit", 42), lambda o, x: eq(cg(o, "pids/pids.max"), "42"), "42")]))

    dev = ctx["blkdev"]
    bio = [Field("linux.resources.blockIO.weight", set_("linux.resources.blockIO.weight", 300),
                 lambda o, x: (cg(o, "blkio/blkio.weight") == "300" or "300" in cg(o, "blkio/blkio.bfq.weight"),
                               cg(o, "blkio/blkio.weight")), "300"),
           Field("linux.resources.blockIO.leafWeight", set_("linux.resources.blockIO.leafWeight", 300),
                 lambda o, x: eq(cg(o, "blkio/blkio.leaf_weight"), "300"), "300"),
           Field("linux.resources.blockIO.weightDevice",
                 set_("linux.resources.blockIO.weightDevice", [{"major": dev[0], "minor": dev[1], "weight": 300}]),
                 lambda o, x: (f"{dev[0]}:{dev[1]} 300" in cg(o, "blkio/blkio.weight_device"), cg(o, "blkio/blkio.weight_device")),
                 f"{dev[0]}:{dev[1]} 300")]
    for k, f in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                 ("throttleReadIOPSDevice", "read_iops_device"), ("throttleWriteIOPSDevice", "write_iops_device")):
        bio.append(Field(f"linux.resources.blockIO.{k}",
                         set_(f"linux.resources.blockIO.{k}", [{"major": dev[0], "minor": dev[1], "rate": 1048576}]),
                         lambda o, x, f=f: (f"{dev[0]}:{dev[1]} 1048576" in cg(o, f"blkio/blkio.throttle.{f}"),
                                            cg(o, f"blkio/blkio.throttle.{f}") or "(empty)"), f"{dev[0]}:{dev[1]} 1048576"))
    G.append(Group("linux.resources.blockIO", bio))
    G.append(Group("linux.resources.hugepageLimits", [
        Field("linux.resources.hugepageLimits", set_("linux.resources.hugepageLimits", [{"pageSize": "2MB", "limit": 8 << 20}]),
              lambda o, x: (str(8 << 20) in (cg(o, "hugetlb/hugetlb.2MB.limit_in_bytes"), cg(o, "unified/hugetlb.2MB.max")),
                            cg(o, "hugetlb/hugetlb.2MB.limit_in_bytes") + " / v2 " + cg(o, "unified/hugetlb.2MB.max")),
              "2MB 8M")]))
    G.append(Group("linux.resources.network", [
        Field("linux.resources.network.classID", set_("linux.resources.network.classID", 0x100001),
              lambda o, x: eq(cg(o, "net_cls/net_cls.classid"), str(0x100001)), "0x100001"),
        Field("linux.resources.network.priorities", set_("linux.resources.network.priorities", [{"name": "lo", "priority": 7}]),
              lambda o, x: ("lo 7" in cg(o, "net_prio/net_prio.ifpriomap"), cg(o, "net_prio/net_prio.ifpriomap")), "lo 7"),
    ]))
    G.append(Group("linux.resources.rdma", [
        Field("linux.resources.rdma", set_("linux.resources.rdma", {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}}),
              lambda o, x: ("mlx5_0" in cg(o, "rdma/rdma.max") + cg(o, "unified/rdma.max"), cg(o, "rdma/rdma.max")), "mlx5_0 3/100")]))
    G.append(Group("linux.resources.unified", [
        Field("linux.resources.unified", set_("linux.resources.unified", {"pids.max": "77"}),
              lambda o, x: eq(cg(o, "unified/pids.max"), "77"), "pids.max=77")]))

    G.append(Group("linux.rootfsPropagation", [
        Field("linux.rootfsPropagation: shared", set_("linux.rootfsPropagation", "shared"),
              lambda o, x: ("shared:" in optional_fields(root_mount(o)), optional_fields(root_mount(o))), "shared"),
    ]))
    G.append(Group("linux.rootfsPropagation (unbindable)", [
        Field("linux.rootfsPropagation: unbindable", set_("linux.rootfsPropagation", "unbindable"),
              lambda o, x: ("unbindable" in optional_fields(root_mount(o)), optional_fields(root_mount(o))), "unbindable"),
    ]))
    G.append(Group("linux.maskedPaths", [
        Field("linux.maskedPaths (file)", set_("linux.maskedPaths", ["/etc/conf-masked", "/conf-maskdir"]),
              lambda o, x: ("conf-secret" not in sec(o, "masked"), " ".join(sec(o, "masked")) or "(empty)"), "/etc/conf-masked"),
        Field("linux.maskedPaths (dir)", lambda c, x: None,
              lambda o, x: ("conf-maskfile" not in sec(o, "masked"), " ".join(sec(o, "masked")) or "(empty)"), "/conf-maskdir"),
    ]))
    G.append(Group("linux.readonlyPaths", [
        Field("linux.readonlyPaths", set_("linux.readonlyPaths", ["/tmp"]),
              lambda o, x: ("Read-only" in write_err(o, "/tmp/conf-w"), write_err(o, "/tmp/conf-w")), "/tmp"),
    ]))
    G.append(Group("linux.mountLabel", [
        Field("linux.mountLabel", set_("linux.mountLabel", "system_u:object_r:container_file_t:s0:c1,c2"),
              lambda o, x: ("context=" in mountinfo(o, "/tmp"), mountinfo(o, "/tmp").split(" - ")[-1][-60:]), "context= on mounts"),
    ]))
    G.append(Group("linux.personality", [
        Field("linux.personality", set_("linux.personality", {"domain": "LINUX32"}),
              lambda o, x: eq(first(o, "uname"), "i686"), "LINUX32"),
    ]))
    G.append(Group("linux.memoryPolicy", [
        Field("linux.memoryPolicy.mode", set_("linux.memoryPolicy", {"mode": "MPOL_BIND", "nodes": "0",
                                                                    "flags": ["MPOL_F_STATIC_NODES"]}),
              lambda o, x: (helper(o, "mempolicy").startswith("mode:2 "), helper(o, "mempolicy")), "MPOL_BIND"),
        Field("linux.memoryPolicy.nodes", lambda c, x: None,
              lambda o, x: (helper(o, "mempolicy").endswith("nodemask:0x1"), helper(o, "mempolicy")), "0"),
        Field("linux.memoryPolicy.flags", lambda c, x: None,
              lambda o, x: ("flags:0x8000" in helper(o, "mempolicy"), helper(o, "mempolicy")), "MPOL_F_STATIC_NODES"),
    ]))
    for k, v in (("closID", "conf"), ("l3CacheSchema", "L3:0=f"), ("memBwSchema", "MB:0=50"),
                 ("enableCMT", True), ("enableMBM", True)):
        G.append(Group(f"linux.intelRdt.{k}", [
            Field(f"linux.intelRdt.{k}", set_(f"linux.intelRdt.{k}", v),
                  lambda o, x: (False, "ran (no resctrl on this host)"), str(v)),
        ]))
    G.append(Group("linux.netDevices", [
        Field("linux.netDevices", set_("linux.netDevices", lambda x: {x["netdev"]: {"name": "conf9"}}),
              lambda o, x: ("conf9" in sec(o, "net"), " ".join(sec(o, "net"))), "veth -> conf9"),
    ]))

    sc_base = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    G.append(Group("linux.seccomp", [
        Field("linux.seccomp (filter, syscalls[].names/action)",
              set_("linux.seccomp", lambda x: json.loads(json.dumps(sc_base))), lambda o, x: ("mkdir ok" not in sec(o, "seccomp") and status(o, "Seccomp") == "2",
                                               f"Seccomp {status(o, 'Seccomp')}; " + (sec(o, "seccomp")[0][-40:] if sec(o, "seccomp") else "?")),
              "mkdir -> ERRNO")]))
    G.append(Group("linux.seccomp.syscalls", [
        Field("linux.seccomp.syscalls[].errnoRet", lambda c, x: c["linux"]["seccomp"]["syscalls"][0].__setitem__("errnoRet", 42),
              lambda o, x: ("No message of desired type" in " ".join(sec(o, "seccomp")), (sec(o, "seccomp") or ["?"])[0][-45:]),
              "42 (ENOMSG)"),
        Field("linux.seccomp.syscalls[].args", lambda c, x: c["linux"]["seccomp"]["syscalls"].append(
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}),
              lambda o, x: ("kill0 ok" not in sec(o, "seccomp") and "killcont ok" in sec(o, "seccomp"),
                            "kill -0 " + ("ok" if "kill0 ok" in sec(o, "seccomp") else "denied") + ", kill -CONT " +
                            ("ok" if "killcont ok" in sec(o, "seccomp") else "denied")), "kill(_, 0) only"),
        Field("linux.seccomp.flags (SPEC_ALLOW)", set_("linux.seccomp.flags", ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
              lambda o, x: eq(status(o, "Speculation_Store_Bypass"), x["ssb"]), "SPEC_ALLOW",
              # Since Linux 5.16 (spec_store_bypass_disable=prctl) seccomp no longer forces the
              # mitigation, so the flag shows only where the baseline says "force mitigated".
              na=lambda x: "this kernel does not force the SSB mitigation on seccomp, so the flag has nothing to undo"),
    ], base=set_("linux.seccomp", lambda x: json.loads(json.dumps(sc_base)))))
    # On the baseline (no kill rule) both kills pass: args' check needs the rule's
    # effect (kill -0 denied), not only kill -CONT passing.
    G.append(Group("linux.seccomp (default action)", [
        Field("linux.seccomp.defaultAction", set_("linux.seccomp.defaultAction", "SCMP_ACT_ERRNO"),
              lambda o, x: (helper(o, "getppid") not in ("ok", "?"), "getppid " + helper(o, "getppid")), "ERRNO, getppid not allowed"),
        Field("linux.seccomp.defaultErrnoRet", lambda c, x: c["linux"]["seccomp"].update(
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 42}),
              lambda o, x: eq(helper(o, "getppid_errno"), "42"), "42"),
    ], base=set_("linux.seccomp", lambda x: x["allowlist"])))
    G.append(Group("linux.seccomp (architectures)", [
        Field("linux.seccomp.architectures", set_("linux.seccomp.architectures", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
              lambda o, x: eq(helper(o, "ia32_getpid"), "No message of desired type"), "x86_64 x86 x32: int80 getpid -> 42"),
    ], base=set_("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]})))
    G.append(Group("linux.seccomp (notify)", [
        Field("linux.seccomp.listenerPath", set_("linux.seccomp.listenerPath", lambda x: x["notify_path"]),
              lambda o, x: (o.notify.get("fds", 0) >= 1, f"{o.notify.get('fds', 0)} fd(s) received"), "unix socket gets the fd"),
        Field("linux.seccomp.listenerMetadata", set_("linux.seccomp.listenerMetadata", "conf-meta"),
              lambda o, x: ('"conf-meta"' in o.notify.get("msg", ""), "metadata " +
                            ("present" if "conf-meta" in o.notify.get("msg", "") else "absent")), "conf-meta"),
    ], base=set_("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}), notify=True))
    return G
