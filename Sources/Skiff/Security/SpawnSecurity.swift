#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The runtime's half of a process's security, for `create` and `exec`:
///
/// 1. built before anything exists: capability names checked against the kernel, the LSM
///    request against the host, linux.seccomp compiled, so a bad config leaves nothing behind;
/// 2. at spawn: the sealed binary init is exec'd from, and the fds init gets (the compiled
///    filter as a sealed memfd, `_SKIFF_SECCOMPFD`; the listener channel, `_SKIFF_SECCOMPSOCK`);
/// 3. between the pid report and "ready": the seccomp listener fd passed on to the agent.
final class SpawnSecurity {
    /// The compiled filter of a container, kept for its `exec`s.
    static let programFileName = "seccomp.bpf"

    let capabilities: CapabilitySets
    let seccomp: SeccompProgram?
    let host: HostLSMs
    /// The container's state directory: the filter is saved there, and it is the overlay's
    /// second layer for the sealed binary.
    let stateDirectory: String
    /// The state the seccomp agent gets, without the pid (known at the pid report).
    let state: State
    private let saveProgram: Bool
    private let logger: SkiffLogger
    private var listenerChannel: (runtime: OwnedFD, child: OwnedFD)?
    /// Whether init hands the runtime a seccomp listener before "ready" (forwardSeccompListener).
    var forwardsListener: Bool { seccomp?.hasListener == true }
    private var programFD: OwnedFD?
    private var executable: SealedExecutable?

    private init(capabilities: CapabilitySets, seccomp: SeccompProgram?, host: HostLSMs, stateDirectory: String,
                 state: State, saveProgram: Bool, logger: SkiffLogger) {
        self.capabilities = capabilities
        self.seccomp = seccomp
        self.host = host
        self.stateDirectory = stateDirectory
        self.state = state
        self.saveProgram = saveProgram
        self.logger = logger
    }

    /// `create`: everything config.json asks for, checked and compiled.
    static func forCreate(spec: Spec, seccomp configSeccomp: ConfigSeccomp?, id: String, bundle: String,
                          stateDirectory: String, logger: SkiffLogger) throws(SkiffError) -> SpawnSecurity {
        let process = spec.process ?? Process()
        let host = HostLSMs.detect()
        try LSMLabels.validate(process: process, mountLabel: spec.linux?.mountLabel, host: host)
        let capabilities = try checkedCapabilities(process, base: "process", logger: logger)
        // The state root holds the cache of compiled filters.
        let root = String(stateDirectory[..<(stateDirectory.lastIndex(of: "/") ?? stateDirectory.endIndex)])
        let seccomp: SeccompProgram?
        switch configSeccomp {
        case .cached(let program)?:
            logger.debug("seccomp filter from the cache")
            seccomp = program
        case .profile(let profile, let text)?:
            seccomp = try SeccompCache(stateRoot: root).program(for: profile, text: text, logger: logger)
        case nil:
            seccomp = nil
        }
        let state = State(ociVersion: spec.ociVersion, id: id, status: .creating, bundle: bundle,
                          annotations: spec.annotations)
        return SpawnSecurity(capabilities: capabilities, seccomp: seccomp, host: host, stateDirectory: stateDirectory,
                             state: state, saveProgram: true, logger: logger)
    }

    /// config.json's linux.seccomp as `create` has it: the filter the cache held for the
    /// profile's text (the profile then left undecoded), or the profile to compile and cache.
    enum ConfigSeccomp {
        case cached(SeccompProgram)
        case profile(LinuxSeccomp, text: [UInt8])
    }

    /// `exec`: the process's own capabilities and LSM settings, the container's filter.
    static func forExec(process: Process, state: State, stateDirectory: String,
                        logger: SkiffLogger) throws(SkiffError) -> SpawnSecurity {
        let host = HostLSMs.detect()
        try LSMLabels.validate(process: process, mountLabel: nil, host: host)
        let capabilities = try checkedCapabilities(process, base: "process", logger: logger)
        var seccomp: SeccompProgram?
        let path = stateDirectory + "/" + programFileName
        if Files.exists(path) {
            do {
                seccomp = try SeccompProgram.read(from: try Files.open(path, flags: O_RDONLY))
            } catch let error as SkiffError {
                throw error
            } catch {
                throw SkiffError(.system, error)
            }
        }
        return SpawnSecurity(capabilities: capabilities, seccomp: seccomp, host: host, stateDirectory: stateDirectory,
                             state: state, saveProgram: false, logger: logger)
    }

    private static func checkedCapabilities(_ process: Process, base: String, logger: SkiffLogger) throws(SkiffError) -> CapabilitySets {
        let path = base + ".capabilities"
        let sets = try CapabilitySets(process.capabilities, path: path)
        let available = ProcessCapabilities.bounding()
        let missing = sets.unavailable(available)
        if !missing.isEmpty {
            // runc's rule since 1.1: what the runtime does not have itself is left out.
            logger.warning("\(path): not in the runtime's bounding set, left out: \(missing.joined(separator: ", "))")
        }
        let checked = try sets.checked(available: available, path: path)
        let unraised = checked.ambient.subtracting(checked.raisableAmbient)
        if !unraised.isEmpty {
            logger.debug("\(path).ambient: not raised without being permitted and inheritable: \(unraised.sorted().map(CapabilitySets.name(of:)).joined(separator: ", "))")
        }
        return checked
    }

    // MARK: - At spawn (InitSpawner)

    /// The path init is exec'd from: the runtime binary behind a read-only overlay.
    func initExecutable() throws(SkiffError) -> String {
        if executable == nil {
            executable = try SealedExecutable.make(dummyLayer: stateDirectory)
            logger.debug("init runs from a sealed binary (\(executable!.method.rawValue))")
        }
        return executable!.path
    }

    /// Adds init's security fds after the others, from `next` on.
    func addChildFDs(_ fds: inout [Processes.FDMapping], _ environment: inout [String], _ next: inout Int32) throws(SkiffError) {
        if host.selinux { environment.append("\(InitEnvironment.selinux)=1") }
        guard let seccomp else { return }
        if saveProgram {
            do {
                try Files.writeAtomically(stateDirectory + "/" + Self.programFileName, seccomp.encoded(), mode: 0o600)
            } catch {
                throw SkiffError(.system, "save the seccomp filter", error)
            }
        }
        let program = try seccomp.sealedMemfd()
        programFD = program
        fds.append(Processes.FDMapping(source: program.raw, target: next))
        environment.append("\(InitEnvironment.seccompProgram)=\(next)")
        next += 1
        if seccomp.hasListener {
            let pair: (OwnedFD, OwnedFD)
            do {
                pair = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
            } catch {
                throw SkiffError(.system, error)
            }
            listenerChannel = (pair.0, pair.1)
            fds.append(Processes.FDMapping(source: pair.1.raw, target: next))
            environment.append("\(InitEnvironment.seccompListener)=\(next)")
            next += 1
        }
    }

    /// After the pid report, before "ready": when the filter has a listener, waits for init
    /// to load it and passes the fd with the container's state to the agent.
    func forwardSeccompListener(pid: Int32) throws(SkiffError) {
        guard let channel = listenerChannel, let seccomp, let path = seccomp.listenerPath else { return }
        // Ours closed, init's end is the only one: its exit reads as EOF.
        channel.child.close()
        guard let listener = try SeccompListener.receive(channel.runtime) else { return }
        var state = self.state
        if state.status == .creating { state.pid = pid }
        let processState = ContainerProcessState(
            ociVersion: OCIVersion.current, fds: [ContainerProcessState.seccompFdName], pid: pid,
            metadata: seccomp.listenerMetadata, state: state)
        try SeccompListener.forward(listener, to: path, state: processState, channel: channel.runtime)
        logger.debug("seccomp listener fd sent to \(path)")
    }
}
