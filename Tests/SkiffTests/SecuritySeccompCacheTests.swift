import Foundation
import Testing

@testable import Skiff
@testable import SkiffInitProtocol
import SkiffOCI

/// The compiled-filter cache: a hit returns what was stored for exactly this profile, and
/// nothing stored for another key is ever used.
@Suite struct SecuritySeccompCacheTests {
    let profile = LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [
        LinuxSyscall(names: ["read", "write", "openat"], action: "SCMP_ACT_ALLOW"),
    ])

    /// A profile's JSON text, as config.json would carry it: what the cache is keyed by.
    func text(_ seccomp: LinuxSeccomp) throws -> [UInt8] { try SkiffJSON.encode(seccomp) }

    @Test func aSecondCreateReadsTheCompiledFilter() throws {
        let temp = try TemporaryDirectory("skiff-seccomp-cache")
        let cache = SeccompCache(stateRoot: temp.path)
        let first = try cache.program(for: profile, text: text(profile))
        #expect(first == (try SeccompCompiler.compile(profile)))
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
        #expect(entries.count == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: cache.directory)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)

        // Proof the second call reads the entry: change the stored program, keep the key.
        let path = cache.directory + "/" + entries[0]
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let key = try #require(SeccompCache.key(forText: try text(profile)))
        var altered = first
        altered.flags = 4
        bytes = Array(bytes.prefix(4 + key.count)) + altered.encoded()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try cache.program(for: profile, text: text(profile)) == altered)
    }

    @Test func anEntryForAnotherKeyIsNeverUsed() throws {
        let temp = try TemporaryDirectory("skiff-seccomp-cache")
        let cache = SeccompCache(stateRoot: temp.path)
        let key = try #require(SeccompCache.key(forText: try text(profile)))
        // A file under this profile's name, holding another profile's key and a permissive program.
        var otherKey = key
        otherKey[otherKey.count - 2] ^= 1
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt32(otherKey.count)) { bytes += $0 }
        bytes += otherKey + SeccompProgram(instructions: [.init(code: 6, jt: 0, jf: 0, k: 0x7fff_0000)], flags: 0).encoded()
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: cache.directory + "/" + SeccompCache.fileName(for: key)))
        #expect(try cache.program(for: profile, text: text(profile)) == (try SeccompCompiler.compile(profile)))
    }

    @Test func theKeyCoversTheWholeProfile() throws {
        var other = profile
        other.syscalls?[0].names.append("close")
        other.listenerMetadata = "x"
        #expect(SeccompCache.key(forText: try text(profile)) != SeccompCache.key(forText: try text(other)))
        #expect(SeccompCache.key(forText: try text(profile)) == SeccompCache.key(forText: try text(profile)))
        let key = String(decoding: try #require(SeccompCache.key(forText: try text(profile))), as: UTF8.self)
        #expect(key.contains("libseccomp 2."))
        #expect(key.contains("kernel "))
    }

    @Test("a profile's filter is found by the profile's JSON text, before it is decoded")
    func theTextFindsTheFilter() throws {
        let temp = try TemporaryDirectory("skiff-seccomp-cache")
        let cache = SeccompCache(stateRoot: temp.path)
        let config = #"{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write", "openat"], "action": "SCMP_ACT_ALLOW"}]}}}"#
        let spaced = #"{ "linux" : { "seccomp" : { "defaultAction":"SCMP_ACT_ERRNO","syscalls":[ {"names":["read","write","openat"],"action":"SCMP_ACT_ALLOW"} ] } } }"#
        let text = try #require(try JSONDocument(parsing: Array(config.utf8), name: "config.json").text(of: "linux.seccomp"))
        #expect(try JSONDocument(parsing: Array(spaced.utf8), name: "config.json").text(of: "linux.seccomp") == text)
        #expect(cache.cachedProgram(forText: text) == nil)
        let compiled = try cache.program(for: profile, text: text)
        #expect(cache.cachedProgram(forText: text) == compiled)
        // Another text (another action) is another entry.
        let other = try #require(try JSONDocument(parsing: Array(config.replacingOccurrences(of: "SCMP_ACT_ALLOW", with: "SCMP_ACT_LOG").utf8),
                                                  name: "config.json").text(of: "linux.seccomp"))
        #expect(cache.cachedProgram(forText: other) == nil)
        #expect(try JSONDocument(parsing: Array(#"{"linux": {"seccomp": null}}"#.utf8), name: "config.json").text(of: "linux.seccomp") == nil)
        #expect(try JSONDocument(parsing: Array(#"{"linux": {}}"#.utf8), name: "config.json").text(of: "linux.seccomp") == nil)
    }

    @Test func aDamagedEntryIsRecompiled() throws {
        let temp = try TemporaryDirectory("skiff-seccomp-cache")
        let cache = SeccompCache(stateRoot: temp.path)
        let key = try #require(SeccompCache.key(forText: try text(profile)))
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: cache.directory + "/" + SeccompCache.fileName(for: key)))
        #expect(try cache.program(for: profile, text: text(profile)) == (try SeccompCompiler.compile(profile)))
    }
}
