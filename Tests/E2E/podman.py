"""podman, as root and as an unprivileged user, with each runtime.

Storage, run root, network config and containers.conf are private to the run;
every container is started with --network none (the default bridge would
change the host's network), so nothing outside the temp directory changes.
"""
import os
import pwd
import shlex
import subprocess
import time

from lib import Fail, Suite, doc_snippet, ensure, expect, make_dir, processes_of_uid, kill_pids, wait_term_trapped, \
    run, wait_for, write_file
from image import IMAGE

ROOTLESS_USER = "skiff-e2e"
SUBID_RANGE = "400000-465535"
CONTAINER_CGROUP_V1 = os.path.isdir("/sys/fs/cgroup/memory")


def containers_conf(ctx):
    # The doc's snippet, then what only the test needs: no network by default,
    # cgroupfs and file events (no systemd, no journald here).
    return (doc_snippet("podman-containers-conf").replace("/usr/local/bin/skiff", ctx.runtimes.get("skiff", "/usr/local/bin/skiff"))
            + '\n[containers]\nnetns = "none"\n'
            + default_ulimits()
            + '\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')


def default_ulimits():
    """podman as root gives containers nofile/nproc of 1048576/4194304; raising a
    hard limit needs CAP_SYS_RESOURCE, which this machine's bounding set lacks,
    so every runtime would fail with EPERM. Ask for the limits we have instead
    (nproc at most 32768: the runtime podman starts here has that hard limit,
    lower than this shell's)."""
    import resource
    limits = []
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, hard = resource.getrlimit(which)
        if name == "nproc":
            hard = min(hard, 32768)
        if hard != resource.RLIM_INFINITY:
            limits.append(f'"{name}={hard}:{hard}"')
    return f"default_ulimits = [{', '.join(limits)}]\n" if limits else ""


class Podman:
    def __init__(self, ctx, runtime, rootless):
        self.runtime, self.rootless = runtime, rootless
        self.base = os.path.join(ctx.tmp, "podman-rootless" if rootless else "podman")
        owner = ctx.rootless_uid if rootless else None
        make_dir(self.base, owner=owner)
        home = make_dir(self.base, "home", mode=0o700, owner=owner)
        conf_dir = make_dir(home, ".config", mode=0o700, owner=owner)
        conf_dir = make_dir(conf_dir, "containers", mode=0o700, owner=owner)
        conf = write_file(os.path.join(conf_dir, "containers.conf"), containers_conf(ctx))
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME": home, "LANG": "C.UTF-8"}
        if rootless:
            os.chown(conf, owner, owner)
            xdg = make_dir(self.base, "xdg", mode=0o700, owner=owner)
            self.env.update(XDG_RUNTIME_DIR=xdg, USER=ROOTLESS_USER)
            self.prefix = ["setpriv", f"--reuid={owner}", f"--regid={owner}", "--init-groups", "env", "-i"] + \
                [f"{k}={v}" for k, v in self.env.items()]
            self.xdg = xdg
        else:
            # root reads ~/.config only for rootless; CONTAINERS_CONF names the file instead.
            self.env["CONTAINERS_CONF"] = conf
            self.prefix = ["env", "-i"] + [f"{k}={v}" for k, v in self.env.items()]
        storage_driver = "vfs" if rootless else "overlay"
        self.podman = ["podman", "--root", os.path.join(self.base, "storage"),
                       "--runroot", os.path.join(self.base, "runroot"),
                       "--tmpdir", os.path.join(self.base, "tmp"),
                       "--network-config-dir", os.path.join(self.base, "net"),
                       "--storage-driver", storage_driver, "--runtime", runtime]

    def argv(self, *args):
        return self.prefix + self.podman + list(args)

    def __call__(self, *args, **kw):
        return run(self.argv(*args), **kw)

    def tty(self, *args, timeout=60):
        """Runs podman under a pseudo-terminal, as a person at a terminal would."""
        return run(["script", "-qec", shlex.join(self.argv(*args)), "/dev/null"], timeout=timeout)

    def status(self, name):
        return self("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).out.strip()


def setup_rootless_user():
    """The unprivileged user, created once, with its own subordinate id range."""
    try:
        pw = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             ROOTLESS_USER], check=True)
        pw = pwd.getpwnam(ROOTLESS_USER)
    for path, flag in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        with open(path) if os.path.exists(path) else open("/dev/null") as f:
            if not any(line.startswith(ROOTLESS_USER + ":") for line in f):
                run(["usermod", flag, SUBID_RANGE, ROOTLESS_USER], check=True)
    return pw.pw_uid


# --- the checks -------------------------------------------------------------

def check_true(p):
    expect(p("run", "--rm", IMAGE, "true"))


def check_echo(p):
    expect(p("run", "--rm", IMAGE, "echo", "hello from podman"), out="hello from podman")


def check_exit_code(p):
    expect(p("run", "--rm", IMAGE, "sh", "-c", "exit 3"), rc=3)


def check_stdin(p):
    expect(p("run", "--rm", "-i", IMAGE, "sh", "-c", "read line; echo got:$line", input="piped\n"),
           out="got:piped")


def check_detach(p, name):
    expect(p("run", "-d", "--name", name, IMAGE, "sleep", "1000"))
    wait_for(lambda: p.status(name).startswith("running"), 20, f"{name} running")
    used = p("inspect", "--format", "{{.OCIRuntime}}", name).out.strip()
    ensure(used == p.runtime, f"podman ran {name} with {used!r}, not {p.runtime!r}")


def check_exec_output(p, name):
    expect(p("exec", name, "sh", "-c", "echo exec:$(hostname)"), out="exec:")


def check_exec_exit_code(p, name):
    expect(p("exec", name, "sh", "-c", "exit 5"), rc=5)


def check_exec_tty(p, name):
    res = expect(p.tty("exec", "-it", name, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"),
                 out=["/dev/pts/", "stdin-is-a-tty"])


def check_run_tty(p):
    # The container's own process on a terminal: conmon passes --console-socket to create.
    # The process lingers after printing: rootless podman 4.3's conmon drops the output of a
    # process that exits at once (exit 0, empty stdout) with runc and skiff alike — 6 of 15
    # runs each, measured with a bare `tty; test -t 0 ...`; 0 of 15 each with this sleep.
    argv = ("run", "--rm", "-it", IMAGE, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; sleep 0.5")
    expect(p.tty(*argv), out=["/dev/pts/", "stdin-is-a-tty"])


def check_exec_options(p, name):
    res = expect(p("exec", "--user", "1000", "--workdir", "/tmp", "--env", "E2E=set", name,
                   "sh", "-c", "id -u; pwd; echo $E2E"))
    ensure(res.out.split() == ["1000", "/tmp", "set"],
           f"exec --user 1000 --workdir /tmp --env E2E=set saw {res.out.split()}")


def check_restart(p, name):
    expect(p("restart", "--time", "0", name))
    wait_for(lambda: p.status(name).startswith("running"), 20, f"{name} running again")
    expect(p("exec", name, "echo", "back"), out="back")


def check_top(p, name):
    expect(p("top", name), out="sleep 1000")


def check_stats(p, name):
    res = expect(p("stats", "--no-stream", "--format", "{{.Name}} pids={{.PIDs}} mem={{.MemUsage}}", name),
                 out=f"{name} pids=")
    ensure("pids=0 " not in res.out, "stats shows no processes: " + res.describe())


def check_pause(p, name):
    expect(p("pause", name))
    state = p.status(name)
    ensure(state.startswith("paused"), f"after pause, state is {state!r}, not paused")
    expect(p("unpause", name))
    state = p.status(name)
    ensure(state.startswith("running"), f"after unpause, state is {state!r}, not running")
    expect(p("exec", name, "echo", "awake"), out="awake")


def check_stop_term(p):
    name = f"e2e-{p.runtime}-term"
    expect(p("run", "-d", "--name", name, IMAGE, "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"))
    wait_for(lambda: p.status(name).startswith("running"), 20, f"{name} running")
    wait_term_trapped(lambda: p("inspect", "--format", "{{.State.Pid}}", name).out.strip(), name)
    start = time.monotonic()
    expect(p("stop", "--time", "20", name))
    took = time.monotonic() - start
    state = p.status(name)
    p("rm", "-f", name)
    ensure(took < 10, f"stop took {took:.1f}s: SIGTERM was not delivered to the trap")
    ensure(state == "exited 0", f"after stop, state/exit code is {state!r}, expected 'exited 0'")


def check_stop_ignoring(p, name):
    # sleep as PID 1 has no TERM handler, so the kernel drops SIGTERM: podman must SIGKILL.
    expect(p("stop", "--time", "1", name))
    state = p.status(name)
    ensure(state == "exited 137", f"after stop, state/exit code is {state!r}, expected 'exited 137'")


def check_ping(p):
    # busybox's ping needs a raw socket (no ICMP datagram fallback), and
    # podman's default capabilities differ between root and rootless: ask for it.
    expect(p("run", "--rm", "--network", "none", "--cap-add", "NET_RAW", IMAGE, "ping", "-c1", "-W3", "127.0.0.1"),
           out="1 packets received")


def check_limits(p):
    if CONTAINER_CGROUP_V1:
        script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    else:
        script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    res = expect(p("run", "--rm", "--memory", "64m", "--pids-limit", "50", IMAGE, "sh", "-c", script))
    ensure(res.out.split() == ["67108864", "50"],
           f"limits seen in the container: {res.out.split()}, expected ['67108864', '50']\n      " + res.describe())


def check_read_only(p):
    expect(p("run", "--rm", "--read-only", IMAGE, "sh", "-c", "touch /tmp/ok && echo tmp-writable; touch /x"),
           rc=1, out="tmp-writable", err="Read-only file system")


def check_user(p):
    expect(p("run", "--rm", "--user", "1000", IMAGE, "id"), out="uid=1000(user) gid=1000(user)")


def check_bind(p, host_dir):
    res = expect(p("run", "--rm", "-v", f"{host_dir}:/data", IMAGE, "sh", "-c",
                   "cat /data/in; echo from-container > /data/out"), out="from-host")
    with open(os.path.join(host_dir, "out")) as f:
        got = f.read().strip()
    ensure(got == "from-container", f"host file written by the container reads {got!r}")


def check_init(p):
    res = expect(p("run", "--rm", "--init", IMAGE, "sh", "-c", "echo pid=$$; tr '\\0' ' ' < /proc/1/cmdline"))
    ensure("pid=1\n" not in res.out and "init" in res.out,
           "with --init, PID 1 is not podman's init: " + res.describe())


def run_suite(ctx, runtime, rootless):
    caller = "podman-rootless" if rootless else "podman"
    suite = Suite(caller, runtime)
    if rootless and ctx.rootless_uid is None:
        suite.record("setup", False, ctx.rootless_error)
        return suite
    p = Podman(ctx, runtime, rootless)
    load = p("load", "-q", "-i", ctx.image_archive, timeout=180)
    suite.check("setup: podman load", expect, load)
    host_dir = make_dir(p.base, f"bind-{runtime}", owner=ctx.rootless_uid if rootless else None)
    write_file(os.path.join(host_dir, "in"), "from-host\n")
    name = f"e2e-{runtime}-main"
    img = "setup: podman load"
    up = [img, "run -d"]
    try:
        suite.check("run true", check_true, p, needs=img)
        suite.check("run echo", check_echo, p, needs=img)
        suite.check("exit code 3", check_exit_code, p, needs=img)
        suite.check("stdin -i", check_stdin, p, needs=img)
        suite.check("run -it (pty)", check_run_tty, p, needs=img)
        suite.check("run -d", check_detach, p, name, needs=img)
        suite.check("exec output", check_exec_output, p, name, needs=up)
        suite.check("exec exit code", check_exec_exit_code, p, name, needs=up)
        suite.check("exec -it (pty)", check_exec_tty, p, name, needs=up)
        suite.check("exec --user --workdir --env", check_exec_options, p, name, needs=up)
        suite.check("top", check_top, p, name, needs=up)
        if not rootless:  # cgroup v1 gives a user no cgroups: podman refuses these for any runtime
            suite.check("stats --no-stream", check_stats, p, name, needs=up)
            suite.check("pause/unpause", check_pause, p, name, needs=up)
        suite.check("restart", check_restart, p, name, needs=up)
        suite.check("stop of TERM-ignoring PID 1 (137)", check_stop_ignoring, p, name, needs=up)
        suite.check("stop (SIGTERM honoured)", check_stop_term, p, needs=img)
        suite.check("--network none: ping 127.0.0.1", check_ping, p, needs=img)
        if not rootless:
            suite.check("--memory/--pids-limit", check_limits, p, needs=img)
        suite.check("--read-only", check_read_only, p, needs=img)
        suite.check("--user 1000", check_user, p, needs=img)
        suite.check("-v bind mount", check_bind, p, host_dir, needs=img)
        suite.check("--init", check_init, p, needs=img)
    finally:
        p("rm", "-af", "-t", "0", timeout=120)
    return suite


def teardown(ctx):
    """Ends what rootless podman leaves running (its pause process, conmons) by PID."""
    if ctx.rootless_uid is not None:
        kill_pids(processes_of_uid(ctx.rootless_uid))


def run_caller(ctx, runtimes, rootless):
    if rootless and ctx.rootless_uid is None and ctx.rootless_error is None:
        try:
            ctx.rootless_uid = setup_rootless_user()
        except Fail as e:
            ctx.rootless_error = f"cannot create the rootless user {ROOTLESS_USER}: {e}"
    try:
        return [run_suite(ctx, rt, rootless) for rt in runtimes]
    finally:
        if rootless:
            teardown(ctx)
