"""A Kubernetes pod through containerd's CRI plugin, driven over the CRI
socket the way the kubelet drives it: RunPodSandbox -> CreateContainer x2 ->
StartContainer -> ExecSync -> ContainerStatus -> StopContainer ->
StopPodSandbox -> RemovePodSandbox.

The client is compiled at test time from cri/api.proto (a subset of
k8s.io/cri-api runtime.v1) with grpcio-tools; `make e2e` provides them in a venv.
The pod gets its own network namespace, set up by a loopback-only CNI config;
the containers join the sandbox's network, IPC and UTS namespaces by path.
"""
import os
import re
import sys
import time

from containerd import Containerd
from image import IMAGE
from lib import HERE, Fail, Suite, doc_snippet, ensure, expect, make_dir, run, wait_for, write_file

# The pod's network: containerd 1.6 refuses a pod whose CNI result has no
# address on eth0 ("failed to find network info for sandbox"), so a
# loopback-only config is not enough. A plugin written here gives the pod an
# eth0 with a TEST-NET-1 address: one end of a veth pair whose other end stays
# down in the same netns (this kernel has no dummy driver), so it reaches
# nothing. Then Debian's loopback plugin brings lo up. Both act only inside the
# pod's netns: no host interface, route or firewall rule is made.
CNI_CONF = ('{"cniVersion": "0.4.0", "name": "e2e-pod", '
            '"plugins": [{"type": "e2e-dummy"}, {"type": "loopback"}]}\n')
DUMMY_PLUGIN = r"""#!/bin/sh
# CNI plugin for make e2e: an eth0 in the pod's netns (a veth pair with both
# ends there), nothing on the host.
cat >/dev/null
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
case "$CNI_COMMAND" in
ADD)
    err=$(nsenter --net="$CNI_NETNS" sh -c \
        "ip link add $CNI_IFNAME type veth peer name e2e-peer && ip addr add 192.0.2.2/24 dev $CNI_IFNAME && ip link set $CNI_IFNAME up" 2>&1) || {
        printf '{"cniVersion": "0.4.0", "code": 999, "msg": "e2e-dummy: %s"}\n' "$(echo $err | tr -d '"\\')"
        exit 1
    }
    printf '{"cniVersion": "0.4.0", "interfaces": [{"name": "%s", "sandbox": "%s"}], ' "$CNI_IFNAME" "$CNI_NETNS"
    printf '"ips": [{"version": "4", "address": "192.0.2.2/24", "interface": 0}]}\n'
    ;;
VERSION)
    echo '{"cniVersion": "0.4.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0"]}'
    ;;
esac
exit 0
"""


def cni_setup(base):
    """A CNI bin dir with Debian's loopback plugin and ours; the conflist."""
    bin_dir = make_dir(base, "cni-bin")
    os.symlink("/usr/lib/cni/loopback", os.path.join(bin_dir, "loopback"))
    write_file(os.path.join(bin_dir, "e2e-dummy"), DUMMY_PLUGIN, mode=0o755)
    write_file(os.path.join(base, "cni", "10-e2e-pod.conflist"), CNI_CONF)
NS_K8S = "k8s.io"


def compile_client(out_dir):
    try:
        import grpc  # noqa: F401
        from grpc_tools import protoc
    except ImportError as e:
        raise Fail(f"{e} under {sys.executable}: the CRI client needs grpcio-tools "
                   "(make e2e installs it into .build/e2e-venv)")
    proto_dir = os.path.join(HERE, "cri")
    rc = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
                      os.path.join(proto_dir, "api.proto")])
    if rc != 0:
        raise Fail(f"grpc_tools.protoc failed on {proto_dir}/api.proto (exit {rc})")
    sys.path.insert(0, out_dir)
    import api_pb2
    import api_pb2_grpc
    return api_pb2, api_pb2_grpc


def handler_from_runtimeclass():
    m = re.search(r"^handler:\s*(\S+)", doc_snippet("runtimeclass"), re.M)
    if not m:
        raise Fail("docs/integration.md's RuntimeClass has no handler")
    return m.group(1)


class Cri:
    def __init__(self, ctx, cd):
        import grpc
        self.grpc = grpc
        self.pb, pb_grpc = compile_client(make_dir(cd.base, "gen"))
        self.channel = grpc.insecure_channel("unix://" + cd.sock)
        self.rt = pb_grpc.RuntimeServiceStub(self.channel)
        self.img = pb_grpc.ImageServiceStub(self.channel)

    def call(self, stub, method, request, timeout=60):
        try:
            return getattr(stub, method)(request, timeout=timeout)
        except self.grpc.RpcError as e:
            raise Fail(f"{method}: {e.code().name}: {e.details()}")


class Pod:
    """One pod's walk through the kubelet's calls, a check per step."""

    def __init__(self, cri, cd, suite, runtime, handler, runtime_root):
        self.cri, self.cd, self.s, self.pb = cri, cd, suite, cri.pb
        self.runtime, self.handler, self.runtime_root = runtime, handler, runtime_root
        self.hostname = f"pod-{runtime}"
        self.sandbox_id = None
        self.ids = {}
        pb = self.pb
        ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
        self.ns = ns
        self.sandbox_config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"e2e-{runtime}", uid=f"uid-e2e-{runtime}", namespace="default"),
            hostname=self.hostname,
            log_directory=make_dir(cd.base, "pods", runtime),
            labels={"e2e": runtime},
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))

    def rpc(self, method, request, timeout=60):
        return self.cri.call(self.cri.rt, method, request, timeout)

    def run_sandbox(self):
        res = self.rpc("RunPodSandbox", self.pb.RunPodSandboxRequest(config=self.sandbox_config,
                                                                     runtime_handler=self.handler), timeout=120)
        self.sandbox_id = res.pod_sandbox_id
        st = self.rpc("PodSandboxStatus", self.pb.PodSandboxStatusRequest(pod_sandbox_id=self.sandbox_id)).status
        ensure(st.state == self.pb.SANDBOX_READY, f"sandbox state {self.pb.PodSandboxState.Name(st.state)}")
        ensure(st.runtime_handler == self.handler, f"sandbox runs with handler {st.runtime_handler!r}")

    def create(self, name, script):
        pb = self.pb
        config = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name),
            image=pb.ImageSpec(image=IMAGE),
            command=["sh", "-c", script],
            log_path=f"{name}.log",
            linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(namespace_options=self.ns)))
        res = self.rpc("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=self.sandbox_id, config=config,
                                                                    sandbox_config=self.sandbox_config))
        self.ids[name] = res.container_id

    def start(self, name):
        self.rpc("StartContainer", self.pb.StartContainerRequest(container_id=self.ids[name]))
        wait_for(lambda: self.status(name).state == self.pb.CONTAINER_RUNNING, 20, f"{name} RUNNING")
        # The runtime under test itself knows the container (shim Root + namespace).
        expect(run([self.runtime_binary(), "--root", os.path.join(self.runtime_root, NS_K8S), "state",
                    self.ids[name]]), out='"running"')

    def runtime_binary(self):
        return self.cd_runtimes[self.runtime]

    def status(self, name):
        return self.rpc("ContainerStatus", self.pb.ContainerStatusRequest(container_id=self.ids[name])).status

    def exec(self, name, script, timeout=20):
        res = self.rpc("ExecSync", self.pb.ExecSyncRequest(container_id=self.ids[name], cmd=["sh", "-c", script],
                                                           timeout=timeout), timeout=timeout + 10)
        return res.exit_code, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")

    def exec_ok(self, name, script):
        code, out, err = self.exec(name, script)
        ensure(code == 0, f"ExecSync in {name}: {script!r} exited {code}; stdout {out.strip()!r}, "
               f"stderr {err.strip()[-300:]!r}")
        return out.strip()

    # --- checks ---

    def check_exec_sync(self):
        code, out, _ = self.exec("web", "echo exec-sync; exit 4")
        ensure(out.strip() == "exec-sync" and code == 4, f"ExecSync gave exit {code}, stdout {out.strip()!r}")

    def check_uts(self):
        names = {n: self.exec_ok(n, "hostname") for n in self.ids}
        ensure(set(names.values()) == {self.hostname}, f"hostnames {names}, expected the pod's {self.hostname!r}")

    def check_net(self):
        nets = {n: self.exec_ok(n, "readlink /proc/self/ns/net") for n in self.ids}
        ensure(len(set(nets.values())) == 1, f"containers are in different network namespaces: {nets}")
        host = os.readlink("/proc/self/ns/net")
        ensure(host not in nets.values(), "the pod runs in the host's network namespace")
        # lo is up and shared: the second container reaches the first one's server on 127.0.0.1.
        out = self.exec_ok("client", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080")
        ensure(out.endswith("served-by-web"), f"HTTP GET from client to web over lo got {out[-200:]!r}")

    def check_ipc(self):
        nss = {n: self.exec_ok(n, "readlink /proc/self/ns/ipc") for n in self.ids}
        ensure(len(set(nss.values())) == 1, f"containers are in different IPC namespaces: {nss}")
        # An IPC object made in one container is seen in the other: a POSIX
        # message queue (busybox has no ipcmk for a SysV one), created by
        # making a file in the IPC namespace's mqueue filesystem.
        self.exec_ok("web", "touch /dev/mqueue/e2e-queue")
        listing = self.exec_ok("client", "ls /dev/mqueue")
        ensure("e2e-queue" in listing.split(), f"the queue made in web is not in client's /dev/mqueue: {listing!r}")

    def check_status(self):
        st = self.status("web")
        ensure(st.state == self.pb.CONTAINER_RUNNING and st.started_at > 0,
               f"web: state {self.pb.ContainerState.Name(st.state)}, started_at {st.started_at}")

    def check_stop_container(self):
        start = time.monotonic()
        self.rpc("StopContainer", self.pb.StopContainerRequest(container_id=self.ids["client"], timeout=20))
        took = time.monotonic() - start
        st = self.status("client")
        ensure(st.state == self.pb.CONTAINER_EXITED and st.exit_code == 0,
               f"after StopContainer: {self.pb.ContainerState.Name(st.state)}, exit code {st.exit_code}, "
               f"reason {st.reason!r}")
        ensure(took < 10, f"StopContainer took {took:.1f}s: SIGTERM did not reach the trap")

    def check_stop_sandbox(self):
        self.rpc("StopPodSandbox", self.pb.StopPodSandboxRequest(pod_sandbox_id=self.sandbox_id), timeout=120)
        st = self.rpc("PodSandboxStatus", self.pb.PodSandboxStatusRequest(pod_sandbox_id=self.sandbox_id)).status
        ensure(st.state == self.pb.SANDBOX_NOTREADY, f"after StopPodSandbox: {self.pb.PodSandboxState.Name(st.state)}")
        web = self.status("web")
        ensure(web.state == self.pb.CONTAINER_EXITED, f"web after StopPodSandbox: {self.pb.ContainerState.Name(web.state)}")

    def check_remove_sandbox(self):
        self.rpc("RemovePodSandbox", self.pb.RemovePodSandboxRequest(pod_sandbox_id=self.sandbox_id), timeout=120)
        try:
            self.cri.rt.PodSandboxStatus(self.pb.PodSandboxStatusRequest(pod_sandbox_id=self.sandbox_id), timeout=30)
        except self.cri.grpc.RpcError as e:
            ensure(e.code() == self.cri.grpc.StatusCode.NOT_FOUND, f"PodSandboxStatus after remove: {e.code().name}")
            self.sandbox_id = None
            return
        raise Fail("PodSandboxStatus still finds the sandbox after RemovePodSandbox")

    def walk(self):
        s = self.s
        s.check("RunPodSandbox", self.run_sandbox)
        try:
            web = ("mkdir -p /tmp/www && echo served-by-web > /tmp/www/index.html && "
                   "exec httpd -f -p 127.0.0.1:8080 -h /tmp/www")
            client = "trap 'exit 0' TERM; sleep 1000 & wait"
            s.check("CreateContainer x2", lambda: (self.create("web", web), self.create("client", client)),
                    needs="RunPodSandbox")
            s.check("StartContainer x2", lambda: (self.start("web"), self.start("client")),
                    needs="CreateContainer x2")
            up = "StartContainer x2"
            s.check("ExecSync (output, exit code)", self.check_exec_sync, needs=up)
            s.check("shared UTS: the pod's hostname", self.check_uts, needs=up)
            s.check("shared network: one netns, lo up, reached over 127.0.0.1", self.check_net, needs=up)
            s.check("shared IPC: one namespace, a message queue", self.check_ipc, needs=up)
            s.check("ContainerStatus", self.check_status, needs=up)
            s.check("StopContainer (SIGTERM honoured)", self.check_stop_container, needs=up)
            s.check("StopPodSandbox", self.check_stop_sandbox, needs="RunPodSandbox")
            s.check("RemovePodSandbox", self.check_remove_sandbox, needs="RunPodSandbox")
        finally:
            if self.sandbox_id:  # a failed walk still leaves nothing running
                for method, req in (("StopPodSandbox", self.pb.StopPodSandboxRequest),
                                    ("RemovePodSandbox", self.pb.RemovePodSandboxRequest)):
                    try:
                        self.rpc(method, req(pod_sandbox_id=self.sandbox_id), timeout=60)
                    except Fail:
                        pass


def run_caller(ctx, runtimes):
    suites = [Suite("cri", rt) for rt in runtimes]
    cd = None
    try:
        cd = Containerd(ctx, "cri", cri=True)
        cni_setup(cd.base)
        cri = Cri(ctx, cd)
        imported = cd.ctr(NS_K8S, "images", "import", ctx.image_archive, timeout=180)
        expect(imported)
        # The CRI plugin learns of images imported behind its back through events.
        img = wait_for(lambda: cri.call(cri.img, "ImageStatus", cri.pb.ImageStatusRequest(
            image=cri.pb.ImageSpec(image=IMAGE))).image.id, 20, f"CRI to see {IMAGE}")
        handlers = {"runc": "runc", "skiff": handler_from_runtimeclass()}
        roots = {"runc": os.path.join(cd.base, "runc-root"), "skiff": os.path.join(cd.base, "skiff-root")}
    except Fail as e:
        for s in suites:
            s.record("setup: containerd CRI", False, str(e))
        if cd:
            cd.stop()
        return suites
    try:
        for s in suites:
            pod = Pod(cri, cd, s, s.runtime, handlers.get(s.runtime, s.runtime), roots.get(s.runtime, ""))
            pod.cd_runtimes = ctx.runtimes
            pod.walk()
    finally:
        cri.channel.close()
        cd.stop()
    return suites
