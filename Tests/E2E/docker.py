"""Debian's dockerd, private to the run: the doc's daemon.json `runtimes`, its
own data root, exec root (with its own managed containerd), pid file and
socket; no bridge, no iptables, no ip_forward change, so the host's network
stays as it was (containers use --network none)."""
import json
import os
import shlex
import time

from image import IMAGE
from lib import Daemon, Fail, Suite, doc_snippet, ensure, expect, kill_pids, make_dir, processes_mentioning, wait_term_trapped, \
    run, wait_for, write_file

DOCKER = "/usr/bin/docker"  # Debian's client (another docker may come first on PATH)


def daemon_json(ctx):
    conf = json.loads(doc_snippet("docker-daemon-json"))
    for spec in conf.get("runtimes", {}).values():
        if spec.get("path") == "/usr/local/bin/skiff":
            spec["path"] = ctx.runtimes.get("skiff", spec["path"])
    return json.dumps(conf, indent=2)


# dockerd 20.10 always writes its libtrust identity there (no flag moves it);
# removed again when this run created it.
TRUST_KEY = "/etc/docker/key.json"


class Docker:
    def __init__(self, ctx):
        self.created_key = not os.path.exists(TRUST_KEY)
        self.created_key_dir = not os.path.exists(os.path.dirname(TRUST_KEY))
        self.base = make_dir(ctx.tmp, "docker")
        self.sock = os.path.join(self.base, "docker.sock")
        config = write_file(os.path.join(self.base, "daemon.json"), daemon_json(ctx))
        self.env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "DOCKER_CONFIG": make_dir(self.base, "client")}
        self.daemon = Daemon("dockerd", [
            "dockerd", "--config-file", config,
            "--data-root", os.path.join(self.base, "data"),
            "--exec-root", os.path.join(self.base, "exec"),
            "--pidfile", os.path.join(self.base, "docker.pid"),
            "-H", "unix://" + self.sock,
            "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
            "--bridge=none", "--userland-proxy=false", "--storage-driver", "overlay2",
        ], os.path.join(self.base, "dockerd.log"), env=self.env)
        self.daemon.wait_socket(self.sock, timeout=60)
        # The socket appears before the API answers.
        wait_for(lambda: self("version").rc == 0, 30, "dockerd to answer on " + self.sock)

    def __call__(self, *args, **kw):
        return run([DOCKER, "-H", "unix://" + self.sock] + list(args), env=self.env, **kw)

    def tty(self, *args):
        """docker under a pseudo-terminal, as a person at a terminal would run it."""
        argv = ["env", f"DOCKER_CONFIG={self.env['DOCKER_CONFIG']}", DOCKER, "-H", "unix://" + self.sock] + list(args)
        return run(["script", "-qec", shlex.join(argv), "/dev/null"])

    def state(self, name):
        return self("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).out.strip()

    def stop(self):
        self.daemon.stop(timeout=30)
        time.sleep(0.2)
        kill_pids(processes_mentioning(self.base))
        if self.created_key and os.path.exists(TRUST_KEY):
            os.remove(TRUST_KEY)
            if self.created_key_dir:
                os.rmdir(os.path.dirname(TRUST_KEY))


def check_run(d, rt):
    expect(d("run", "--rm", "--network", "none", "--runtime", rt, IMAGE, "echo", "hello from docker"),
           out="hello from docker")


def check_exit_code(d, rt):
    expect(d("run", "--rm", "--network", "none", "--runtime", rt, IMAGE, "sh", "-c", "exit 3"), rc=3)


def check_detach(d, rt, name):
    expect(d("run", "-d", "--name", name, "--network", "none", "--runtime", rt, "--memory", "64m",
             IMAGE, "sleep", "1000"))
    wait_for(lambda: d.state(name).startswith("running"), 20, f"{name} running")
    used = d("inspect", "--format", "{{.HostConfig.Runtime}}", name).out.strip()
    ensure(used == rt, f"docker ran {name} with {used!r}, not {rt!r}")


def check_exec(d, name):
    expect(d("exec", name, "sh", "-c", "echo exec:$(cat /proc/1/comm)"), out="exec:sleep")
    expect(d("exec", name, "sh", "-c", "exit 5"), rc=5)


def check_tty(d, rt, name):
    script = "tty; test -t 0 && echo stdin-is-a-tty"
    expect(d.tty("run", "--rm", "-it", "--network", "none", "--runtime", rt, IMAGE, "sh", "-c", script),
           out=["/dev/pts/", "stdin-is-a-tty"])
    expect(d.tty("exec", "-it", name, "sh", "-c", script), out=["/dev/pts/", "stdin-is-a-tty"])


def memory_limit_file():
    return ("/sys/fs/cgroup/memory/memory.limit_in_bytes" if os.path.isdir("/sys/fs/cgroup/memory")
            else "/sys/fs/cgroup/memory.max")


def check_update(d, name):
    before = expect(d("exec", name, "cat", memory_limit_file())).out.strip()
    ensure(before == str(64 << 20), f"memory limit in the container is {before}, expected {64 << 20}")
    expect(d("update", "--memory", "96m", "--memory-swap", "-1", name))
    after = expect(d("exec", name, "cat", memory_limit_file())).out.strip()
    ensure(after == str(96 << 20), f"after docker update --memory 96m the container sees {after}")


def check_pause(d, name):
    expect(d("pause", name))
    state = d.state(name)
    ensure(state.startswith("paused"), f"after pause, state is {state!r}")
    expect(d("unpause", name))
    state = d.state(name)
    ensure(state.startswith("running"), f"after unpause, state is {state!r}")
    expect(d("exec", name, "echo", "awake"), out="awake")


def check_kill(d, name):
    expect(d("kill", name))
    wait_for(lambda: d.state(name).startswith("exited"), 15, f"{name} exited")
    state = d.state(name)
    ensure(state == "exited 137", f"after docker kill, state/exit code is {state!r}, expected 'exited 137'")


def check_stop(d, rt):
    name = f"e2e-{rt}-term"
    expect(d("run", "-d", "--name", name, "--network", "none", "--runtime", rt, IMAGE,
             "sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"))
    wait_for(lambda: d.state(name).startswith("running"), 20, f"{name} running")
    wait_term_trapped(lambda: d("inspect", "--format", "{{.State.Pid}}", name).out.strip(), name)
    start = time.monotonic()
    expect(d("stop", "-t", "20", name))
    took = time.monotonic() - start
    state = d.state(name)
    ensure(took < 10, f"docker stop took {took:.1f}s: SIGTERM did not reach the trap")
    ensure(state == "exited 0", f"after stop, state/exit code is {state!r}, expected 'exited 0'")


def run_caller(ctx, runtimes):
    suites = [Suite("docker", rt) for rt in runtimes]
    try:
        d = Docker(ctx)
    except Fail as e:
        for s in suites:
            s.record("setup: dockerd", False, str(e))
        return suites
    try:
        loaded = d("load", "-i", ctx.image_archive, timeout=180)
        for s in suites:
            rt = s.runtime
            img = "setup: docker load"
            s.check(img, expect, loaded)
            name = f"e2e-{rt}-main"
            up = [img, "run -d"]
            s.check("run (output)", check_run, d, rt, needs=img)
            s.check("run exit code 3", check_exit_code, d, rt, needs=img)
            s.check("run -d", check_detach, d, rt, name, needs=img)
            s.check("exec (output, exit code)", check_exec, d, name, needs=up)
            s.check("run -it, exec -it (pty)", check_tty, d, rt, name, needs=up)
            s.check("update --memory", check_update, d, name, needs=up)
            s.check("pause/unpause", check_pause, d, name, needs=up)
            s.check("kill (137)", check_kill, d, name, needs=up)
            s.check("stop (SIGTERM honoured)", check_stop, d, rt, needs=img)
        d("rm", "-f", *[f"e2e-{rt}-{n}" for rt in runtimes for n in ("main", "term")])
    finally:
        d.stop()
    return suites
