#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CNsexec
import CShims
import SkiffLinux
import SkiffOCI

/// The Swift half of a container's init. The C stage (CNsexec) has already put this process in
/// its namespaces as PID 1 of the container; this finishes the container in runc's order and
/// execs the process. It runs single-threaded: no Dispatch, no async.
public enum ContainerInit {
    /// Never returns: execs the container process, or reports the error and exits.
    public static func main() -> Never {
        guard let syncFD = environmentFD(SKIFF_ENV_SYNCPIPE) else {
            writeStderr("skiff init: only the runtime starts init (no \(SKIFF_ENV_SYNCPIPE))\n")
            exit(1)
        }
        let sync = SyncChannel(fd: OwnedFD(syncFD))
        do {
            try run(sync: sync)
        } catch {
            // Before "ready" the runtime is listening and prints this as the create error;
            // after it (waiting for start) only the container's stderr is left.
            if sync.fd.raw < 0 || (try? sync.send(.error("\(error)"))) == nil {
                writeStderr("skiff init: \(error)\n")
            }
            exit(1)
        }
    }

    static func environmentFD(_ name: String) -> Int32? {
        guard let value = getenv(name) else { return nil }
        return Int32(String(cString: value)).flatMap { $0 >= 0 ? $0 : nil }
    }

    static func writeStderr(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    private static func run(sync: SyncChannel) throws -> Never {
        guard case .options(let options)? = try sync.receive() else {
            throw SkiffError(.system, "init: expected options from the runtime")
        }
        let fifoFD = environmentFD(SKIFF_ENV_FIFOFD)
        let spec: Spec
        do {
            spec = try Spec.decode(Data(try Files.read("config.json")))
        } catch {
            throw SkiffError.wrap(error, "init: read config.json")
        }
        guard let process = spec.process else { throw SkiffError(.invalidArgument, "process: missing required field") }
        let namespaces = spec.linux?.namespaces ?? []
        let inUserNamespace = namespaces.contains { $0.type == .user }
        let hasMountNamespace = namespaces.contains { $0.type == .mount }

        if hasMountNamespace {
            let rootfs = RootfsBuilder(spec: spec, options: options, inUserNamespace: inUserNamespace)
            try rootfs.build()
            if namespaces.contains(where: { $0.type == .uts }) { try setNames(spec) }
            try applySysctls(spec)
            try rootfs.finish()
        } else {
            if namespaces.contains(where: { $0.type == .uts }) { try setNames(spec) }
            try applySysctls(spec)
        }
        if !namespaces.contains(where: { $0.type == .uts }), spec.hostname?.isEmpty == false {
            throw SkiffError(.invalidArgument, "hostname: setting the hostname needs a uts namespace")
        }

        let setup = ProcessSetup(process: process, setgroupsAllowed: !setgroupsDenied())
        try setup.applyRlimits()
        if process.noNewPrivileges == true {
            _ = try sysCall("prctl PR_SET_NO_NEW_PRIVS") { skiff_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }
        }
        try setup.switchUser()
        try setup.enterWorkingDirectory()
        let environment = setup.environment()
        let executable = try setup.resolveExecutable(environment: environment)

        try sync.send(.ready)
        sync.fd.close()

        // Blocks until `skiff start` opens the fifo for reading.
        if let fifoFD {
            let fifo = try Files.open("/proc/self/fd/\(fifoFD)", flags: O_WRONLY)
            try fifo.writeAll("0", operation: "write exec.fifo")
            fifo.close()
            _ = Glibc.close(fifoFD)
        }
        // Only stdio and the preserved fds reach the process (runc CVE-2024-21626): the rest
        // are marked close-on-exec so they stay usable if execve fails.
        _ = skiff_close_range(UInt32(3 + options.preserveFds), UInt32.max, UInt32(CLOSE_RANGE_CLOEXEC))
        let argv = (process.args ?? []).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        execve(executable, argv, envp)
        let code = currentErrno()
        writeStderr("skiff: exec \"\(executable)\": \(LinuxError.text(code))\n")
        exit(code == ENOENT ? 127 : 126)
    }

    private static func setNames(_ spec: Spec) throws {
        if let hostname = spec.hostname, !hostname.isEmpty {
            _ = try sysCall("sethostname \"\(hostname)\"") { sethostname(hostname, hostname.utf8.count) }
        }
        if let domainname = spec.domainname, !domainname.isEmpty {
            _ = try sysCall("setdomainname \"\(domainname)\"") { setdomainname(domainname, domainname.utf8.count) }
        }
    }

    /// Each linux.sysctl entry written under /proc/sys through a verified procfs.
    private static func applySysctls(_ spec: Spec) throws {
        for (name, value) in (spec.linux?.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            if name.contains("/") || name.split(separator: ".").contains("..") {
                throw SkiffError(.invalidArgument, "linux.sysctl: invalid name \"\(name)\"")
            }
            let path = "/proc/sys/" + String(name.map { $0 == "." ? "/" : $0 })
            do {
                try Procfs.write(path, value)
            } catch {
                throw SkiffError.wrap(error, "linux.sysctl \"\(name)\"")
            }
        }
    }

    private static func setgroupsDenied() -> Bool {
        (try? Files.readString("/proc/self/setgroups"))?.hasPrefix("deny") == true
    }
}
