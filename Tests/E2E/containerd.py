"""A containerd private to the run: its own root, state, sockets and config.

The config is docs/integration.md's containerd snippet (the skiff runtime
handler) plus what only the test needs: private paths, runc as a second
handler, the locally built sandbox image, a CNI config dir of its own.
"""
import os
import time

from lib import Daemon, Fail, doc_snippet, kill_pids, make_dir, processes_mentioning, run, write_file
from image import PAUSE

# Plugins that probe for filesystems or kernel modules this host does not use.
DISABLED = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
            "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]


def config(ctx, base, cri):
    cri_table = 'plugins."io.containerd.grpc.v1.cri"'
    snippet = (doc_snippet("containerd-config")
               .replace("/usr/local/bin/skiff", ctx.runtimes.get("skiff", "/usr/local/bin/skiff"))
               .replace("/run/containerd/skiff", os.path.join(base, "skiff-root")))
    disabled = DISABLED + ([] if cri else ["io.containerd.grpc.v1.cri"])
    text = (f'root = "{base}/root"\nstate = "{base}/state"\n'
            f'disabled_plugins = {disabled!r}\n'.replace("'", '"')
            + snippet
            + f'\n[grpc]\n  address = "{base}/containerd.sock"\n'
            f'[ttrpc]\n  address = "{base}/containerd.sock.ttrpc"\n'
            f'[debug]\n  address = "{base}/debug.sock"\n'
            f'[metrics]\n  address = ""\n'
            f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{base}/opt"\n'
            f'[{cri_table}]\n'
            f'  sandbox_image = "{PAUSE}"\n'
            # the pod's netns is mounted under our state dir, not /var/run/netns
            f'  netns_mounts_under_state_dir = true\n'
            # The sandbox asks for oom_score_adj -998; lowering it needs
            # CAP_SYS_RESOURCE, which this machine's bounding set lacks.
            f'  restrict_oom_score_adj = true\n'
            f'  stream_server_address = "127.0.0.1"\n  stream_server_port = "0"\n'
            f'  [{cri_table}.cni]\n    bin_dir = "{base}/cni-bin"\n    conf_dir = "{base}/cni"\n'
            f'  [{cri_table}.containerd]\n    snapshotter = "overlayfs"\n')
    if "runc" in ctx.runtimes:
        text += (f'  [{cri_table}.containerd.runtimes.runc]\n    runtime_type = "io.containerd.runc.v2"\n'
                 f'    [{cri_table}.containerd.runtimes.runc.options]\n'
                 f'      BinaryName = "{ctx.runtimes["runc"]}"\n      Root = "{base}/runc-root"\n')
    return text


class Containerd:
    def __init__(self, ctx, name, cri=False):
        self.base = make_dir(ctx.tmp, name)
        make_dir(self.base, "cni")
        self.sock = os.path.join(self.base, "containerd.sock")
        self.config_path = write_file(os.path.join(self.base, "config.toml"), config(ctx, self.base, cri))
        self.daemon = Daemon("containerd", ["containerd", "--config", self.config_path],
                             os.path.join(self.base, "containerd.log"))
        self.daemon.wait_socket(self.sock)

    def ctr(self, namespace, *args, **kw):
        return run(["ctr", "--address", self.sock, "--namespace", namespace] + list(args), **kw)

    def stop(self):
        self.daemon.stop()
        # Shims outlive containerd by design; ours name our socket in their argv.
        time.sleep(0.2)
        kill_pids(processes_mentioning(self.sock))
