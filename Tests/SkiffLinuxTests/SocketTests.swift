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
