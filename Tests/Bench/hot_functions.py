#!/usr/bin/env python3
"""Regenerate the linker's order of hot functions (Tests/Bench/hot-functions.txt).

The release binary is linked with every function in its own section and this list placed
first (Makefile: LAYOUT_FLAGS), so that what a container's commands and its init run lies
together instead of across the 33 MB binary, of which the kernel maps 64 KB (or a whole
large folio) per page fault.

1. callgrind (instruction-exact) over the runtime's commands: -v, list, state, exec and
   run up to the spawn of the init (valgrind cannot follow it), create, delete, kill,
   features, spec. Every function of the binary that ran is listed, in first-seen order.
2. Rounds of: relink with the list (--relink), run a mix of real container commands
   (run, exec, create/start/delete, kill, delete --force) under `perf record -e
   page-faults -d`, and add the functions whose text the runtime, the C stage or the init
   still faulted in from outside the list. These also cover what callgrind cannot see:
   the init, the C stage, and the runtime after the spawn.

Needs root, valgrind, perf, and SKIFF_BUNDLE_ROOTFS (make hot-functions sets it). A name
that no longer exists is ignored by the linker; a function missing from the list only
costs locality, never correctness.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)


def make_bundle(workdir: str, name: str, args: list[str]) -> str:
    with open(os.path.join(REPO, "bundles/busybox/config.json")) as f:
        config = json.load(f)
    config["root"] = {"path": os.environ["SKIFF_BUNDLE_ROOTFS"], "readonly": True}
    config["process"]["args"] = args
    config["process"]["terminal"] = False
    bundle = os.path.join(workdir, name)
    os.makedirs(bundle, exist_ok=True)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    return bundle


def callgrind_functions(binary: str, workdir: str, true_bundle: str, sleep_bundle: str) -> tuple[list[str], list[str]]:
    """Functions of the binary callgrind saw run: first those of the commands the shims call
    on every container, then those only the other commands (ArgumentParser's) add."""
    stripped = os.path.join(workdir, "skiff-stripped")  # valgrind 3.19 cannot read DWARF 5
    subprocess.run(["objcopy", "--strip-debug", binary, stripped], check=True)
    root = os.path.join(workdir, "root-callgrind")
    run([binary, "--root", root, "run", "-d", "--bundle", sleep_bundle, "running"], check=True)
    os.makedirs(workdir + "/spec", exist_ok=True)
    shim_commands = [
        ["--root", root, "run", "--bundle", true_bundle, "cg-run"],
        ["--root", root, "create", "--bundle", true_bundle, "cg-create"],
        ["--root", root, "exec", "running", "/bin/true"],
        ["--root", root, "state", "running"],
        ["--root", root, "kill", "running", "0"],
        ["--root", root, "delete", "nosuch"],
        ["--root", root, "delete", "--force", "nosuch"],
        ["-v"],
    ]
    other_commands = [["--root", root, "list"], ["features"], ["spec", "--bundle", workdir + "/spec"], ["state", "-h"]]
    seen: set[str] = set()
    tiers: list[list[str]] = []
    for commands in (shim_commands, other_commands):
        names: list[str] = []
        for command in commands:
            out = os.path.join(workdir, f"callgrind-{len(seen)}.out")
            run(["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", stripped] + command,
                timeout=120)
            for name in functions_in_profile(out, os.path.basename(stripped)):
                if name not in seen:
                    seen.add(name)
                    names.append(name)
            os.unlink(out)
        tiers.append(names)
    for cid in ("cg-run", "cg-create", "running"):
        run([binary, "--root", root, "delete", "--force", cid])
    return tiers[0], tiers[1]


def functions_in_profile(path: str, object_name: str) -> list[str]:
    """The functions of `object_name` in a callgrind profile (names are compressed as
    `fn=(id) name` on first use, `fn=(id)` after)."""
    objects: dict[str, str] = {}
    functions: dict[str, str] = {}
    current_object = None
    names = []
    if not os.path.exists(path):
        return names
    with open(path, errors="replace") as f:
        for line in f:
            match = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if not match:
                continue
            kind, ident, name = match.groups()
            table = objects if kind.endswith("ob") else functions
            if name:
                table[ident] = name
            if kind == "ob":
                current_object = objects.get(ident)
            elif kind == "fn" and current_object and current_object.endswith(object_name):
                names.append(functions[ident])
    return names


def text_section(binary: str) -> range:
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.replace("[ ", "[").split()
        if len(fields) > 5 and fields[1] == ".text":
            start, size = int(fields[3], 16), int(fields[5], 16)
            return range(start, start + size)
    raise SystemExit(f"hot-functions: no .text section in {binary}")


def text_symbols(binary: str) -> tuple[list[int], list[str]]:
    out = subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    addresses, names = [], []
    for line in out.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3 and fields[1] in "tTwW":
            addresses.append(int(fields[0], 16))
            names.append(fields[2])
    return addresses, names


def write_workload(workdir: str, name: str, binary: str, sleep_bundle: str, iterations: int, body: str) -> str:
    """A shell script that starts a container named `name`-running (sleep 1000), runs `body`
    `iterations` times ($S the binary, $R its root, $i the round), then deletes it."""
    root = os.path.join(workdir, "root-" + name)
    script = os.path.join(workdir, name + ".sh")
    with open(script, "w") as f:
        f.write(f"""#!/bin/sh
S={binary}; R={root}
$S --root $R run -d --bundle {sleep_bundle} {name}-running
for i in $(seq 1 {iterations}); do
{body}done
$S --root $R delete --force {name}-running
""")
    return script


def faulted_functions(binary: str, workdir: str, true_bundle: str, sleep_bundle: str, iterations: int) -> list[str]:
    """Functions of the binary whose text was faulted in during a mix of container commands."""
    script = write_workload(workdir, "mix", binary, sleep_bundle, iterations, f"""\
  $S --root $R run --bundle {true_bundle} run$i
  $S --root $R exec mix-running /bin/true
  $S --root $R create --bundle {true_bundle} c$i; $S --root $R state c$i >/dev/null; $S --root $R start c$i
  sleep 0.05; $S --root $R delete c$i
  $S --root $R list >/dev/null; $S --root $R kill mix-running 0
  $S --root $R create --bundle {sleep_bundle} f$i; $S --root $R start f$i; $S --root $R delete --force f$i
""")
    data = os.path.join(workdir, "faults.data")
    run(["perf", "record", "-q", "-e", "page-faults", "-c", "1", "-d", "-o", data, "--", "sh", script], check=True)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,addr"], capture_output=True, text=True).stdout
    addresses, names = text_symbols(binary)
    text = text_section(binary)
    found: list[str] = []
    seen: set[str] = set()
    for line in out.splitlines():
        fields = line.split()
        # The runtime ("skiff"), the C stage and the init ("skiff:N:…", or the fd number it was
        # executed as); not the container's processes after their exec.
        if len(fields) != 2 or not (fields[0].startswith("skiff") or fields[0].isdigit()):
            continue
        address = int(fields[1], 16)
        index = bisect.bisect_right(addresses, address) - 1
        if index < 0 or address not in text:
            continue
        name = names[index]
        if name not in seen:
            seen.add(name)
            found.append(name)
    return found


def load_offset(binary: str) -> int:
    """What perf's printed addresses for the binary's text lack: its first LOAD segment's
    address less its file offset (perf prints an address relative to the mapping)."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == "LOAD":
            return int(fields[2], 16) - int(fields[1], 16)
    raise SystemExit(f"hot-functions: no LOAD segment in {binary}")


def sampled_functions(binary: str, workdir: str, true_bundle: str, sleep_bundle: str, iterations: int) -> list[str]:
    """Functions on the stacks of `run` and `exec` sampled by perf (-g, frame pointers), in the
    order first seen, callers before callees: what callgrind cannot follow (the C stage, the
    init, the runtime after the spawn) and page faults find only one per fault (the first
    function touched in a 64 KB window or large folio): the init's own code lay outside the
    list, across 28 windows of 64 KB that each `run`'s init faulted in."""
    script = write_workload(workdir, "sampled", binary, sleep_bundle, iterations * 8, f"""\
  $S --root $R run --bundle {true_bundle} run$i
  $S --root $R exec sampled-running /bin/true
""")
    data = os.path.join(workdir, "sampled.data")
    run(["perf", "record", "-q", "-g", "-F", "20000", "-o", data, "--", "sh", script], check=True)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym,dso"],
                         capture_output=True, text=True).stdout
    addresses, names = text_symbols(binary)
    known = set(names)
    text = text_section(binary)
    offset = load_offset(binary)
    found: list[str] = []
    seen: set[str] = set()
    for sample in out.split("\n\n"):
        lines = sample.strip().splitlines()
        if not lines:
            continue
        comm = lines[0].split()[0]
        if not (comm.startswith("skiff") or comm.isdigit()):
            continue
        frames: list[str] = []
        for line in lines[1:]:
            fields = line.split()
            if len(fields) < 2 or "kernel.kallsyms" in line or "[vdso]" in line:
                continue
            name = fields[1].split("+")[0]
            if name not in known:
                try:
                    address = int(fields[0], 16) + offset
                except ValueError:
                    continue
                index = bisect.bisect_right(addresses, address) - 1
                if index < 0 or address not in text:
                    continue
                name = names[index]
            frames.append(name)
        for name in reversed(frames):  # the outermost caller first
            if name not in seen:
                seen.add(name)
                found.append(name)
    return found


def write_order(path: str, names: list[str]) -> None:
    with open(path, "w") as f:
        f.writelines(f".text.{name}\n" for name in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--relink", required=True, help="command relinking --binary; {order} is the order file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=5)
    options = parser.parse_args()
    for tool in ("valgrind", "perf", "objcopy", "nm"):
        if not shutil.which(tool):
            print(f"hot-functions: {tool} is not installed", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="skiff-hot-") as workdir:
        true_bundle = make_bundle(workdir, "true", ["/bin/true"])
        sleep_bundle = make_bundle(workdir, "sleep", ["sleep", "1000"])
        order = os.path.join(workdir, "order.txt")
        # The shims' commands first, then what the init, the C stage and the runtime after the
        # spawn fault in (found by the rounds), then the rest: 64 KB is mapped per fault, so
        # the commands run on every container should share as few of them as they can.
        shim, other = callgrind_functions(options.binary, workdir, true_bundle, sleep_bundle)
        print(f"hot-functions: callgrind: {len(shim)} functions for the shims' commands, {len(other)} more for the rest")
        sampled = [n for n in sampled_functions(options.binary, workdir, true_bundle, sleep_bundle, options.iterations)
                   if n not in set(shim)]
        print(f"hot-functions: perf samples: {len(sampled)} more functions on the stacks of run and exec")
        other = [n for n in other if n not in set(sampled)]
        shim += sampled
        faulted: list[str] = []
        listed = set(shim) | set(other)
        for number in range(options.rounds):
            write_order(order, shim + faulted + other)
            subprocess.run(options.relink.format(order=order), shell=True, check=True)
            new = [n for n in faulted_functions(options.binary, workdir, true_bundle, sleep_bundle, options.iterations)
                   if n not in listed]
            listed.update(new)
            faulted += new
            print(f"hot-functions: round {number + 1}: {len(new)} functions faulted in from outside the list")
        names = shim + faulted + other
        write_order(options.output, names)
        print(f"hot-functions: {len(names)} functions written to {options.output}")
    # The binary was last linked with the list before the final round's additions.
    subprocess.run(options.relink.format(order=options.output), shell=True, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
