#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// The runtime-spec hooks: prestart and createRuntime run in the runtime's namespaces during
/// create, once the namespaces exist and before pivot_root; createContainer right after them in
/// the container's init (its namespaces, before pivot_root); startContainer in the init after
/// `start` opened exec.fifo, before the process's execve; poststart after start and poststop
/// after delete, in the runtime. Init spawns its hooks with posix_spawn like the runtime does.
package enum HookRunner {
    /// The kinds skiff runs, for `features`.
    package static let supported = [
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
    ]

    /// Runs `hooks` in order, each with the state as JSON on stdin. A failure names the hook
    /// kind, its index and path, and its output. With `failureIsWarning` (poststart and
    /// poststop, as the spec says) it is logged and the rest still run; otherwise it stops the
    /// rest and is thrown. The state is only worked out when there is a hook to run.
    package static func run(_ hooks: [Hook]?, kind: String, state: @autoclosure () -> State, logger: SkiffLogger,
                    failureIsWarning: Bool = false) throws {
        guard let hooks, !hooks.isEmpty else { return }
        let stdin = Array(try state().jsonData(indent: nil))
        for (index, hook) in hooks.enumerated() {
            logger.debug("run hook \(kind)[\(index)] \(hook.path)")
            do {
                try runOne(hook, stdin: stdin)
            } catch {
                let message = "hooks.\(kind)[\(index)] \(hook.path): \(error)"
                guard failureIsWarning else { throw SkiffError(.system, message) }
                logger.warning(message)
            }
        }
    }

    /// One hook: `path` with `args` (args[0] is its argv[0]) and only `env`, stdin a pipe
    /// holding the state, stdout and stderr into an anonymous file (no pipe to fill while we
    /// wait), killed after `timeout` seconds.
    private static func runOne(_ hook: Hook, stdin: [UInt8]) throws {
        let input = try Sockets.pipe()
        // The state is small; a hook that never reads it must not block us: write what the
        // pipe takes, then close.
        try input.write.setNonBlocking(true)
        _ = try? input.write.writeOnce(stdin)
        input.write.close()
        let output = try SealedMemfd.create(name: "skiff-hook-output", executable: false)
        let arguments = (hook.args?.isEmpty == false) ? hook.args! : [hook.path]
        let pid = try Processes.spawn(
            path: hook.path, arguments: arguments, environment: hook.env ?? [],
            fds: [.init(source: input.read.raw, target: 0), .init(source: output.raw, target: 1),
                  .init(source: output.raw, target: 2)],
            closeFrom: 3).pid
        input.read.close()
        let pidfd = try Processes.pidfd(pid)
        let timeout = hook.timeout.map { Int32(clamping: $0 * 1000) } ?? -1
        if try !Processes.waitExit(pidfd, timeoutMilliseconds: timeout) {
            try? Processes.signal(pidfd, SIGKILL)
            _ = try? Processes.wait(pid)
            throw SkiffError(.system, "timed out after \(hook.timeout ?? 0)s")
        }
        let exit = try Processes.wait(pid)
        guard exit == .exited(0) else {
            let text = String(decoding: (try? output.preadAll(limit: 4096)) ?? [], as: UTF8.self)
            let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
            throw SkiffError(.system, "exit status \(exit.shellCode)" + (lastLine.isEmpty ? "" : ": \(lastLine)"))
        }
    }
}
