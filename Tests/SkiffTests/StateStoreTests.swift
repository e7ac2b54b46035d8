import Foundation
import Testing

@testable import Skiff
import SkiffOCI

@Suite struct StateStoreTests {
    let temp: TemporaryDirectory
    let store: StateStore

    init() throws {
        temp = try TemporaryDirectory("skiff-state")
        // A root that does not exist yet: the first create makes it.
        store = StateStore(root: temp.file("run/skiff"))
    }

    static func record(_ id: String) -> ContainerRecord {
        ContainerRecord(
            ociVersion: "1.2.1", id: id, pid: 4242, pidStartTime: 123_456_789, bundle: "/bundles/\(id)",
            rootfs: "/bundles/\(id)/rootfs", created: "2026-01-02T03:04:05.123456789Z", owner: "0",
            annotations: ["org.example/key": "value \"quoted\""],
            cgroupPaths: ["/sys/fs/cgroup/cpu/skiff/\(id)", "/sys/fs/cgroup/unified/skiff/\(id)"],
            cgroupsPath: "/skiff/\(id)", cgroupRelative: false,
            namespaces: ["pid", "mnt"], process: SkiffOCI.Process(args: ["sh"]))
    }

    @Test func reserveCreatesTheRootAndTheContainerDirectory() throws {
        _ = try store.reserve("web")
        var st = stat()
        #expect(stat(temp.file("run/skiff/web"), &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFDIR)
        #expect(stat(temp.file("run/skiff"), &st) == 0)
        #expect(st.st_mode & 0o777 == 0o711 & ~currentUmask())
    }

    @Test func reservingATakenIDFails() throws {
        _ = try store.reserve("web")
        let error = thrown(SkiffError.self) { _ = try store.reserve("web") }
        #expect(error?.kind == .exists)
        #expect(error?.description == "container with id exists: web")
    }

    @Test func saveAndLoadRoundTrip() throws {
        _ = try store.reserve("web")
        let record = Self.record("web")
        try store.save(record)
        #expect(try store.load("web") == record)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory("web")) == ["state.json"])
        // Saved again after a change, the new state replaces the old.
        var changed = record
        changed.pid = 7
        try store.save(changed)
        #expect(try store.load("web") == changed)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory("web")) == ["state.json"])
    }

    /// Commands other than exec load a record without config.json's process; a record loaded
    /// so must never stand in for a full one (the last decoded record is reused while the file
    /// is unchanged).
    @Test func loadWithoutTheProcess() throws {
        _ = try store.reserve("web")
        let record = Self.record("web")
        try store.save(record)
        #expect(try store.load("web", includingProcess: false) == record, "what this process saved serves the next load whole")
        // Bytes this process did not write are decoded, without the process when asked so.
        let saved = try String(contentsOfFile: store.statePath("web"), encoding: .utf8)
        try (saved + "\n").write(toFile: store.statePath("web"), atomically: true, encoding: .utf8)
        var withoutProcess = record
        withoutProcess.process = nil
        #expect(try store.load("web", includingProcess: false) == withoutProcess)
        #expect(try store.load("web") == record, "a full load after one without the process")
        #expect(try store.load("web", includingProcess: false) == record, "a full record serves either")
        // A process that does not decode fails only the loads that include it.
        let text = try String(contentsOfFile: store.statePath("web"), encoding: .utf8)
            .replacingOccurrences(of: #""args":["sh"]"#, with: #""args":"sh""#)
        try text.write(toFile: store.statePath("web"), atomically: true, encoding: .utf8)
        #expect(try store.load("web", includingProcess: false).pid == 4242)
        #expect(throws: SkiffError.self) { try store.load("web") }
    }

    /// state.json is JSON a person (or a script) can read.
    @Test func stateFileIsPlainJSON() throws {
        _ = try store.reserve("web")
        try store.save(Self.record("web"))
        let data = try Data(contentsOf: URL(fileURLWithPath: store.statePath("web")))
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["id"] as? String == "web")
        #expect(object["pid"] as? Int == 4242)
        #expect(object["bundle"] as? String == "/bundles/web")
    }

    @Test func loadOfAMissingContainer() {
        let error = thrown(SkiffError.self) { _ = try store.load("nope") }
        #expect(error?.kind == .notFound)
        #expect(error?.description == "container does not exist: nope")
    }

    @Test func loadOfADamagedStateFile() throws {
        _ = try store.reserve("web")
        try Data("{\"id\":".utf8).write(to: URL(fileURLWithPath: store.statePath("web")))
        let error = thrown(SkiffError.self) { _ = try store.load("web") }
        #expect(error?.kind == .system)
        #expect(error?.description.hasPrefix("read state \"\(store.statePath("web"))\": ") == true)
    }

    @Test func idsListsContainersSorted() throws {
        #expect(store.ids() == [])  // no root yet
        for id in ["web", "db", "cache-1"] { _ = try store.reserve(id) }
        // Entries that cannot be container ids are not listed.
        try FileManager.default.createDirectory(atPath: temp.file("run/skiff/not an id"), withIntermediateDirectories: false)
        #expect(store.ids() == ["cache-1", "db", "web"])
    }

    @Test func removeDeletesTheContainer() throws {
        _ = try store.reserve("web")
        try store.save(Self.record("web"))
        #expect(mkfifo(store.fifoPath("web"), 0o622) == 0)
        try store.remove("web")
        #expect(!FileManager.default.fileExists(atPath: store.directory("web")))
        #expect(store.ids() == [])
        // The id is free again.
        _ = try store.reserve("web")
    }

    @Test func lockOfAMissingContainer() {
        let error = thrown(SkiffError.self) { _ = try store.lock("nope") }
        #expect(error?.kind == .notFound)
        #expect(error?.description == "container does not exist: nope")
    }

    @Test func lockValidatesTheID() {
        let error = thrown(SkiffError.self) { _ = try store.lock("../etc") }
        #expect(error?.kind == .invalidArgument)
    }

    /// Commands on one container are serialized: a second lock waits for the first.
    @Test func lockIsExclusive() throws {
        let held = try store.reserve("web")
        let fd = open(store.directory("web"), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == -1)
        withExtendedLifetime(held) {}
        _ = held
    }
}

/// This process's umask, read without changing it (umask(2) would race other tests).
func currentUmask() -> mode_t {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") } ?? "Umask:\t0022"
    return mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0o022
}
