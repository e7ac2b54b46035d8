#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// linux.seccomp → a BPF program, through libseccomp, in the runtime before anything is
/// cloned. Every error names the JSON path. The rules are runc's (libcontainer/seccomp):
///
/// - a syscall name libseccomp does not know is skipped: profiles list syscalls newer than the
///   library or the kernel;
/// - a rule whose action equals the default action is skipped (libseccomp refuses it);
/// - the conditions of a rule are ANDed, unless two compare the same argument: then each is a
///   rule of its own (ORed), as Docker profiles expect;
/// - syscalls newer than every syscall the profile names get ENOSYS instead of the default
///   action (see `enosysPrologue`), so a libc probing for clone3 or openat2 falls back.
enum SeccompCompiler {
    static let actions: [String: UInt32] = [
        "SCMP_ACT_KILL": SCMP_ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": SCMP_ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": SCMP_ACT_KILL_PROCESS, "SCMP_ACT_TRAP": SCMP_ACT_TRAP,
        "SCMP_ACT_ERRNO": 0x0005_0000, "SCMP_ACT_TRACE": 0x7ff0_0000,
        "SCMP_ACT_ALLOW": SCMP_ACT_ALLOW, "SCMP_ACT_LOG": SCMP_ACT_LOG, "SCMP_ACT_NOTIFY": SCMP_ACT_NOTIFY,
    ]
    static let operators: [String: scmp_compare] = [
        "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE,
        "SCMP_CMP_EQ": SCMP_CMP_EQ, "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT,
        "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
    ]
    /// linux.seccomp.flags this runtime implements, as SECCOMP_FILTER_FLAG_* bits. TSYNC is
    /// accepted and passed on, though init is single-threaded when it loads the filter.
    static let flags: [String: UInt32] = [
        "SECCOMP_FILTER_FLAG_TSYNC": UInt32(SECCOMP_FILTER_FLAG_TSYNC),
        "SECCOMP_FILTER_FLAG_LOG": UInt32(SECCOMP_FILTER_FLAG_LOG),
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW": UInt32(SECCOMP_FILTER_FLAG_SPEC_ALLOW),
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": UInt32(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
    ]
    static let enosys: UInt32 = 0x0005_0000 | UInt32(ENOSYS)

    static func compile(_ seccomp: LinuxSeccomp, path base: String = "linux.seccomp") throws(SkiffError) -> SeccompProgram {
        func fail(_ path: String, _ message: String) -> SkiffError {
            SkiffError(.invalidArgument, "\(path): \(message)")
        }
        let defaultAction = try action(seccomp.defaultAction, errnoRet: seccomp.defaultErrnoRet,
                                       path: base + ".defaultAction", errnoPath: base + ".defaultErrnoRet")
        if defaultAction == SCMP_ACT_NOTIFY {
            throw fail(base + ".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
        }
        guard let context = seccomp_init(defaultAction) else {
            throw fail(base + ".defaultAction", "libseccomp refused \"\(seccomp.defaultAction)\"")
        }
        defer { seccomp_release(context) }

        var architectures = [seccomp_arch_native()]
        for (i, name) in (seccomp.architectures ?? []).enumerated() {
            let path = base + ".architectures[\(i)]"
            guard name.hasPrefix("SCMP_ARCH_") else { throw fail(path, "unknown seccomp architecture \"\(name)\"") }
            let token = seccomp_arch_resolve_name(String(name.dropFirst("SCMP_ARCH_".count)).lowercased())
            if token == 0 { throw fail(path, "unknown seccomp architecture \"\(name)\"") }
            let result = seccomp_arch_add(context, token)
            if result < 0, result != -EEXIST {
                throw fail(path, "add architecture \"\(name)\": \(LinuxError.text(-result))")
            }
            if !architectures.contains(token) { architectures.append(token) }
        }

        let rules = seccomp.syscalls ?? []
        if rules.count > 32 {
            // A binary search over syscall numbers instead of a linear scan (runc does the
            // same past 32 rules; libseccomp 2.5 misbehaves with it on an empty filter).
            _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        }

        var notifies = false
        var names: [String] = []
        for (i, rule) in rules.enumerated() {
            let path = base + ".syscalls[\(i)]"
            let ruleAction = try action(rule.action, errnoRet: rule.errnoRet, path: path + ".action", errnoPath: path + ".errnoRet")
            var conditions: [scmp_arg_cmp] = []
            for (j, arg) in (rule.args ?? []).enumerated() {
                let argPath = path + ".args[\(j)]"
                guard let op = operators[arg.op] else { throw fail(argPath + ".op", "unknown seccomp operator \"\(arg.op)\"") }
                guard arg.index < 6 else { throw fail(argPath + ".index", "must be less than 6") }
                conditions.append(scmp_arg_cmp(arg: UInt32(arg.index), op: op, datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
            }
            names += rule.names
            if ruleAction == defaultAction { continue }
            if ruleAction == SCMP_ACT_NOTIFY {
                notifies = true
                // Init sends the listener fd to the runtime with sendmsg right after loading:
                // a notified sendmsg would wait for an agent that has no fd yet.
                if rule.names.contains("sendmsg") {
                    throw fail(path + ".names", "SCMP_ACT_NOTIFY cannot be used for sendmsg: init hands the listener fd to the runtime with it")
                }
            }
            // Conditions on the same argument are alternatives: one rule each.
            let indices = conditions.map(\.arg)
            let groups = Set(indices).count == indices.count ? [conditions] : conditions.map { [$0] }
            for name in rule.names {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR { continue }
                for group in groups {
                    let result = group.withUnsafeBufferPointer {
                        seccomp_rule_add_array(context, ruleAction, number, UInt32($0.count), $0.baseAddress)
                    }
                    if result < 0 {
                        throw fail(path, "add rule for \"\(name)\": \(LinuxError.text(-result))")
                    }
                }
            }
        }

        var flags: UInt32 = notifies ? UInt32(SECCOMP_FILTER_FLAG_NEW_LISTENER) : 0
        for (i, name) in (seccomp.flags ?? []).enumerated() {
            let path = base + ".flags[\(i)]"
            guard var bit = Self.flags[name] else { throw fail(path, "unknown seccomp flag \"\(name)\"") }
            if bit == UInt32(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) {
                // Only means something with a listener, and the kernel refuses it without one.
                guard notifies else { continue }
                bit |= UInt32(SECCOMP_FILTER_FLAG_NEW_LISTENER)
            }
            if !Seccomp.flagsSupported(bit) {
                throw fail(path, "\(name) is not supported by this kernel")
            }
            flags |= bit
        }
        if flags & UInt32(SECCOMP_FILTER_FLAG_TSYNC) != 0, notifies {
            // TSYNC and NEW_LISTENER both use the return value; TSYNC_ESRCH frees it (5.7).
            flags |= UInt32(SECCOMP_FILTER_FLAG_TSYNC_ESRCH)
        }

        var instructions = try export(context)
        let stub = enosysPrologue(defaultAction: defaultAction, defaultErrnoRet: seccomp.defaultErrnoRet,
                                  architectures: architectures, names: names)
        instructions = stub + instructions
        if instructions.count > SeccompProgram.maxInstructions {
            throw fail(base, "the filter needs \(instructions.count) BPF instructions, more than the kernel's \(SeccompProgram.maxInstructions)")
        }
        return SeccompProgram(instructions: instructions, flags: flags,
                              listenerPath: notifies ? seccomp.listenerPath : nil,
                              listenerMetadata: notifies ? seccomp.listenerMetadata : nil)
    }

    /// The SCMP_ACT_* value of an action name, with its errno for ERRNO and TRACE (EPERM when
    /// absent, as runc).
    static func action(_ name: String, errnoRet: UInt?, path: String, errnoPath: String) throws(SkiffError) -> UInt32 {
        guard let value = actions[name] else {
            throw SkiffError(.invalidArgument, "\(path): unknown seccomp action \"\(name)\"")
        }
        guard name == "SCMP_ACT_ERRNO" || name == "SCMP_ACT_TRACE" else {
            if errnoRet != nil {
                throw SkiffError(.invalidArgument, "\(errnoPath): only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
            }
            return value
        }
        let code = errnoRet ?? UInt(EPERM)
        guard code <= 0xffff else { throw SkiffError(.invalidArgument, "\(errnoPath): \(code) does not fit in 16 bits") }
        return value | UInt32(code)
    }

    /// The filter as libseccomp generates it, read back from a memfd.
    private static func export(_ context: scmp_filter_ctx) throws(SkiffError) -> [SeccompProgram.Instruction] {
        let memfd: OwnedFD
        do {
            memfd = try SealedMemfd.create(name: "skiff-seccomp-export", executable: false)
        } catch {
            throw SkiffError(.system, error)
        }
        let result = seccomp_export_bpf(context, memfd.raw)
        if result < 0 { throw SkiffError(.system, LinuxError("seccomp_export_bpf", errno: -result)) }
        let bytes: [UInt8]
        do {
            bytes = try memfd.preadAll(operation: "read exported seccomp filter")
        } catch {
            throw SkiffError(.system, error)
        }
        guard !bytes.isEmpty, bytes.count % 8 == 0 else {
            throw SkiffError(.system, "seccomp_export_bpf: \(bytes.count) bytes is not a whole program")
        }
        return stride(from: 0, to: bytes.count, by: 8).map { base in
            bytes[base..<base + 8].withUnsafeBytes {
                SeccompProgram.Instruction(code: $0.loadUnaligned(as: UInt16.self), jt: $0[2], jf: $0[3],
                                           k: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            }
        }
    }

    // MARK: - The ENOSYS prologue

    // Classic BPF opcodes (linux/bpf_common.h).
    static let loadWord: UInt16 = 0x20      // BPF_LD | BPF_W | BPF_ABS
    static let jumpEqual: UInt16 = 0x15     // BPF_JMP | BPF_JEQ | BPF_K
    static let jumpGreater: UInt16 = 0x25   // BPF_JMP | BPF_JGT | BPF_K
    static let jumpSet: UInt16 = 0x45       // BPF_JMP | BPF_JSET | BPF_K
    static let jumpAlways: UInt16 = 0x05    // BPF_JMP | BPF_JA
    static let returnConstant: UInt16 = 0x06 // BPF_RET | BPF_K
    /// The x32 ABI marks its syscall numbers with this bit on AUDIT_ARCH_X86_64.
    static let x32Bit: UInt32 = 0x4000_0000

    /// Instructions run before libseccomp's program: per architecture in the filter, a syscall
    /// number above the highest one the profile names returns ENOSYS. Without it, a syscall
    /// added to the kernel after the profile was written gets the default action (EPERM), and
    /// a libc that probes clone3 or openat2 takes EPERM as final instead of falling back. This
    /// is runc's patched filter (libcontainer/seccomp/patchbpf), simplified: syscall tables
    /// only grow at the end, so "above the last known" is "newer than the profile".
    ///
    /// Nothing is added when the default action already allows (ALLOW, LOG, TRACE) or is
    /// ENOSYS. Jumps go to the first instruction after the prologue, where libseccomp's
    /// program starts by loading the architecture itself.
    static func enosysPrologue(defaultAction: UInt32, defaultErrnoRet: UInt?, architectures: [UInt32],
                               names: [String]) -> [SeccompProgram.Instruction] {
        let allowing = [SCMP_ACT_ALLOW, SCMP_ACT_LOG]
        if allowing.contains(defaultAction) || defaultAction & 0xffff_0000 == 0x7ff0_0000 || defaultAction == enosys {
            return []
        }
        // AUDIT_ARCH value → (highest syscall, highest x32 syscall).
        var sections: [(arch: UInt32, last: UInt32?, lastX32: UInt32?)] = []
        for token in architectures {
            let audit = token == SKIFF_SCMP_ARCH_X32 ? SKIFF_SCMP_ARCH_X86_64 : token
            let numbers = names.map { seccomp_syscall_resolve_name_arch(token, $0) }.filter { $0 >= 0 }
            guard let last = numbers.max().map(UInt32.init) else { continue }
            let index = sections.firstIndex { $0.arch == audit } ?? {
                sections.append((audit, nil, nil))
                return sections.count - 1
            }()
            if token == SKIFF_SCMP_ARCH_X32 {
                sections[index].lastX32 = max(sections[index].lastX32 ?? 0, last)
            } else {
                sections[index].last = max(sections[index].last ?? 0, last)
            }
        }
        if sections.isEmpty { return [] }

        // Built back to front so every jump offset is known when its instruction is made.
        typealias Insn = SeccompProgram.Instruction
        var tail: [Insn] = [Insn(code: returnConstant, jt: 0, jf: 0, k: enosys)]
        // Offsets from the instruction after the current one: to the ENOSYS return is
        // `tail.count - 1`, to the filter `tail.count`, once the instruction is prepended.
        func toEnosys() -> UInt8 { UInt8(tail.count - 1) }
        func toFilter() -> UInt8 { UInt8(tail.count) }
        // Fall-through into the ENOSYS return must not happen: jump over it to the filter.
        tail.insert(Insn(code: jumpAlways, jt: 0, jf: 0, k: 1), at: 0)
        for section in sections.reversed() {
            var body: [Insn] = []
            // Built back to front as well; `tail` grows as instructions are prepended.
            func prepend(_ insn: Insn) { body.insert(insn, at: 0); tail.insert(insn, at: 0) }
            if let lastX32 = section.lastX32 {
                prepend(Insn(code: jumpGreater, jt: toEnosys(), jf: toFilter(), k: lastX32))
            }
            if let last = section.last {
                prepend(Insn(code: jumpGreater, jt: toEnosys(), jf: toFilter(), k: last))
            }
            if section.arch == SKIFF_SCMP_ARCH_X86_64 {
                // An x32 number goes to the x32 check (right after the native one), or, when
                // the filter has no x32, straight to libseccomp's program, which refuses it.
                let x32Jump: UInt8 = section.lastX32 == nil ? toFilter() : (section.last == nil ? 0 : 1)
                let nativeJump: UInt8 = section.last == nil ? toFilter() : 0
                prepend(Insn(code: jumpSet, jt: x32Jump, jf: nativeJump, k: x32Bit))
            }
            prepend(Insn(code: loadWord, jt: 0, jf: 0, k: 0))  // seccomp_data.nr
            // Not this architecture: skip the section, to the next architecture's check.
            let skip = UInt8(body.count)
            tail.insert(Insn(code: jumpEqual, jt: 0, jf: skip, k: section.arch), at: 0)
        }
        // An architecture with no section falls through to the last check's `jf`, which lands
        // on the jump over the ENOSYS return.
        tail.insert(Insn(code: loadWord, jt: 0, jf: 0, k: 4), at: 0)  // seccomp_data.arch
        return tail
    }
}
