import Glibc
import Testing

import SkiffLinux

/// The sync socket between the runtime and the container's init: SOCK_SEQPACKET messages,
/// received whole at their own size.
@Suite struct SocketTests {
    @Test func messagesArriveWholeAndInOrder() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        let large = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Sockets.send(a, Array("first".utf8))
        try Sockets.send(a, large)
        try Sockets.send(a, [7])
        #expect(try Sockets.receive(b) == Array("first".utf8))
        #expect(try Sockets.receive(b) == large)
        #expect(try Sockets.receive(b) == [7])
    }

    /// The buffer is the message's size (its length is peeked first): receiving a small
    /// message must not fault in a large buffer, because init's pages count against the
    /// container's memory limit.
    @Test func aSmallMessageDoesNotAllocateTheMaximum() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        try Sockets.send(a, Array("ready".utf8))
        let received = try Sockets.receive(b, maxSize: 1 << 20)
        #expect(received == Array("ready".utf8))
        #expect(received.capacity < 4096)
    }

    /// The bootstrap data goes to a C stage that may have exited already. sendAll fails with
    /// EPIPE and raises no SIGPIPE, which would kill the runtime half way through a create:
    /// SIGPIPE is blocked on this thread while it sends, so a signal write(2) raised would be
    /// left pending here (it is thread-directed), and the test reads the pending set.
    @Test func sendingToAGonePeerFailsWithoutSIGPIPE() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_STREAM.rawValue))
        let large = [UInt8](repeating: 7, count: 300_000)  // more than the socket buffer takes at once
        b.close()
        var block = sigset_t(), previous = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        defer {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGPIPE) == 1 {
                var info = siginfo_t()
                var zero = timespec()
                _ = sigtimedwait(&block, &info, &zero)  // consumed before it is unblocked
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        #expect(throws: LinuxError.self) { try Sockets.sendAll(a, large, operation: "send bootstrap data") }
        do {
            try Sockets.sendAll(a, [1], operation: "send bootstrap data")
        } catch {
            #expect(error.code == EPIPE, "\(error)")
        }
        var pending = sigset_t()
        sigpending(&pending)
        #expect(sigismember(&pending, SIGPIPE) == 0, "the send raised SIGPIPE")
    }

    @Test func sendAllDeliversEveryByte() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_STREAM.rawValue))
        let data = (0..<60_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }  // within the socket buffer
        try Sockets.sendAll(a, data)
        a.close()
        #expect(try b.readAll() == data)
    }

    @Test func aClosedPeerReadsAsEmpty() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        try Sockets.send(a, [1, 2, 3])
        a.close()
        #expect(try Sockets.receive(b) == [1, 2, 3])
        #expect(try Sockets.receive(b) == [])
        #expect(try Sockets.receive(b) == [])
    }

    /// Init's exit after an error, with the runtime's early "committed" unread: closed as it
    /// is, the socket resets the runtime's end, whose next receive fails with ECONNRESET before
    /// the error message init sent; after discardIncoming the message arrives, then the end,
    /// and the runtime's later sends fail (EPIPE) instead of queueing.
    @Test func discardingUnreadMessagesKeepsOursReadable() throws {
        let (runtime, initEnd) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        try Sockets.send(initEnd, Array("error".utf8))
        try Sockets.send(runtime, Array("committed".utf8))
        Sockets.discardIncoming(initEnd)
        #expect(throws: LinuxError.self) { try Sockets.send(runtime, Array("late".utf8)) }
        initEnd.close()
        #expect(try Sockets.receive(runtime) == Array("error".utf8))
        #expect(try Sockets.receive(runtime) == [])

        // What discardIncoming avoids (the kernel's behaviour this relies on).
        let (other, closing) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        try Sockets.send(closing, Array("error".utf8))
        try Sockets.send(other, Array("committed".utf8))
        closing.close()
        #expect(throws: LinuxError.self) { try Sockets.receive(other) }
    }

    @Test func aMessageAboveTheMaximumIsAnError() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        try Sockets.send(a, [UInt8](repeating: 1, count: 5000))
        #expect(throws: LinuxError.self) { try Sockets.receive(b, maxSize: 4096, operation: "receive on sync socket") }
        do {
            _ = try Sockets.receive(b, maxSize: 4096, operation: "receive on sync socket")
        } catch {
            #expect("\(error)".contains("receive on sync socket"))
            #expect("\(error)".contains("too long"))
        }
    }
}
