"""Images built from the busybox rootfs that `make bundle` generates.

There is no registry here, so every caller gets its images from a
docker-archive tarball written by this module (`docker load`, `podman load`
and `ctr images import` all read that format).
"""
import hashlib
import io
import json
import os
import tarfile

IMAGE = "localhost/skiff-e2e/busybox:latest"
# The CRI sandbox ("pause") image: the same rootfs, sleeping forever.
PAUSE = "localhost/skiff-e2e/pause:latest"


def _layer(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name, recursive=True)
    return buf.getvalue()


def _config(diff_id, entrypoint, cmd):
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Entrypoint": entrypoint,
            "Cmd": cmd,
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "skiff make e2e (Tests/E2E/image.py)"}],
    }


def build_archive(rootfs, path):
    """Writes a docker-archive holding IMAGE (sh) and PAUSE (sleep forever)."""
    if not os.path.exists(os.path.join(rootfs, "bin", "busybox")):
        raise RuntimeError(f"no busybox rootfs at {rootfs} (run make bundle)")
    layer = _layer(rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    layer_name = diff_id[7:] + "/layer.tar"
    members = {layer_name: layer}
    manifest = []
    for tag, entrypoint, cmd in ((IMAGE, None, ["sh"]),
                                 (PAUSE, ["/bin/sleep", "2147483647"], None)):
        config = json.dumps(_config(diff_id, entrypoint, cmd), sort_keys=True).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        members[config_name] = config
        manifest.append({"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]})
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    os.chmod(path, 0o644)
    return path
