#!/bin/sh
# Walks one container through the lifecycle, printing each command and what it
# answers: create, state, start, state, kill, state, delete. The container runs
# `sleep 1000` from this bundle's rootfs (make bundle), so there is time to look.
#
#   sh bundles/busybox/demo.sh                  # skiff (.build/release/skiff)
#   RUNTIME=runc sh bundles/busybox/demo.sh     # the same steps with runc
#   SKIFF_ROOT=DIR                              # --root (default /run/skiff, /run/runc)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runtime=${RUNTIME:-$repo/.build/release/skiff}
root=${SKIFF_ROOT:-/run/$(basename "$runtime")}
id=lifecycle-$$
work=$(mktemp -d)

if [ ! -x "$here/rootfs/bin/busybox" ]; then
	echo "demo: no rootfs at $here/rootfs (run make bundle)" >&2
	exit 1
fi

cleanup() {
	"$runtime" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 1' HUP INT PIPE TERM

# The same config as this bundle, with the rootfs by absolute path and a
# process that stays up.
python3 - "$here/config.json" "$here/rootfs" "$work/config.json" <<'EOF'
import json, sys
src, rootfs, dst = sys.argv[1:]
with open(src) as f:
    config = json.load(f)
config["root"]["path"] = rootfs
config["process"]["args"] = ["sleep", "1000"]
with open(dst, "w") as f:
    json.dump(config, f, indent=2)
EOF

step() {
	echo "\$ $(basename "$runtime") --root $root $*"
	"$runtime" --root "$root" "$@"
}

# state's JSON may end without a newline (runc's does).
state() {
	step state "$1" >"$work/state"
	sed '$a\' "$work/state"
}

step create --bundle "$work" --pid-file "$work/pid" "$id"
echo "(pid file says $(cat "$work/pid"); the process waits for start)"
state "$id"
step start "$id"
state "$id"
step kill "$id" KILL
# kill returns once the signal is sent; the state turns "stopped" once the
# process has gone.
i=0
while ! "$runtime" --root "$root" state "$id" 2>/dev/null | grep -q '"status": *"stopped"'; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "demo: $id did not stop" >&2; exit 1; }
	sleep 0.05
done
state "$id"
step delete "$id"
echo "(deleted)"
