import Foundation
import Testing

@testable import Skiff
import SkiffLinux

/// `Runtime.run` without detach waits for the container with ForegroundWaiter. An embedding
/// program has threads (Dispatch, Swift concurrency, this test runner), so the wait must end
/// whichever thread the kernel hands SIGCHLD to.
@Suite struct ForegroundWaiterTests {
    final class Box: @unchecked Sendable {
        var thread = pthread_t()
        var exit: Processes.Exit?
        var error: (any Error)?
        let done = DispatchSemaphore(value: 0)
    }

    /// Waits for `pid` on a new thread; returns whether the wait ended within `seconds` and
    /// the outcome. A stuck waiter is woken with a signal aimed at its thread (SIGWINCH is
    /// harmless if it is not blocked yet), so the test itself never hangs.
    func waitOnAThread(_ pid: pid_t, seconds: Double) -> (inTime: Bool, box: Box) {
        let box = Box()
        let thread = Thread {
            box.thread = pthread_self()
            do {
                box.exit = try ForegroundWaiter(pid: pid).wait()
            } catch {
                box.error = error
            }
            box.done.signal()
        }
        thread.start()
        let inTime = box.done.wait(timeout: .now() + seconds) == .success
        while !inTime && box.done.wait(timeout: .now() + 0.2) != .success {
            pthread_kill(box.thread, SIGWINCH)
        }
        return (inTime, box)
    }

    @Test func returnsTheExitOfTheChild() throws {
        let pid = try Processes.spawn(path: "/bin/sh", arguments: ["sh", "-c", "exit 3"], environment: [],
                                      fds: [], closeFrom: 3).pid
        usleep(100_000)  // already exited: the first tryWait reaps it
        let (_, box) = waitOnAThread(pid, seconds: 5)
        #expect(box.exit == .exited(3))
        #expect(box.error == nil)
    }

    /// The child exits while the waiter blocks in read(signalfd). SIGCHLD is process-directed:
    /// if the kernel delivers it to another thread that does not block it, its default action
    /// (ignore) discards it and the waiter never wakes — `run` hangs after the container exits.
    @Test func endsWhenTheChildExitsInAThreadedProcess() throws {
        var stuck = 0
        for _ in 0..<3 {
            let pid = try Processes.spawn(path: "/bin/sleep", arguments: ["sleep", "0.1"], environment: [],
                                          fds: [], closeFrom: 3).pid
            let (inTime, box) = waitOnAThread(pid, seconds: 1.0)
            if !inTime { stuck += 1 }
            #expect(box.exit == .exited(0))
        }
        withKnownIssue("SIGCHLD taken by another thread: ForegroundWaiter blocks in read(signalfd)",
                       isIntermittent: true) {
            #expect(stuck == 0, "\(stuck) of 3 waits did not end when the child exited")
        }
    }
}
