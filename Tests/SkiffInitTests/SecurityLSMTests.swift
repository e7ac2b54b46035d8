import Foundation
import Testing

@testable import SkiffInit
@testable import SkiffInitProtocol
import SkiffOCI

/// The LSM write path: which attr file gets what, checked against a recording fake, and the
/// real writer refusing anything that is not the root of a procfs.
@Suite struct SecurityLSMTests {
    final class RecordingWriter: ProcAttrWriter {
        var present: Set<String>
        var writes: [String] = []
        init(present: Set<String>) { self.present = present }
        func exists(_ attr: String) -> Bool { present.contains(attr) }
        func write(_ attr: String, _ value: String) throws(SkiffError) { writes.append("\(attr)=\(value)") }
    }

    @Test func apparmorUsesItsOwnDirectoryWhenTheKernelHasIt() throws {
        let writer = RecordingWriter(present: ["apparmor/exec", "exec"])
        try LSMLabels(process: Process(apparmorProfile: "skiff-default"), selinuxEnabled: false).apply(writer)
        #expect(writer.writes == ["apparmor/exec=exec skiff-default"])
    }

    @Test func apparmorFallsBackToTheSharedFile() throws {
        let writer = RecordingWriter(present: ["exec"])
        try LSMLabels(process: Process(apparmorProfile: "skiff-default"), selinuxEnabled: false).apply(writer)
        #expect(writer.writes == ["exec=exec skiff-default"])
    }

    @Test func selinuxLabelIsWrittenOnlyWhenSELinuxIsOn() throws {
        let process = Process(selinuxLabel: "system_u:system_r:container_t:s0:c1,c2")
        let off = RecordingWriter(present: ["exec"])
        try LSMLabels(process: process, selinuxEnabled: false).apply(off)
        #expect(off.writes == [])
        let on = RecordingWriter(present: ["exec"])
        try LSMLabels(process: process, selinuxEnabled: true).apply(on)
        #expect(on.writes == ["exec=system_u:system_r:container_t:s0:c1,c2"])
    }

    @Test func nothingRequestedWritesNothing() throws {
        let writer = RecordingWriter(present: ["apparmor/exec", "exec"])
        try LSMLabels(process: Process(apparmorProfile: "", selinuxLabel: ""), selinuxEnabled: true).apply(writer)
        #expect(writer.writes == [])
    }

    @Test func anApparmorProfileWithoutApparmorIsAnError() {
        let error = #expect(throws: SkiffError.self) {
            try LSMLabels.validate(process: Process(apparmorProfile: "docker-default"), mountLabel: nil,
                                   host: HostLSMs(apparmor: false, selinux: false))
        }
        #expect(error?.message == #"process.apparmorProfile: AppArmor profile "docker-default" requested, but AppArmor is not enabled on this host"#)
        #expect(error?.kind == .invalidArgument)
    }

    @Test func labelsWithoutSELinuxAreErrors() {
        let process = #expect(throws: SkiffError.self) {
            try LSMLabels.validate(process: Process(selinuxLabel: "system_u:system_r:container_t:s0"), mountLabel: nil,
                                   host: HostLSMs(apparmor: false, selinux: false))
        }
        #expect(process?.message == #"process.selinuxLabel: SELinux label "system_u:system_r:container_t:s0" requested, but SELinux is not enabled on this host"#)
        let mount = #expect(throws: SkiffError.self) {
            try LSMLabels.validate(process: Process(), mountLabel: "system_u:object_r:container_file_t:s0",
                                   host: HostLSMs(apparmor: false, selinux: false))
        }
        #expect(mount?.message == #"linux.mountLabel: SELinux label "system_u:object_r:container_file_t:s0" requested, but SELinux is not enabled on this host"#)
    }

    @Test func aMountLabelWithSELinuxOnIsAccepted() throws {
        try LSMLabels.validate(process: Process(), mountLabel: "system_u:object_r:container_file_t:s0:c1,c2",
                               host: HostLSMs(apparmor: false, selinux: true))
    }

    @Test func aMountLabelWithAQuoteIsRefused() {
        let error = #expect(throws: SkiffError.self) {
            try LSMLabels.validate(process: Process(), mountLabel: "a\"b", host: HostLSMs(apparmor: false, selinux: true))
        }
        #expect(error?.message == "linux.mountLabel: \"a\"b\" must not contain a quote")
    }

    /// A directory dressed up as /proc (a fake procfs in the image, a tmpfs mounted over it)
    /// gets no write.
    @Test func theRealWriterRefusesAFakeProcfs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-fakeproc-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/thread-self/attr/apparmor", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/thread-self/attr/exec", contents: nil)
        let writer = ProcfsAttrWriter(root: root)
        let error = #expect(throws: SkiffError.self) { try writer.write("exec", "exec evil") }
        #expect(error?.message == "verify procfs \"\(root)\": invalid cross-device link")
        #expect(!writer.exists("exec"))
        #expect(try String(contentsOfFile: root + "/thread-self/attr/exec", encoding: .utf8) == "")
    }

    @Test func theRealWriterRefusesADirectoryInsideProcfs() {
        // procfs, but not its root: a bind mount of /proc/1 over /proc must not pass.
        let error = #expect(throws: SkiffError.self) { try ProcfsAttrWriter(root: "/proc/1").write("exec", "x") }
        #expect(error?.message == "verify procfs \"/proc/1\": invalid cross-device link")
    }

    @Test func theRealWriterFindsTheAttrFilesOfTheRealProcfs() throws {
        let writer = ProcfsAttrWriter()
        #expect(writer.exists("current"))
        #expect(!writer.exists("no-such-attr"))
        // Symlinks are not followed out of /proc/thread-self/attr.
        #expect(!writer.exists("../../../etc/passwd"))
    }
}

/// When ProcessSecurity loads the filter: as late as the kernel allows.
@Suite struct SecurityMomentTests {
    let program = SeccompProgram(instructions: [.init(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000)], flags: 0)
    let notifying = SeccompProgram(instructions: [.init(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000)], flags: 8,
                                   listenerPath: "/run/agent.sock")

    @Test func withNoNewPrivsTheFilterComesLast() {
        #expect(ProcessSecurity.moment(seccomp: program, noNewPrivileges: true, effective: []) == .lastBeforeExec)
    }

    @Test func aListenerNeedsTheRuntimeStillThere() {
        #expect(ProcessSecurity.moment(seccomp: notifying, noNewPrivileges: true, effective: []) == .beforeReady)
    }

    @Test func withoutNoNewPrivsTheFilterNeedsCapSysAdmin() {
        // runc's order: before capabilities are dropped, unless the process keeps CAP_SYS_ADMIN.
        #expect(ProcessSecurity.moment(seccomp: program, noNewPrivileges: false, effective: [5]) == .beforeUserSwitch)
        #expect(ProcessSecurity.moment(seccomp: notifying, noNewPrivileges: false, effective: []) == .beforeUserSwitch)
        #expect(ProcessSecurity.moment(seccomp: program, noNewPrivileges: false, effective: [21]) == .lastBeforeExec)
    }

    @Test func noFilterNoMoment() {
        #expect(ProcessSecurity.moment(seccomp: nil, noNewPrivileges: true, effective: []) == .none)
    }
}
