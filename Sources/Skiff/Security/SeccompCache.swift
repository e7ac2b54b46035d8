#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// Compiled filters kept under the state root (`<root>/@seccomp`, a name no container id can
/// take), so `create` pays libseccomp once per profile rather than once per container: a
/// podman-like profile for three architectures takes libseccomp 10–15 ms to build and export,
/// reading it back takes about 0.1 ms (crun keeps such a cache too).
///
/// An entry is found by a hash of its key but used only when the whole key stored in it is
/// byte-for-byte the key asked for: the profile's JSON text, the libseccomp version, the kernel
/// release (flag and action support are probed at compile time) and the identity of the skiff
/// binary that compiled it. A crafted hash collision therefore gains nothing. Keyed by text,
/// a hit spares `create` decoding the profile too (~1.5 M instructions for a podman-like one).
struct SeccompCache {
    static let directoryName = "@seccomp"
    static let maxEntries = 64
    let directory: String

    init(stateRoot: String) {
        directory = stateRoot + "/" + Self.directoryName
    }

    /// The filter for `seccomp`: from the cache, else compiled and stored. `text` is the
    /// profile's JSON text as config.json gave it (`JSONDocument.text(of:)`), the key `create`
    /// looks up before it decodes the profile.
    func program(for seccomp: LinuxSeccomp, text: [UInt8], logger: SkiffLogger? = nil) throws(SkiffError) -> SeccompProgram {
        guard let key = Self.key(forText: text) else { return try SeccompCompiler.compile(seccomp) }
        let path = directory + "/" + Self.fileName(for: key)
        if let program = Self.read(path, key: key) {
            logger?.debug("seccomp filter from the cache")
            return program
        }
        let program = try SeccompCompiler.compile(seccomp)
        store(program, key: key, path: path)
        return program
    }

    /// The filter stored for a profile of this JSON text, if there is one. Equal texts decode
    /// to equal profiles, which this binary (part of the key) validated and compiled alike, so
    /// `create` need not decode a profile whose filter is here.
    func cachedProgram(forText text: [UInt8]) -> SeccompProgram? {
        guard let key = Self.key(forText: text) else { return nil }
        return Self.read(directory + "/" + Self.fileName(for: key), key: key)
    }

    private static func read(_ path: String, key: [UInt8]) -> SeccompProgram? {
        guard let bytes = try? Files.read(path, limit: 4 << 20) else { return nil }
        return decode(bytes, key: key)
    }

    /// Best effort: a cache that cannot be written only costs the next create a compile.
    private func store(_ program: SeccompProgram, key: [UInt8], path: String) {
        guard (try? Files.mkdirAll(directory, mode: 0o700)) != nil else { return }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt32(key.count)) { bytes += $0 }
        bytes += key + program.encoded()
        try? Files.writeAtomically(path, bytes, mode: 0o600)
        evict()
    }

    /// Keeps the newest three quarters of the entries once there are more than `maxEntries`.
    private func evict() {
        guard let names = try? Files.listDirectory(directory), names.count > Self.maxEntries else { return }
        var entries: [(name: String, time: Int)] = []
        for name in names {
            if let st = try? Files.status(directory + "/" + name) { entries.append((name, st.st_mtim.tv_sec)) }
        }
        for entry in entries.sorted(by: { $0.time < $1.time }).prefix(entries.count - Self.maxEntries * 3 / 4) {
            try? Files.unlink(directory + "/" + entry.name)
        }
    }

    static func decode(_ bytes: [UInt8], key: [UInt8]) -> SeccompProgram? {
        guard bytes.count >= 4 else { return nil }
        let length = Int(bytes[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        guard bytes.count - 4 >= length, Array(bytes[4..<4 + length]) == key else { return nil }
        return try? SeccompProgram(decoding: Array(bytes[(4 + length)...]))
    }

    /// Everything the compiled program depends on, or nil when it cannot be told (no cache):
    /// the profile's JSON text, libseccomp's version, the kernel release (flag and action
    /// support are probed when compiling) and this binary's identity (its checks of a profile).
    static func key(forText text: [UInt8]) -> [UInt8]? {
        guard let version = seccomp_version() else { return nil }
        var system = utsname()
        uname(&system)
        let release = withUnsafeBytes(of: system.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let exe = try? Files.status("/proc/self/exe") else { return nil }
        let header = "skiff-seccomp-cache 2\nlibseccomp \(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)\n"
            + "kernel \(release)\nbinary \(exe.st_dev):\(exe.st_ino):\(exe.st_size):\(exe.st_mtim.tv_sec).\(exe.st_mtim.tv_nsec)\n"
        return Array(header.utf8) + text
    }

    /// FNV-1a, 64 bits: only to name the file, never trusted.
    static func fileName(for key: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + ".bpf"
    }
}
