import CNsexec
import Testing

@testable import SkiffInitProtocol

/// The Swift encoder against the C parser that stage 0 runs on the same bytes: what the
/// runtime sends must come back field for field, and damaged or hostile input must be refused
/// with a message, never read out of bounds.
@Suite struct BootstrapMessageTests {
    static let newUser: UInt32 = 0x1000_0000
    static let newPid: UInt32 = 0x2000_0000
    static let newNet: UInt32 = 0x4000_0000
    static let newNs: UInt32 = 0x0002_0000
    static let newTime: UInt32 = 0x80

    static var full: BootstrapMessage {
        var m = BootstrapMessage()
        m.cloneFlags = newUser | newPid | newNs | newTime
        m.namespacePaths = [
            .init(type: "net", path: "/var/run/netns/blue"),
            .init(type: "ipc", path: "/proc/42/ns/ipc"),
        ]
        m.uidMap = "0 100000 65536\n"
        m.gidMap = "0 100000 1000\n1000 200000 10\n"
        m.setgroupsDeny = true
        m.newuidmapPath = "/usr/bin/newuidmap"
        m.newgidmapPath = "/usr/bin/newgidmap"
        m.oomScoreAdj = -999
        m.timeOffsets = "monotonic 10 0\nboottime 20 5\n"
        m.isExec = false
        m.cgroupTasks = ["/sys/fs/cgroup/cpu/skiff/c1/tasks", "/sys/fs/cgroup/name=systemd/skiff/c1/tasks"]
        m.mountSources = ["/srv/data", "/home/alice/bundle/./relative made absolute"]
        return m
    }

    static var exec: BootstrapMessage {
        var m = BootstrapMessage()
        m.namespacePaths = ["user", "mnt", "net", "ipc", "uts", "pid", "cgroup", "time"].map {
            .init(type: $0, path: "/proc/1234/ns/\($0)")
        }
        m.isExec = true
        return m
    }

    @Test func fullMessageRoundTrips() throws {
        #expect(try parse(Self.full.encoded()).get() == Self.full)
    }

    @Test func execMessageRoundTrips() throws {
        #expect(try parse(Self.exec.encoded()).get() == Self.exec)
    }

    @Test func minimalMessageRoundTrips() throws {
        let m = BootstrapMessage()
        #expect(m.encoded().count == 16 + 12 + 12 + 12)
        #expect(try parse(m.encoded()).get() == m)
    }

    @Test func parsedNamespaceTypesCarryTheirSetnsFlag() {
        let bytes = Self.exec.encoded()
        let flags = bytes.withUnsafeBufferPointer { buf -> [Int32] in
            var out = skiff_bootstrap()
            guard skiff_bootstrap_parse(buf.baseAddress, buf.count, &out, nil) == 0 else { return [] }
            return withUnsafeBytes(of: out.ns_paths) { raw in
                raw.bindMemory(to: skiff_ns_path.self).prefix(Int(out.ns_path_count)).map(\.nstype)
            }
        }
        #expect(flags == [0x1000_0000, 0x0002_0000, 0x4000_0000, 0x0800_0000, 0x0400_0000,
                          0x2000_0000, 0x0200_0000, 0x80])
    }

    /// The documented layout, byte for byte (docs/nsexec.md), on a little-endian machine.
    @Test(.enabled(if: 1.littleEndian == 1)) func encodingMatchesTheDocumentedLayout() {
        var m = BootstrapMessage()
        m.cloneFlags = Self.newPid
        m.oomScoreAdj = 5
        let expected: [UInt8] = [
            0x53, 0x53, 0x4b, 0x46, 1, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0,  // "SSKF", v1, 64 bytes
            1, 0, 0, 0, 4, 0, 0, 0, 0x00, 0x00, 0x00, 0x20,                // clone flags
            5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                            // setgroups deny = 0
            8, 0, 0, 0, 2, 0, 0, 0, 0x35, 0, 0, 0,                         // oom "5\0" + padding
            10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                           // is exec = 0
        ]
        #expect(m.encoded() == expected)
    }

    @Test func everyAttributeIsPaddedToFourBytes() {
        for message in [Self.full, Self.exec, BootstrapMessage()] {
            let bytes = message.encoded()
            #expect(bytes.count % 4 == 0)
            #expect(u32(bytes, at: 8) == UInt32(bytes.count))
        }
    }

    // MARK: - Header

    @Test func badMagicIsRefused() {
        var bytes = Self.full.encoded()
        bytes[0] ^= 0xff
        #expect(parseError(bytes)?.hasPrefix("bad magic") == true)
    }

    @Test func badVersionIsRefused() {
        var bytes = Self.full.encoded()
        put32(2, into: &bytes, at: 4)
        #expect(parseError(bytes) == "unsupported version 2")
    }

    @Test func nonZeroReservedHeaderIsRefused() {
        var bytes = Self.full.encoded()
        put32(1, into: &bytes, at: 12)
        #expect(parseError(bytes) == "reserved header field is 1")
    }

    @Test func shorterThanTheHeaderIsRefused() {
        let bytes = Array(Self.full.encoded().prefix(15))
        #expect(parseError(bytes) == "message of 15 bytes is shorter than its header")
        #expect(parseError([]) != nil)
    }

    @Test func totalLengthLargerThanTheBufferIsRefused() {
        var bytes = Self.full.encoded()
        put32(UInt32(bytes.count + 4), into: &bytes, at: 8)
        #expect(parseError(bytes)?.contains("does not match") == true)
    }

    @Test func totalLengthSmallerThanTheBufferIsRefused() {
        var bytes = Self.full.encoded()
        put32(UInt32(bytes.count - 4), into: &bytes, at: 8)
        #expect(parseError(bytes)?.contains("does not match") == true)
    }

    @Test func totalLengthAboveTheMaximumIsRefused() {
        var bytes = Self.full.encoded()
        put32(UInt32(SKIFF_BOOTSTRAP_MAX) + 1, into: &bytes, at: 8)
        #expect(parseError(bytes)?.contains("exceeds") == true)
    }

    /// Every cut of a valid message, with the header claiming the cut length, either ends on
    /// an attribute boundary (a shorter valid message) or is refused.
    @Test func everyTruncationIsRefusedOrWhole() {
        let whole = Self.full.encoded()
        var boundaries: Set<Int> = [16]
        var offset = 16
        while offset < whole.count {
            offset += 8 + (Int(u32(whole, at: offset + 4)) + 3) / 4 * 4
            boundaries.insert(offset)
        }
        for length in 16..<whole.count where !boundaries.contains(length) {
            var bytes = Array(whole.prefix(length))
            put32(UInt32(length), into: &bytes, at: 8)
            #expect(parseError(bytes) != nil, "cut at \(length)")
        }
    }

    // MARK: - Attribute lengths

    @Test func attributeLengthBeyondTheEndIsRefused() {
        var bytes = Self.full.encoded()
        let last = lastAttributeOffset(bytes)
        let remaining = bytes.count - last - 8
        put32(UInt32(remaining + 1), into: &bytes, at: last + 4)
        #expect(parseError(bytes)?.contains("exceeds message") == true)
    }

    @Test func attributeLengthsNearUInt32MaxAreRefused() {
        for length: UInt32 in [.max, .max - 1, .max - 2, .max - 3, 0x8000_0000, 0x7fff_ffff] {
            var bytes = Self.full.encoded()
            put32(length, into: &bytes, at: 16 + 4)
            #expect(parseError(bytes) == "attribute 1 length \(length) exceeds message")
        }
    }

    @Test func paddingBeyondTheEndIsRefused() {
        // A 1-byte payload needs 3 bytes of padding; give the message only the payload.
        var bytes = BootstrapMessage().encoded()
        bytes.removeLast(3)
        put32(UInt32(bytes.count), into: &bytes, at: 8)
        #expect(parseError(bytes) == "attribute 10 padding exceeds message")
    }

    @Test func nonZeroPaddingIsRefused() {
        var bytes = BootstrapMessage().encoded()
        bytes[bytes.count - 1] = 1
        #expect(parseError(bytes) == "attribute 10 padding not zero")
    }

    @Test func trailingBytesShorterThanAnAttributeHeaderAreRefused() {
        var bytes = BootstrapMessage().encoded() + [0, 0, 0, 0]
        put32(UInt32(bytes.count), into: &bytes, at: 8)
        #expect(parseError(bytes)?.contains("trailing bytes") == true)
    }

    @Test func fixedSizeAttributesMustHaveTheirSize() {
        var flags = header() + attribute(1, [0, 0])
        fixLength(&flags)
        #expect(parseError(flags) == "attribute 1 length 2, want 4")
        var flag = header() + attribute(1, [0, 0, 0, 0]) + attribute(5, [1, 0])
        fixLength(&flag)
        #expect(parseError(flag) == "attribute 5 length 2, want 1")
        var two = header() + attribute(1, [0, 0, 0, 0]) + attribute(10, [2])
        fixLength(&two)
        #expect(parseError(two) == "attribute 10 value 2, want 0 or 1")
    }

    @Test func repeatedAttributesAreRefused() {
        var bytes = header() + attribute(1, [0, 0, 0, 0]) + attribute(1, [0, 0, 0, 0])
        fixLength(&bytes)
        #expect(parseError(bytes) == "attribute 1 repeated")
        var maps = header() + attribute(1, le32(Self.newUser)) + attribute(3, cString("0 0 1"))
            + attribute(3, cString("0 0 1"))
        fixLength(&maps)
        #expect(parseError(maps) == "attribute 3 repeated")
    }

    @Test func unknownAttributeTypeIsRefused() {
        var bytes = header() + attribute(1, [0, 0, 0, 0]) + attribute(99, [1, 2, 3, 4])
        fixLength(&bytes)
        #expect(parseError(bytes) == "unknown attribute type 99")
    }

    @Test func missingCloneFlagsAreRefused() {
        var bytes = header() + attribute(10, [1])
        fixLength(&bytes)
        #expect(parseError(bytes) == "clone flags missing")
    }

    // MARK: - Strings

    @Test func stringWithoutNulIsRefused() {
        var bytes = header() + attribute(1, [0, 0, 0, 0]) + attribute(8, Array("12".utf8))
        fixLength(&bytes)
        #expect(parseError(bytes) == "attribute 8 is not NUL-terminated")
    }

    @Test func stringWithAnInnerNulIsRefused() {
        var bytes = header() + attribute(1, [0, 0, 0, 0])
            + attribute(2, Array("net:/a".utf8) + [0] + Array("b".utf8) + [0])
        fixLength(&bytes)
        #expect(parseError(bytes) == "attribute 2 has a NUL before its end")
    }

    @Test func emptyStringIsRefused() {
        var bytes = header() + attribute(1, [0, 0, 0, 0]) + attribute(8, [0])
        fixLength(&bytes)
        #expect(parseError(bytes) == "attribute 8 is an empty string")
    }

    @Test func oversizeStringIsRefusedAndTheLimitAccepted() throws {
        let limit = Int(SKIFF_MAX_STRING)
        var atLimit = BootstrapMessage()
        atLimit.namespacePaths = [.init(type: "net", path: "/" + String(repeating: "n", count: limit - 6))]
        #expect(try parse(atLimit.encoded()).get() == atLimit)
        var over = atLimit
        over.namespacePaths[0].path += "n"
        #expect(parseError(over.encoded()) == "attribute 2 length \(limit + 1) exceeds \(limit)")
    }

    @Test func oomScoreAdjMustBeDecimal() {
        var bytes = header() + attribute(1, [0, 0, 0, 0]) + attribute(8, cString("12a"))
        fixLength(&bytes)
        #expect(parseError(bytes) == "oom_score_adj is not a decimal number")
    }

    // MARK: - Namespace paths

    @Test func tooManyNamespacePathsAreRefused() throws {
        var m = BootstrapMessage()
        m.namespacePaths = (0..<Int(SKIFF_BOOTSTRAP_MAX_NS)).map { .init(type: "net", path: "/run/netns/n\($0)") }
        #expect(try parse(m.encoded()).get() == m)
        m.namespacePaths.append(.init(type: "net", path: "/run/netns/one-too-many"))
        #expect(parseError(m.encoded()) == "more than \(SKIFF_BOOTSTRAP_MAX_NS) namespace paths")
    }

    @Test func cgroupsToJoinAreTasksFilesWithinTheLimit() throws {
        var m = BootstrapMessage()
        m.cgroupTasks = (0..<Int(SKIFF_BOOTSTRAP_MAX_CGROUPS)).map { "/sys/fs/cgroup/h\($0)/skiff/c/tasks" }
        #expect(try parse(m.encoded()).get() == m)
        m.cgroupTasks.append("/sys/fs/cgroup/one-too-many/tasks")
        #expect(parseError(m.encoded()) == "more than \(SKIFF_BOOTSTRAP_MAX_CGROUPS) cgroups to join")
        for bad in ["sys/fs/cgroup/cpu/tasks", "/sys/fs/cgroup/cpu/cgroup.procs", "/tasks", "/sys/fs/cgroup/cpu/xtasks"] {
            m.cgroupTasks = [bad]
            #expect(parseError(m.encoded()) == "cgroup to join is not an absolute path to a tasks file", "\(bad)")
        }
    }

    /// Bind sources stage 0 opens after setns into the container's new mount namespace:
    /// absolute (setns moves its cwd), only with CLONE_NEWNS, within the limit.
    @Test func mountSourcesAreAbsoluteWithANewMountNamespaceWithinTheLimit() throws {
        var m = BootstrapMessage()
        m.cloneFlags = Self.newNs
        m.mountSources = (0..<Int(SKIFF_BOOTSTRAP_MAX_MOUNTS)).map { "/srv/source-\($0)" }
        #expect(try parse(m.encoded()).get() == m)
        m.mountSources.append("/srv/one-too-many")
        #expect(parseError(m.encoded()) == "more than \(SKIFF_BOOTSTRAP_MAX_MOUNTS) mount sources")
        m.mountSources = ["relative/dir"]
        #expect(parseError(m.encoded()) == "mount source is not an absolute path")
        m.mountSources = ["/srv/data"]
        m.cloneFlags = Self.newNet
        #expect(parseError(m.encoded()) == "mount sources without a new mount namespace")
    }

    @Test func unknownNamespaceTypeIsRefused() {
        var m = BootstrapMessage()
        m.namespacePaths = [.init(type: "network", path: "/proc/1/ns/net")]
        #expect(parseError(m.encoded()) == "unknown namespace type \"network\"")
        m.namespacePaths = [.init(type: String(repeating: "x", count: 100), path: "/p")]
        #expect(parseError(m.encoded()) == "unknown namespace type \"\(String(repeating: "x", count: 16))\"")
    }

    @Test func namespacePathNeedsTypeAndAbsolutePath() {
        var bytes = header() + attribute(1, [0, 0, 0, 0]) + attribute(2, cString("/proc/1/ns/net"))
        fixLength(&bytes)
        #expect(parseError(bytes) == "namespace path without \"type:\"")
        var m = BootstrapMessage()
        m.namespacePaths = [.init(type: "net", path: "proc/1/ns/net")]
        #expect(parseError(m.encoded()) == "namespace path for net is not absolute")
    }

    // MARK: - Combinations

    @Test func contradictoryCombinationsAreRefused() {
        var m = BootstrapMessage()
        m.cloneFlags = Self.newUser
        #expect(parseError(m.encoded()) == "new user namespace without uid and gid maps")

        m = BootstrapMessage()
        m.uidMap = "0 0 1"
        #expect(parseError(m.encoded()) == "uid or gid map without a new user namespace")

        m = BootstrapMessage()
        m.timeOffsets = "monotonic 1 0"
        #expect(parseError(m.encoded()) == "time offsets without a new time namespace")

        m = BootstrapMessage()
        m.cloneFlags = Self.newNet
        m.namespacePaths = [.init(type: "net", path: "/run/netns/x")]
        #expect(parseError(m.encoded()) == "namespace net both joined and created")

        m = BootstrapMessage()
        m.cloneFlags = 0x100  // CLONE_VM
        #expect(parseError(m.encoded()) == "clone flags 0x100 are not all CLONE_NEW*")

        m = Self.full
        m.newuidmapPath = "newuidmap"
        #expect(parseError(m.encoded()) == "newuidmap path must be absolute and come with a uid map")
    }
}

// MARK: - Helpers

private struct ParseFailure: Error, Equatable {
    let message: String
}

/// Runs the C parser and rebuilds the message from what it found.
private func parse(_ bytes: [UInt8]) -> Result<BootstrapMessage, ParseFailure> {
    bytes.withUnsafeBufferPointer { buf in
        var out = skiff_bootstrap()
        var error: UnsafePointer<CChar>?
        guard skiff_bootstrap_parse(buf.baseAddress, buf.count, &out, &error) == 0 else {
            return .failure(ParseFailure(message: error.map { String(cString: $0) } ?? "(no message)"))
        }
        func string(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
        var m = BootstrapMessage()
        m.cloneFlags = out.clone_flags
        m.namespacePaths = withUnsafeBytes(of: out.ns_paths) { raw in
            raw.bindMemory(to: skiff_ns_path.self).prefix(Int(out.ns_path_count)).map { ns in
                let type = withUnsafeBytes(of: ns.type) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                return .init(type: type, path: String(cString: ns.path))
            }
        }
        m.uidMap = string(out.uid_map)
        m.gidMap = string(out.gid_map)
        m.setgroupsDeny = out.setgroups_deny != 0
        m.newuidmapPath = string(out.newuidmap_path)
        m.newgidmapPath = string(out.newgidmap_path)
        m.oomScoreAdj = string(out.oom_score_adj).flatMap { Int($0) }
        m.timeOffsets = string(out.time_offsets)
        m.isExec = out.is_exec != 0
        m.cgroupTasks = withUnsafeBytes(of: out.cgroup_tasks) { raw in
            raw.bindMemory(to: UnsafePointer<CChar>?.self).prefix(Int(out.cgroup_tasks_count)).map { String(cString: $0!) }
        }
        m.mountSources = withUnsafeBytes(of: out.mount_sources) { raw in
            raw.bindMemory(to: UnsafePointer<CChar>?.self).prefix(Int(out.mount_source_count)).map { String(cString: $0!) }
        }
        // The lengths the stages write with must agree with the strings.
        if out.uid_map_len != (m.uidMap?.utf8.count ?? 0) || out.gid_map_len != (m.gidMap?.utf8.count ?? 0)
            || out.time_offsets_len != (m.timeOffsets?.utf8.count ?? 0)
        {
            return .failure(ParseFailure(message: "length fields disagree with the strings"))
        }
        return .success(m)
    }
}

private func parseError(_ bytes: [UInt8]) -> String? {
    if case .failure(let failure) = parse(bytes) { return failure.message }
    return nil
}

private func le32(_ value: UInt32) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

private func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
}

private func put32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    bytes.replaceSubrange(offset..<offset + 4, with: le32(value))
}

private func cString(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

private func header() -> [UInt8] {
    le32(SKIFF_BOOTSTRAP_MAGIC) + le32(SKIFF_BOOTSTRAP_VERSION) + le32(0) + le32(0)
}

private func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
    withUnsafeBytes(of: type) { Array($0) } + [0, 0] + le32(UInt32(payload.count)) + payload
        + Array(repeating: 0, count: (4 - payload.count % 4) % 4)
}

private func fixLength(_ bytes: inout [UInt8]) {
    put32(UInt32(bytes.count), into: &bytes, at: 8)
}

private func lastAttributeOffset(_ bytes: [UInt8]) -> Int {
    var offset = 16, last = 16
    while offset < bytes.count {
        last = offset
        offset += 8 + (Int(u32(bytes, at: offset + 4)) + 3) / 4 * 4
    }
    return last
}
