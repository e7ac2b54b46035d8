import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// libsystemd is opened with dlopen, and only by --systemd-cgroup (Sources/CSystemd): linked, it
// would be loaded and relocated on every exec of every command. A host without it runs
// containers; --systemd-cgroup there fails with one line naming the library.

@Suite(.enabled(if: isRoot, "needs root (a mount namespace hides libsystemd)"))
struct LibsystemdTests {
    /// The release binary links no shared library at all (glibc included, Makefile); a debug
    /// build links the Swift runtime's and glibc's, but never libsystemd.
    @Test func theBinaryDoesNotLinkLibsystemd() {
        let dynamic = host("readelf", "--dynamic", Paths.binary)
        #expect(dynamic.succeeded, "\(dynamic)")
        let needed = dynamic.lines.filter { $0.contains("(NEEDED)") }
        #expect(needed.isEmpty == dynamic.stdout.contains("There is no dynamic section"), "\(dynamic)")
        #expect(!needed.contains { $0.contains("libsystemd") }, "\(needed)")
    }

    /// In a mount namespace whose library directory holds links to everything but
    /// libsystemd.so*, a container runs, and --systemd-cgroup fails before it makes anything.
    @Test func withoutTheLibraryOnlyTheSystemdDriverFails() throws {
        try Sandbox.with { sandbox in
            let plain = sandbox.id("nolibsd")
            let scoped = sandbox.id("nolibsdscope")
            let plainBundle = try sandbox.bundle(plain, args: ["true"])
            let scopedBundle = try sandbox.bundle(scoped, args: ["true"]) { $0.linux?.cgroupsPath = nil }
            let real = sandbox.path("lib-real")
            try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: true)
            // The directory ld.so finds libsystemd.so.0 in (/usr/lib/x86_64-linux-gnu on
            // Debian), bound aside, then covered with a tmpfs of links back to it; the links are
            // made with the bundle's static busybox, since a dynamic ln would find no libc.
            let script = #"""
                set -e
                real=$1 busybox=$2; shift 2
                library=$(ldconfig -p | awk '/libsystemd\.so\.0 /{print $NF; exit}')
                [ -n "$library" ] || { echo "no libsystemd.so.0 in ldconfig -p" >&2; exit 99; }
                directory=$(dirname "$(readlink -f "$library")")
                mount --bind "$directory" "$real"
                mount -t tmpfs tmpfs "$directory"
                for entry in "$real"/*; do
                  case ${entry##*/} in libsystemd.so*) continue;; esac
                  "$busybox" ln -s "$entry" "$directory/${entry##*/}"
                done
                "$@" run --bundle "$PLAIN_BUNDLE" "$PLAIN" > "$real/../plain.out" 2>&1 || echo "run: $?" >> "$real/../plain.out"
                exec "$@" --systemd-cgroup create --bundle "$SCOPED_BUNDLE" "$SCOPED"
                """#
            let outcome = execute("/usr/bin/env", ["PLAIN=\(plain)", "PLAIN_BUNDLE=\(plainBundle)", "SCOPED=\(scoped)",
                                                   "SCOPED_BUNDLE=\(scopedBundle)", "unshare", "--mount", "--propagation", "private",
                                                   "/bin/sh", "-c", script, "sh", real, Paths.rootfs + "/bin/busybox",
                                                   Paths.binary, "--root", sandbox.root], timeout: 120)
            let plainOutput = readFile(sandbox.path("plain.out")) ?? ""
            #expect(!plainOutput.contains("run:"), "a container without --systemd-cgroup: \(plainOutput)")
            #expect(!outcome.succeeded && outcome.status != 99, "\(outcome)")
            #expect(outcome.stderrLines.count == 1, "\(outcome)")
            #expect(outcome.stderr.contains("libsystemd.so.0: cannot open shared object file"), "\(outcome)")
            #expect(sandbox.rootEntries.isEmpty, "a failed create leaves nothing: \(sandbox.rootEntries)")
        }
    }
}
