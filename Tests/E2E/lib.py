"""Shared pieces of the end-to-end runner: commands, checks, daemons, cleanup.

Every caller module gets a Suite per runtime; a check is a function that raises
Fail with what the user would have seen (the command, its exit code, the tail
of its stderr). Nothing here knows about a particular caller.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VERBOSE = os.environ.get("E2E_VERBOSE") == "1"


class Fail(Exception):
    pass


class Result:
    def __init__(self, argv, rc, out, err, seconds):
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    def gist(self):
        lines = (self.err.strip() or self.out.strip()).splitlines()
        return f"exit {self.rc}: {lines[-1][-300:]}" if lines else f"exit {self.rc}"

    def describe(self):
        cmd = " ".join(shlex.quote(a) for a in self.argv)
        tail = lambda s: " | ".join(s.strip().splitlines()[-4:])[-600:]
        text = f"$ {cmd}\n      exit {self.rc}"
        if self.out.strip():
            text += f"; stdout: {tail(self.out)}"
        if self.err.strip():
            text += f"; stderr: {tail(self.err)}"
        return text


def run(argv, *, input=None, timeout=60, env=None, check=False):
    """Runs argv to completion (its own session, killed whole on timeout)."""
    start = time.monotonic()
    if VERBOSE:
        print("    $ " + " ".join(shlex.quote(a) for a in argv), flush=True)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(input.encode() if input is not None else None, timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        rc = f"timeout after {timeout}s"
    res = Result(argv, rc, out.decode(errors="replace"), err.decode(errors="replace"),
                 time.monotonic() - start)
    if check and res.rc != 0:
        raise Fail(res.describe())
    return res


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def expect(res, rc=0, out=None, err=None, out_not=None):
    """Fails with the command's own report unless rc and the text match.

    out/err: a string the stream must contain, or a list of them."""
    problems = []
    if rc is not None and res.rc != rc:
        problems.append(f"expected exit {rc}")
    for stream, name, want in ((res.out, "stdout", out), (res.err, "stderr", err)):
        for w in ([want] if isinstance(want, str) else (want or [])):
            if w not in stream:
                problems.append(f"expected {w!r} in {name}")
    for w in ([out_not] if isinstance(out_not, str) else (out_not or [])):
        if w in res.out:
            problems.append(f"did not expect {w!r} in stdout")
    if problems:
        raise Fail(", ".join(problems) + " (" + res.gist() + ")\n      " + res.describe())
    return res


def ensure(cond, message):
    if not cond:
        raise Fail(message)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise Fail(f"timed out after {timeout}s waiting for {what}")


def wait_term_trapped(host_pid, what, timeout=20):
    """Waits until the process (a container's PID 1, by its host pid) catches SIGTERM. A
    container is "running" before its shell has run `trap`; a SIGTERM sent earlier finds
    PID 1 without a handler and the kernel drops it (seen under load, with either runtime)."""
    def trapped():
        pid = host_pid()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return int(line.split()[1], 16) & (1 << 14) != 0
        except (OSError, ValueError):
            return False
        return False
    wait_for(trapped, timeout, f"{what} to trap SIGTERM")


class Suite:
    """The checks of one caller with one runtime, and their outcomes."""

    def __init__(self, caller, runtime):
        self.caller, self.runtime = caller, runtime
        self.results = []  # (name, ok, message)

    def check(self, name, fn, *args, needs=()):
        """Runs one check. needs: names of earlier checks it builds on; when one
        of them failed this one fails too, unrun, so every runtime is counted
        over the same checks."""
        for need in [needs] if isinstance(needs, str) else needs:
            if not self.ok(need):
                self.record(name, False, f"not run: {need!r} failed")
                return False
        start = time.monotonic()
        try:
            fn(*args)
            ok, message = True, ""
        except Fail as e:
            ok, message = False, str(e)
        except Exception as e:  # a harness error is a failure of the check, shown as such
            ok, message = False, f"{type(e).__name__}: {e}"
        self.record(name, ok, message, time.monotonic() - start)
        return ok

    def record(self, name, ok, message="", seconds=0.0):
        self.results.append((name, ok, message))
        mark = "ok  " if ok else "FAIL"
        print(f"  [{mark}] {self.caller}/{self.runtime}: {name} ({seconds:.1f}s)", flush=True)
        if not ok and not message.startswith("not run:"):
            for line in message.splitlines():
                print(f"         {line}", flush=True)
        elif not ok:
            print(f"         {message}", flush=True)

    def ok(self, name):
        return any(n == name and ok for n, ok, _ in self.results)

    @property
    def passed(self):
        return sum(1 for _, ok, _ in self.results if ok)

    @property
    def failed(self):
        return sum(1 for _, ok, _ in self.results if not ok)


class Daemon:
    """A daemon started by the run, logging to a file, stopped by its PID."""

    def __init__(self, name, argv, log_path, env=None):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.log = open(log_path, "ab")
        if VERBOSE:
            print("    $ " + " ".join(shlex.quote(a) for a in argv), flush=True)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_socket(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"{self.name} exited with {self.proc.returncode} before "
                           f"{path} appeared: {self.log_tail()}")
            if os.path.exists(path):
                return
            time.sleep(0.1)
        raise Fail(f"{self.name} did not create {path} within {timeout}s: {self.log_tail()}")

    def log_tail(self, n=6):
        try:
            with open(self.log_path, errors="replace") as f:
                lines = [l.strip() for l in f if l.strip()]
            return " | ".join(lines[-n:])[-1200:]
        except OSError:
            return "(no log)"

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def processes_mentioning(text):
    """PIDs whose command line contains text (a path unique to this run)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def processes_of_uid(uid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def unmount_under(path):
    """Lazily unmounts everything mounted at or below path, deepest first."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(path.rstrip("/") + "/"):
                mounts.append(point)
    for point in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)


def remove_tree(path):
    """Removes a run's temp tree after unmounting what daemons left there."""
    if not os.path.exists(path):
        return
    unmount_under(path)
    subprocess.run(["rm", "-rf", "--one-file-system", path], stderr=subprocess.DEVNULL)
    if os.path.exists(path):  # --one-file-system leaves directories still mounted
        unmount_under(path)
        subprocess.run(["rm", "-rf", path], stderr=subprocess.DEVNULL)


def make_dir(*parts, mode=0o755, owner=None):
    path = os.path.join(*parts)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def doc_snippet(name):
    """The fenced block in docs/integration.md tagged `<!-- e2e: name -->`.

    The harness builds its config files from these, so the doc shows exactly
    what `make e2e` runs."""
    with open(os.path.join(REPO, "docs", "integration.md")) as f:
        text = f.read()
    m = re.search(r"<!-- e2e: " + re.escape(name) + r" -->\s*\n```[a-z]*\n(.*?)```", text, re.S)
    if not m:
        raise Fail(f"docs/integration.md has no block tagged <!-- e2e: {name} -->")
    return m.group(1)


def inspect_json(res):
    try:
        return json.loads(res.out)
    except ValueError:
        raise Fail("not JSON: " + res.describe())
