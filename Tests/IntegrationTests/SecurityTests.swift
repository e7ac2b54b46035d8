import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The security fields of config.json as a process inside sees them: its capability sets and
/// no_new_privs in /proc/self/status, the errno a denied syscall returns, a seccomp agent
/// answering a notified syscall; and the configs skiff must refuse before creating anything.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct SecurityTests {
    /// `skiff run` of a bundle whose process runs `script`.
    func run(_ sandbox: Sandbox, _ name: String, _ script: String, timeout: Double = 20,
             configure: (inout Spec) throws -> Void = { _ in }) throws -> (Outcome, String) {
        let id = sandbox.id(name)
        let bundle = try sandbox.bundle("bundle-\(id)", args: sh(script), configure: configure)
        return (sandbox.skiff(["run", "--bundle", bundle, id], timeout: timeout), id)
    }

    /// The capability masks of /proc/self/status, as a dictionary.
    static func capabilityLines(_ output: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("Cap") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }
        return result
    }

    /// The mask the kernel prints for these capability numbers.
    static func mask(_ caps: [Int]) -> String {
        String(format: "%016llx", caps.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) })
    }

    // MARK: - Capabilities

    @Test func capabilitiesInsideMatchTheConfig() throws {
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "caps", "grep ^Cap /proc/self/status") { spec in
                let names = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"]
                spec.process?.capabilities = LinuxCapabilities(bounding: names, effective: names, permitted: names)
            }
            #expect(outcome.succeeded, "\(outcome)")
            #expect(Self.capabilityLines(outcome.stdout) == [
                "CapInh": Self.mask([]), "CapPrm": Self.mask([0, 5, 10, 18]), "CapEff": Self.mask([0, 5, 10, 18]),
                "CapBnd": Self.mask([0, 5, 10, 18]), "CapAmb": Self.mask([]),
            ])
        }
    }

    /// KEEPCAPS across setresuid: a non-root process still gets the sets, and the ambient
    /// set (with inheritable and permitted) is what survives its execve.
    @Test func capabilitiesSurviveTheSwitchToANonRootUser() throws {
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "capsuser", "id -u; grep ^Cap /proc/self/status") { spec in
                spec.process?.user = User(uid: 1000, gid: 1000)
                spec.process?.capabilities = LinuxCapabilities(
                    bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"], effective: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
                    inheritable: ["CAP_NET_BIND_SERVICE"], permitted: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
                    ambient: ["CAP_NET_BIND_SERVICE"])
            }
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines.first == "1000")
            // execve as uid 1000 of a binary without file capabilities: P' = E' = ambient.
            #expect(Self.capabilityLines(outcome.stdout) == [
                "CapInh": Self.mask([10]), "CapPrm": Self.mask([10]), "CapEff": Self.mask([10]),
                "CapBnd": Self.mask([0, 5, 10]), "CapAmb": Self.mask([10]),
            ])
        }
    }

    @Test func noCapabilitiesObjectDropsEverything() throws {
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "nocaps", "grep ^Cap /proc/self/status") { spec in
                spec.process?.capabilities = nil
            }
            #expect(outcome.succeeded, "\(outcome)")
            let zero = Self.mask([])
            #expect(Self.capabilityLines(outcome.stdout) == ["CapInh": zero, "CapPrm": zero, "CapEff": zero, "CapBnd": zero, "CapAmb": zero])
        }
    }

    @Test func anUnknownCapabilityIsRefusedBeforeAnythingIsCreated() throws {
        try Sandbox.with { sandbox in
            let (outcome, id) = try run(sandbox, "captest", "true") { spec in
                spec.process?.capabilities?.bounding?.append("CAP_TEST")
            }
            expectRejected(outcome, mentioning: [#"process.capabilities.bounding: unknown capability "CAP_TEST""#],
                           in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])
        }
    }

    /// This host's root may lack a capability in its bounding set (CAP_SYS_RESOURCE here):
    /// asking for it leaves it out, as runc does, instead of failing capset.
    @Test func aCapabilityTheHostLacksIsLeftOut() throws {
        let bounding = UInt64(Self.capabilityLines(readFile("/proc/self/status") ?? "")["CapBnd"] ?? "", radix: 16) ?? 0
        guard bounding & (1 << 24) == 0 else { return }  // CAP_SYS_RESOURCE is there: nothing to leave out
        try Sandbox.with { sandbox in
            let names = ["CAP_KILL", "CAP_SYS_RESOURCE"]
            let (outcome, _) = try run(sandbox, "capmissing", "grep ^CapBnd /proc/self/status") { spec in
                spec.process?.capabilities = LinuxCapabilities(bounding: names, effective: names, permitted: names)
            }
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "CapBnd:\t\(Self.mask([5]))\n")
            #expect(outcome.stderr.contains("CAP_SYS_RESOURCE"), "a warning names what was left out: \(outcome)")
        }
    }

    @Test(arguments: [true, false])
    func noNewPrivilegesIsWhatTheConfigSays(_ on: Bool) throws {
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "nnp", "grep NoNewPrivs /proc/self/status") { spec in
                spec.process?.noNewPrivileges = on
            }
            #expect(outcome.stdout == "NoNewPrivs:\t\(on ? 1 : 0)\n", "\(outcome)")
        }
    }

    // MARK: - seccomp

    @Test(arguments: [true, false])
    func aDeniedSyscallReturnsTheConfiguredErrno(noNewPrivileges: Bool) throws {
        try Sandbox.with { sandbox in
            let script = "grep ^Seccomp: /proc/self/status; mkdir /tmp/denied || echo mkdir failed; touch /tmp/allowed && echo touch works"
            let (outcome, _) = try run(sandbox, "errno", script) { spec in
                spec.process?.noNewPrivileges = noNewPrivileges
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                    LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: UInt(EACCES)),
                ])
            }
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["Seccomp:\t2", "mkdir failed", "touch works"])
            #expect(outcome.stderr == "mkdir: can't create directory '/tmp/denied': Permission denied\n")
        }
    }

    /// Init makes no call after loading the filter but execve: a profile that denies what
    /// init itself uses (getcwd for the cwd check, openat for exec.fifo) still starts.
    @Test func aProfileDenyingGetcwdAndOpenatStillStarts() throws {
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "strict", "echo started; cat /etc/hostname") { spec in
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                    LinuxSyscall(names: ["getcwd", "openat", "open", "chdir"], action: "SCMP_ACT_ERRNO"),
                ])
            }
            #expect(outcome.stdout == "started\n", "\(outcome)")
            #expect(outcome.stderr == "cat: can't open '/etc/hostname': Operation not permitted\n")
            #expect(outcome.status == 1)
        }
    }

    /// runc's patched filter: a syscall the profile predates gets ENOSYS (libc falls back),
    /// one it knows about but does not allow gets the default errno.
    @Test func syscallsNewerThanTheProfileGetENOSYS() throws {
        // Every x86_64 syscall below utimensat (280) but mkdir and mkdirat.
        let header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
        guard let text = readFile(header) else { return }
        var names: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[0] == "#define", fields[1].hasPrefix("__NR_"), let number = Int(fields[2]),
                  number < 280 else { continue }
            let name = String(fields[1].dropFirst(5))
            if name != "mkdir", name != "mkdirat" { names.append(name) }
        }
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "enosys", "mkdir /tmp/a; touch /tmp/b; echo done") { spec in
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO",
                                                   syscalls: [LinuxSyscall(names: names, action: "SCMP_ACT_ALLOW")])
            }
            #expect(outcome.stdout == "done\n", "\(outcome)")
            #expect(outcome.stderrLines == [
                "mkdir: can't create directory '/tmp/a': Operation not permitted",
                "touch: /tmp/b: Function not implemented",
            ])
        }
    }

    @Test func killProcessKillsWithSIGSYS() throws {
        try Sandbox.with { sandbox in
            let (outcome, _) = try run(sandbox, "kill", "(mkdir /tmp/x); echo status=$?") { spec in
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                    LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL_PROCESS"),
                ])
            }
            #expect(outcome.stdout == "status=\(128 + SIGSYS)\n", "\(outcome)")
        }
    }

    @Test func theFilterAppliesToExecToo() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("seccompexec")
            let bundle = try sandbox.bundle("bundle-\(id)", args: ["sleep", "1000"]) { spec in
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                    LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: UInt(EROFS)),
                ])
            }
            let started = sandbox.skiff("run", "--detach", "--bundle", bundle, id)
            try #require(started.succeeded, "\(started)")
            let outcome = sandbox.skiff(["exec", id] + sh("grep ^Seccomp: /proc/self/status; mkdir /tmp/x"))
            #expect(outcome.stdout == "Seccomp:\t2\n", "\(outcome)")
            #expect(outcome.stderr == "mkdir: can't create directory '/tmp/x': Read-only file system\n")
        }
    }

    @Test func anUnknownActionIsRefusedWithItsPath() throws {
        try Sandbox.with { sandbox in
            let (outcome, id) = try run(sandbox, "badaction", "true") { spec in
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                    LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_ERRNO"),
                    LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_BOGUS"),
                ])
            }
            expectRejected(outcome, mentioning: [#"linux.seccomp.syscalls[1].action: unknown seccomp action "SCMP_ACT_BOGUS""#],
                           in: sandbox, id: id)
        }
    }

    @Test func anUnreachableAgentIsAClearError() throws {
        try Sandbox.with { sandbox in
            let path = sandbox.path("no-agent.sock")
            let (outcome, id) = try run(sandbox, "noagent", "true") { spec in
                spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", listenerPath: path, syscalls: [
                    LinuxSyscall(names: ["getppid"], action: "SCMP_ACT_NOTIFY"),
                ])
            }
            expectRejected(outcome, mentioning: ["linux.seccomp.listenerPath", path, "no such file or directory"],
                           in: sandbox, id: id)
        }
    }

    /// The agent gets the listener fd and the container's state on listenerPath, and its
    /// answer is what the process's syscall returns: getppid() = 4242.
    @Test(arguments: [true, false])
    func aSeccompAgentAnswersANotifiedSyscall(noNewPrivileges: Bool) throws {
        try Sandbox.with { sandbox in
            let agent = try SeccompAgent(path: sandbox.path("agent.sock"), answer: 4242)
            let (outcome, id) = try run(sandbox, "notify", "echo ppid=$PPID") { spec in
                spec.process?.noNewPrivileges = noNewPrivileges
                spec.annotations = ["org.example.key": "value"]
                spec.linux?.seccomp = LinuxSeccomp(
                    defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                    listenerPath: agent.path, listenerMetadata: "agent-metadata",
                    syscalls: [LinuxSyscall(names: ["getppid"], action: "SCMP_ACT_NOTIFY")])
            }
            #expect(outcome.stdout == "ppid=4242\n", "\(outcome)")
            let received = agent.finish()
            #expect(received.answered >= 1)
            let state = try #require(received.state, "no state reached the agent")
            #expect(state["fds"] as? [String] == ["seccompFd"])
            #expect(state["metadata"] as? String == "agent-metadata")
            #expect((state["pid"] as? Int ?? 0) > 0)
            let inner = try #require(state["state"] as? [String: Any])
            #expect(inner["id"] as? String == id)
            #expect(inner["status"] as? String == "creating")
            #expect(inner["pid"] as? Int == state["pid"] as? Int)
            #expect(inner["annotations"] as? [String: String] == ["org.example.key": "value"])
            #expect(received.fdCount == 1)
        }
    }

    // MARK: - LSMs

    @Test func anApparmorProfileWithoutApparmorIsRefused() throws {
        guard !FileManager.default.fileExists(atPath: "/sys/kernel/security/apparmor") else { return }
        try Sandbox.with { sandbox in
            let (outcome, id) = try run(sandbox, "apparmor", "true") { spec in
                spec.process?.apparmorProfile = "docker-default"
            }
            expectRejected(outcome, mentioning: ["process.apparmorProfile", "docker-default", "AppArmor is not enabled"],
                           in: sandbox, id: id)
        }
    }

    /// Applied or refused, never skipped: without SELinux a label is an error naming the
    /// field, as runc refuses it ("selinux label is specified in config, but selinux is
    /// disabled or not supported").
    @Test(arguments: ["process.selinuxLabel", "linux.mountLabel"])
    func selinuxLabelsAreRefusedWithoutSELinux(field: String) throws {
        guard !FileManager.default.fileExists(atPath: "/sys/fs/selinux/enforce") else { return }
        try Sandbox.with { sandbox in
            let (outcome, id) = try run(sandbox, "selinux", "echo ran") { spec in
                if field == "process.selinuxLabel" {
                    spec.process?.selinuxLabel = "system_u:system_r:container_t:s0:c1,c2"
                } else {
                    spec.linux?.mountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
                }
            }
            expectRejected(outcome, mentioning: [field, "SELinux is not enabled"], in: sandbox, id: id)
            let bundle = sandbox.path("selinux")
            if let runc = sandbox.runc(["run", "--bundle", bundle, id + "-runc"]), field == "process.selinuxLabel" {
                #expect(!runc.succeeded, "runc refuses it too: \(runc)")
            }
        }
    }

    // MARK: - features

    @Test func featuresReportWhatIsImplemented() throws {
        let outcome = execute(Paths.binary, ["features"])
        #expect(outcome.succeeded, "\(outcome)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let linux = try #require(json["linux"] as? [String: Any])
        let seccomp = try #require(linux["seccomp"] as? [String: Any])
        #expect(seccomp["enabled"] as? Bool == true)
        #expect(Set(seccomp["actions"] as? [String] ?? []) == [
            "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
        ])
        #expect((seccomp["operators"] as? [String])?.count == 7)
        #expect((seccomp["archs"] as? [String])?.contains("SCMP_ARCH_X86_64") == true)
        #expect(Set(seccomp["supportedFlags"] as? [String] ?? []).isSubset(of: Set(seccomp["knownFlags"] as? [String] ?? [])))
        let lastCap = Int((readFile("/proc/sys/kernel/cap_last_cap") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect((linux["capabilities"] as? [String])?.count == lastCap + 1)
        #expect((linux["apparmor"] as? [String: Bool])?["enabled"] == true)
        // Both are supported by skiff (applied where the host enables them), as runc reports.
        #expect((linux["selinux"] as? [String: Bool])?["enabled"] == true)
        #expect(json["hooks"] as? [String] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])
        let memoryPolicy = linux["memoryPolicy"] as? [String: [String]]
        #expect(memoryPolicy?["modes"]?.contains("MPOL_BIND") == true && memoryPolicy?["flags"]?.count == 3, "\(linux)")
        // Applied, so listed: tmpcopyup, idmapped mounts, netDevices.
        #expect(Set(json["mountOptions"] as? [String] ?? []).isSuperset(of: ["tmpcopyup", "idmap", "ridmap"]), "\(json)")
        #expect((linux["mountExtensions"] as? [String: [String: Bool]])?["idmap"]?["enabled"] == true, "\(linux)")
        #expect((linux["netDevices"] as? [String: Bool])?["enabled"] == true, "\(linux)")
    }
}

/// A seccomp agent: accepts one connection on `path`, takes the container state and the
/// listener fd, and answers every notification with `answer`, until the filter's processes
/// are gone.
final class SeccompAgent: @unchecked Sendable {
    struct Received {
        var state: [String: Any]?
        var fdCount = 0
        var answered = 0
    }

    let path: String
    private let listener: Int32
    private let thread: Thread
    private let done = DispatchSemaphore(value: 0)
    private var received = Received()

    // linux/seccomp.h: _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp).
    static let notifRecv: UInt = 0xc050_2100
    static let notifSend: UInt = 0xc018_2101

    init(path: String, answer: Int64) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        let reason = String(cString: strerror(errno))
        try #require(bound == 0 && listen(fd, 1) == 0, "bind \(path): \(reason)")
        let box = Box()
        self.path = path
        listener = fd
        thread = Thread { box.agent?.serve(answer: answer) }
        box.agent = self
        thread.start()
    }

    private final class Box: @unchecked Sendable { weak var agent: SeccompAgent? }

    /// Waits for the agent to see the filter go away (or 10 s), and returns what it got.
    func finish() -> Received {
        _ = done.wait(timeout: .now() + 10)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        return received
    }

    private func serve(answer: Int64) {
        defer { done.signal() }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        guard let fd = receiveStateAndFD(connection) else { return }
        defer { close(fd) }
        while true {
            var request = [UInt8](repeating: 0, count: 80)
            let got = request.withUnsafeMutableBytes { ioctl(fd, Self.notifRecv, $0.baseAddress!) }
            if got != 0 { return }  // ENOENT: no process left under the filter
            let id = request.withUnsafeBytes { $0.load(as: UInt64.self) }
            var response = [UInt8](repeating: 0, count: 24)
            response.withUnsafeMutableBytes {
                $0.storeBytes(of: id, as: UInt64.self)
                $0.storeBytes(of: answer, toByteOffset: 8, as: Int64.self)
            }
            if response.withUnsafeMutableBytes({ ioctl(fd, Self.notifSend, $0.baseAddress!) }) == 0 {
                received.answered += 1
            }
        }
    }

    private func receiveStateAndFD(_ connection: Int32) -> Int32? {
        var body = [UInt8](repeating: 0, count: 65536)
        var control = [UInt8](repeating: 0, count: 64)
        let count = body.withUnsafeMutableBytes { bodyBuffer in
            control.withUnsafeMutableBytes { controlBuffer -> Int in
                var iov = iovec(iov_base: bodyBuffer.baseAddress, iov_len: bodyBuffer.count)
                return withUnsafeMutablePointer(to: &iov) { iovPointer in
                    var message = msghdr()
                    message.msg_iov = iovPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBuffer.baseAddress
                    message.msg_controllen = controlBuffer.count
                    let got = recvmsg(connection, &message, Int32(MSG_CMSG_CLOEXEC))
                    guard got >= 0 else { return -1 }
                    // struct cmsghdr: size_t len, int level, int type, then the fds.
                    var offset = 0
                    while offset + 16 <= message.msg_controllen {
                        let length = controlBuffer.load(fromByteOffset: offset, as: Int.self)
                        let level = controlBuffer.load(fromByteOffset: offset + 8, as: Int32.self)
                        let type = controlBuffer.load(fromByteOffset: offset + 12, as: Int32.self)
                        if level == SOL_SOCKET, type == 1 /* SCM_RIGHTS */ {
                            received.fdCount = (length - 16) / 4
                        }
                        offset += (length + 7) & ~7
                    }
                    return got
                }
            }
        }
        guard count > 0, received.fdCount == 1 else { return nil }
        received.state = (try? JSONSerialization.jsonObject(with: Data(body[0..<count]))) as? [String: Any]
        return control.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
    }
}
