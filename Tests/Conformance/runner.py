"""Running one container under one runtime and collecting what it saw.

A run is: create (stdout/stderr to files, or a pty through --console-socket),
read the host's view while the container is `created` (its cgroup files, its
state), start, wait for the process to exit, read its output, delete, then
read what only exists after delete (the poststop hook's file). Every step has
a timeout; a runtime that fails a step is the run's error, which the probe
turns into `refused`.
"""

from __future__ import annotations

import array
import dataclasses
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time

COMMAND_TIMEOUT = 20.0

# The cgroup v1 files the resources checks read on the host, per controller.
CGROUP_FILES = {
    "memory": ["memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
               "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes", "memory.swappiness",
               "memory.oom_control", "memory.use_hierarchy"],
    "cpu": ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.cfs_burst_us", "cpu.rt_runtime_us",
            "cpu.rt_period_us", "cpu.idle"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "pids": ["pids.max"],
    "blkio": ["blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.bfq.weight",
              "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
              "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"],
    "devices": ["devices.list"],
    "hugetlb": ["hugetlb.2MB.limit_in_bytes"],
    "net_cls": ["net_cls.classid"],
    "net_prio": ["net_prio.ifpriomap"],
    "rdma": ["rdma.max"],
}
UNIFIED_FILES = ["memory.high", "pids.max", "hugetlb.2MB.max", "rdma.max", "cgroup.subtree_control"]


@dataclasses.dataclass
class Runtime:
    name: str
    binary: str
    prefix: list[str]
    root: str = ""
    version: str = ""

    def cmd(self, *args: str) -> list[str]:
        return [*self.prefix, self.binary, "--root", self.root, *args]


@dataclasses.dataclass
class Obs:
    """What one run produced. `error` set means a lifecycle step failed."""
    error: str = ""
    step: str = ""
    elapsed: float = 0.0
    out: dict = dataclasses.field(default_factory=dict)  # section -> lines; "helper" -> {key: value}
    raw: str = ""
    cg: dict = dataclasses.field(default_factory=dict)  # "memory/memory.limit_in_bytes" -> text
    cgpaths: dict = dataclasses.field(default_factory=dict)  # controller -> path in its hierarchy
    state: dict = dataclasses.field(default_factory=dict)
    hooks: dict = dataclasses.field(default_factory=dict)  # file name -> text
    notify: dict = dataclasses.field(default_factory=dict)
    host_ns: dict = dataclasses.field(default_factory=dict)
    exec_out: dict = dataclasses.field(default_factory=dict)
    post: dict = dataclasses.field(default_factory=dict)
    cid: str = ""


def parse_output(text: str) -> dict:
    out: dict = {"helper": {}}
    section = None
    for line in text.replace("\r", "").splitlines():
        if line.startswith("@@"):
            section = line[2:].strip()
            out.setdefault(section, [])
        elif section is None:
            if "=" in line:
                k, v = line.split("=", 1)
                out["helper"][k] = v
        else:
            out[section].append(line)
    return out


def _tail(path: str, extra: str = "") -> str:
    text = ""
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        pass
    text = (text + "\n" + extra).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    panic = [ln for ln in lines if ln.startswith("panic:")]
    if panic:  # a Go runtime crash: the panic line says what, the trace's tail does not
        return panic[0][:400]
    msg = " / ".join(lines[-2:]) if lines else "(no error text)"
    return msg[:400]


def _log_error(log: str) -> str:
    """The last error message of a --log-format json log (runc/crun/skiff all write one)."""
    msg = ""
    try:
        with open(log, errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("level") in ("error", "fatal"):
                    msg = rec.get("msg", "")
    except OSError:
        pass
    return msg


def run_cmd(rt: Runtime, args: list[str], errfile: str, stdout=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT):
    with open(errfile, "wb") as err:
        try:
            p = subprocess.run(rt.cmd(*args), stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, timeout=timeout)
            return p.returncode
        except subprocess.TimeoutExpired:
            return "timeout"


class ConsoleReceiver(threading.Thread):
    """The --console-socket end: receives the pty master and reads it until EOF."""

    def __init__(self, path: str):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(COMMAND_TIMEOUT)
        self.data = b""
        self.got_fd = False
        self.done = threading.Event()

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
            if not fds:
                return
            self.got_fd = True
            master = fds[0]
            for extra in fds[1:]:
                os.close(extra)
            deadline = time.monotonic() + COMMAND_TIMEOUT
            while time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.5)
                if not r:
                    if self.done.is_set():
                        break
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.data += chunk
            os.close(master)
        except OSError:
            pass
        finally:
            self.sock.close()


class NotifyReceiver(threading.Thread):
    """The seccomp listenerPath end: receives the state and the notify fd, then closes
    the fd so the notified syscall fails (ENOSYS) instead of blocking the container."""

    def __init__(self, path: str):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(COMMAND_TIMEOUT)
        self.msg = b""
        self.nfds = 0

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(5)
                msg, fds, _, _ = socket.recv_fds(conn, 65536, 8)
                self.msg = msg
                self.nfds = len(fds)
                for fd in fds:
                    os.close(fd)
        except OSError:
            pass
        finally:
            self.sock.close()


def wait_exit(pid: int, timeout: float) -> bool:
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def read_cgroups(pid: int, obs: Obs) -> None:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        for ctrl in (ctrls.split(",") if ctrls else ["unified"]):
            obs.cgpaths[ctrl] = path
            if ctrl == "unified":
                base, files = f"/sys/fs/cgroup/unified{path}", UNIFIED_FILES
            else:
                base, files = f"/sys/fs/cgroup/{ctrl}{path}", CGROUP_FILES.get(ctrl, [])
            for name in files:
                try:
                    with open(os.path.join(base, name)) as f:
                        obs.cg[f"{ctrl}/{name}"] = f.read().strip()
                except OSError:
                    pass


def run_container(rt: Runtime, cid: str, bundle: str, config: dict, mode: str = "run",
                  exec_process: dict | None = None, notify_path: str = "") -> Obs:
    """mode: "run" (the process exits by itself; with process.terminal its output comes
    through the pty sent to --console-socket), or "exec" (init sleeps; exec_process is run
    with `exec --process` and its output is the observation)."""
    obs = Obs(cid=cid)
    os.makedirs(bundle, exist_ok=True)
    outdir = os.path.join(bundle, "out")
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)  # a user namespace's root and uid 1000 write hook files here
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    pidfile = os.path.join(bundle, "pid")
    outfile = os.path.join(bundle, "stdout")
    errfile = os.path.join(bundle, "stderr")
    log = os.path.join(bundle, "log.json")
    args = ["--log", log, "--log-format", "json", "create", "--bundle", bundle, "--pid-file", pidfile]
    tail_args = [cid]
    console = None
    notify = None
    if config.get("process", {}).get("terminal") and mode != "exec":
        sock = os.path.join(bundle, "console.sock")
        console = ConsoleReceiver(sock)
        console.start()
        args += ["--console-socket", sock]
    args += tail_args
    if notify_path:
        notify = NotifyReceiver(notify_path)
        notify.start()
    # The runtime's global flags go before the command: rebuild with --log first.
    t0 = time.monotonic()
    created = False
    try:
        with open(outfile, "wb") as out:
            rc = run_cmd(rt, args, errfile, stdout=out)
        obs.elapsed = time.monotonic() - t0
        if rc != 0:
            obs.step = "create"
            obs.error = _log_error(log) or _tail(errfile)
            if rc == "timeout":
                obs.error = f"create timed out after {COMMAND_TIMEOUT:.0f}s"
            return obs
        created = True
        with open(pidfile) as f:
            pid = int(f.read().strip())
        read_cgroups(pid, obs)
        for ns in ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"):
            try:
                obs.host_ns[ns] = os.readlink(f"/proc/{pid}/ns/{ns}")
            except OSError:
                pass
        st = subprocess.run(rt.cmd("state", cid), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        try:
            obs.state = json.loads(st.stdout)
        except ValueError:
            pass
        rc = run_cmd(rt, ["--log", log, "--log-format", "json", "start", cid], errfile)
        if rc != 0:
            obs.step = "start"
            obs.error = _log_error(log) or _tail(errfile)
            return obs
        if mode == "exec":
            pfile = os.path.join(bundle, "process.json")
            with open(pfile, "w") as f:
                json.dump(exec_process, f)
            xout = os.path.join(bundle, "exec.stdout")
            with open(xout, "wb") as out:
                rc = run_cmd(rt, ["--log", log, "--log-format", "json", "exec", "--process", pfile, cid],
                             errfile, stdout=out)
            if rc != 0:
                obs.step = "exec"
                obs.error = _log_error(log) or _tail(errfile)
                return obs
            with open(xout, errors="replace") as f:
                obs.raw = f.read()
        else:
            if not wait_exit(pid, COMMAND_TIMEOUT):
                obs.step = "wait"
                obs.error = f"container process still running after {COMMAND_TIMEOUT:.0f}s"
            if console:
                console.done.set()
                console.join(5)
                obs.raw = console.data.decode(errors="replace")
            else:
                with open(outfile, errors="replace") as f:
                    obs.raw = f.read()
        obs.out = parse_output(obs.raw)
        return obs
    finally:
        if created:
            rc = run_cmd(rt, ["delete", "--force", cid], errfile + ".delete")
            if rc != 0 and not obs.error:
                obs.step = "delete"
                obs.error = "delete: " + _tail(errfile + ".delete")
        if notify:
            notify.join(1)
            obs.notify = {"fds": notify.nfds, "msg": notify.msg.decode(errors="replace")}
        for name in sorted(os.listdir(outdir)):
            try:
                with open(os.path.join(outdir, name), errors="replace") as f:
                    obs.hooks[name] = f.read()
            except OSError:
                pass
