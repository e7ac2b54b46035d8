"""containerd's ctr: containers through containerd-shim-runc-v2, which runs the
runtime named by --runc-binary (the shim's BinaryName)."""
import os
import shlex
import subprocess
import time

from containerd import Containerd
from image import IMAGE
from lib import Fail, Suite, ensure, expect, run, wait_for, wait_term_trapped

NS = "e2e"


class Ctr:
    def __init__(self, cd, runtime, binary):
        self.cd, self.runtime, self.binary = cd, runtime, binary
        self.root = os.path.join(cd.base, f"ctr-root-{runtime}")
        # ctr's FIFOs default to /run/containerd/fifo; keep them in the run's dir.
        self.fifos = os.path.join(cd.base, "fifo")

    def __call__(self, *args, **kw):
        return self.cd.ctr(NS, *args, **kw)

    def run_args(self):
        return ["run", "--runc-binary", self.binary, "--runc-root", self.root, "--fifo-dir", self.fifos]

    def exec_args(self, exec_id):
        return ["task", "exec", "--fifo-dir", self.fifos, "--exec-id", exec_id]

    def task_pid(self, cid):
        for line in self("task", "ls").out.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return fields[1]
        return None

    def task_status(self, cid):
        for line in self("task", "ls").out.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == cid:
                return fields[-1]
        return None


def check_run_echo(c):
    expect(c(*c.run_args(), "--rm", IMAGE, f"e2e-{c.runtime}-echo", "echo", "hello from ctr"), out="hello from ctr")


def check_exit_status(c):
    expect(c(*c.run_args(), "--rm", IMAGE, f"e2e-{c.runtime}-exit", "sh", "-c", "exit 3"), rc=3)


def check_detach(c, cid):
    expect(c(*c.run_args(), "-d", IMAGE, cid, "sleep", "1000"))
    wait_for(lambda: c.task_status(cid) == "RUNNING", 20, f"task {cid} RUNNING")
    # The runtime under test itself knows the container (the shim adds the namespace to --root).
    expect(run([c.binary, "--root", os.path.join(c.root, NS), "state", cid]), out='"running"')


def check_exec(c, cid):
    expect(c(*c.exec_args("out"), cid, "sh", "-c", "echo exec:$(cat /proc/1/comm)"),
           out="exec:sleep")


def check_exec_code(c, cid):
    expect(c(*c.exec_args("code"), cid, "sh", "-c", "exit 5"), rc=5)


def check_pty(c, cid):
    argv = ["ctr", "--address", c.cd.sock, "--namespace", NS, *c.exec_args("tty"), "-t", cid,
            "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"]
    expect(run(["script", "-qec", shlex.join(argv), "/dev/null"]), out=["/dev/pts/", "stdin-is-a-tty"])


def check_pause(c, cid):
    expect(c("task", "pause", cid))
    status = c.task_status(cid)
    ensure(status == "PAUSED", f"after pause, task status is {status!r}")
    expect(c("task", "resume", cid))
    status = c.task_status(cid)
    ensure(status == "RUNNING", f"after resume, task status is {status!r}")
    expect(c(*c.exec_args("awake"), cid, "echo", "awake"), out="awake")


def check_metrics(c, cid):
    res = expect(c("task", "metrics", cid))
    values = {}
    for line in res.out.splitlines():
        fields = line.split()
        if len(fields) == 2:
            values[fields[0]] = fields[1]
    pids = values.get("pids.current")
    mem = values.get("memory.usage_in_bytes") or values.get("memory.usage")
    ensure(pids not in (None, "0") and mem not in (None, "0"),
           f"metrics show pids.current={pids}, memory usage={mem}\n      " + res.describe())


def check_kill_term(c):
    """ctr run in the foreground, `ctr task kill` (SIGTERM) from outside: the
    trap's exit status comes back to the foreground ctr."""
    cid = f"e2e-{c.runtime}-term"
    argv = ["ctr", "--address", c.cd.sock, "--namespace", NS] + c.run_args() + \
        ["--rm", IMAGE, cid, "sh", "-c", "trap 'exit 7' TERM; sleep 1000 & wait"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_for(lambda: c.task_status(cid) == "RUNNING" or proc.poll() is not None, 20, f"task {cid} RUNNING")
        if proc.poll() is not None:
            raise Fail(f"ctr run exited early with {proc.returncode}: "
                       f"{proc.stderr.read().decode(errors='replace').strip()[-300:]}")
        wait_term_trapped(lambda: c.task_pid(cid), cid)
        expect(c("task", "kill", cid))
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            raise Fail(f"ctr run still running 15s after SIGTERM: {' '.join(argv)}")
        ensure(rc == 7, f"foreground ctr run exited {rc}, expected 7 (the TERM trap's status); "
               f"stderr: {proc.stderr.read().decode(errors='replace').strip()[-300:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        c("task", "kill", "-s", "KILL", cid)
        c("container", "rm", cid)


def check_kill_status(c, cid):
    expect(c("task", "kill", "-s", "KILL", cid))
    wait_for(lambda: c.task_status(cid) == "STOPPED", 15, f"task {cid} STOPPED")
    # ctr task delete warns with the task's exit status.
    expect(c("task", "delete", cid), err="exit with non-zero exit code 137")


def run_caller(ctx, runtimes):
    suites = [Suite("ctr", rt) for rt in runtimes]
    try:
        cd = Containerd(ctx, "ctr", cri=False)
    except Fail as e:
        for s in suites:
            s.record("setup: containerd", False, str(e))
        return suites
    try:
        imported = cd.ctr(NS, "images", "import", ctx.image_archive, timeout=180)
        for s in suites:
            img = "setup: ctr images import"
            s.check(img, expect, imported)
            c = Ctr(cd, s.runtime, ctx.runtimes[s.runtime])
            cid = f"e2e-{s.runtime}-main"
            up = [img, "run -d"]
            s.check("run (output)", check_run_echo, c, needs=img)
            s.check("run exit status 3", check_exit_status, c, needs=img)
            s.check("run -d", check_detach, c, cid, needs=img)
            s.check("exec output", check_exec, c, cid, needs=up)
            s.check("exec exit code", check_exec_code, c, cid, needs=up)
            s.check("exec -t (pty)", check_pty, c, cid, needs=up)
            s.check("pause/resume", check_pause, c, cid, needs=up)
            s.check("metrics", check_metrics, c, cid, needs=up)
            s.check("kill KILL: exit status 137", check_kill_status, c, cid, needs=up)
            s.check("kill TERM: trap's exit status 7", check_kill_term, c, needs=img)
            c("task", "kill", "-s", "KILL", cid)
            c("task", "delete", cid)
            c("container", "rm", cid)
    finally:
        cd.stop()
    return suites
