import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A static sender of one datagram to $NOTIFY_SOCKET (what sd_notify does), built with the
/// host's gcc: the busybox rootfs has no tool that sends to a unix datagram socket.
private let notifySource = #"""
    #include <stdlib.h>
    #include <string.h>
    #include <sys/socket.h>
    #include <sys/un.h>
    int main(int argc, char **argv) {
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path || argc < 2) return 2;
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        return sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof a) < 0;
    }
    """#

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces and mounts"),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc"), "needs gcc for the sd_notify sender"))
struct NotifySocketTests {
    /// runc's NOTIFY_SOCKET: the container sees /run/notify/notify.sock; `start` (and `run -d`,
    /// which releases the process as it commits init) waits for its READY=1 and passes on what
    /// it sent, then MAINPID (the init's pid) and BARRIER=1.
    @Test(arguments: ["start", "run -d"])
    func startForwardsReadyAndMainPidToTheHostSocket(command: String) throws {
        try Sandbox.with { sandbox in
            let tools = sandbox.path("tools")
            try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
            try notifySource.write(toFile: tools + "/notify.c", atomically: true, encoding: .utf8)
            let built = host("gcc", "-static", "-O1", "-o", tools + "/notify", tools + "/notify.c")
            try #require(built.succeeded, "gcc: \(built)")

            let hostSocket = sandbox.path("host-notify.sock")
            let listener = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(listener) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(hostSocket.utf8) + [0]) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0, "bind \(hostSocket): \(String(cString: strerror(errno)))")

            let id = sandbox.id("notify")
            let bundle = try sandbox.bundle(id, args: ["sh", "-c", #"/var/tmp/notify "STATUS=at $NOTIFY_SOCKET"; sleep 0.3; /var/tmp/notify READY=1; exec sleep 1000"#]) {
                $0.mounts = ($0.mounts ?? []) + [Mount(destination: "/var/tmp", type: "bind", source: tools, options: ["bind", "ro"])]
            }
            let environment = ["NOTIFY_SOCKET=" + hostSocket, Paths.binary, "--root", sandbox.root]
            let arguments: [String]
            if command == "start" {
                let created = execute("/usr/bin/env", environment + ["create", "--bundle", bundle, id], timeout: slow)
                try #require(created.succeeded, "create: \(created)")
                arguments = ["start", id]
            } else {
                arguments = ["run", "-d", "--bundle", bundle, id]
            }

            let start = try Spawned(environment + arguments, stdoutPath: sandbox.path("start.out"),
                                    stderrPath: sandbox.path("start.err"), executable: "/usr/bin/env")
            var received: [String] = []
            var timeout = timeval(tv_sec: Int(slow), tv_usec: 0)
            setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while received.count < 3 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                // A plain recv drops the BARRIER's pipe fd, which closes it: the acknowledgement.
                let count = buffer.withUnsafeMutableBytes { recv(listener, $0.baseAddress, $0.count, 0) }
                if count < 0 { break }
                received.append(String(decoding: buffer.prefix(count), as: UTF8.self))
            }
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)
            #expect(received == ["STATUS=at /run/notify/notify.sock\n", "READY=1\nMAINPID=\(pid)\n", "BARRIER=1"])
            let started = start.wait(timeout: slow)
            #expect(started.succeeded, "start: \(started)")
            #expect(sandbox.status(id) == "running")
        }
    }
}
