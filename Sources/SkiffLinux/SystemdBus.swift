#if canImport(Glibc)
import Glibc
#endif
import CSystemd

/// A unit property as systemd's D-Bus API takes it (`a(sv)` in StartTransientUnit and
/// SetUnitProperties).
public struct SystemdProperty: Sendable, Equatable, CustomStringConvertible {
    public enum Value: Sendable, Equatable {
        case string(String)
        case bool(Bool)
        case uint64(UInt64)
        case int64(Int64)
        case uint32(UInt32)
        case int32(Int32)
        case uint32s([UInt32])
        case bytes([UInt8])
        /// DeviceAllow: (path or "char-NAME"/"block-NAME", "rwm").
        case pairs([(String, String)])

        public static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case let (.string(x), .string(y)): return x == y
            case let (.bool(x), .bool(y)): return x == y
            case let (.uint64(x), .uint64(y)): return x == y
            case let (.int64(x), .int64(y)): return x == y
            case let (.uint32(x), .uint32(y)): return x == y
            case let (.int32(x), .int32(y)): return x == y
            case let (.uint32s(x), .uint32s(y)): return x == y
            case let (.bytes(x), .bytes(y)): return x == y
            case let (.pairs(x), .pairs(y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
            default: return false
            }
        }
    }

    public let name: String
    public let value: Value

    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    public var description: String {
        switch value {
        case .string(let s): return "\(name)=\(s)"
        case .bool(let b): return "\(name)=\(b ? "yes" : "no")"
        case .uint64(let n): return "\(name)=\(n == .max ? "infinity" : String(n))"
        case .int64(let n): return "\(name)=\(n)"
        case .uint32(let n): return "\(name)=\(n)"
        case .int32(let n): return "\(name)=\(n)"
        case .uint32s(let list): return "\(name)=\(list.map(String.init).joined(separator: " "))"
        case .bytes(let bytes): return "\(name)=\(bytes.map { String($0, radix: 16) }.joined(separator: ","))"
        case .pairs(let pairs): return "\(name)=\(pairs.map { "\($0.0) \($0.1)" }.joined(separator: ", "))"
        }
    }
}

/// A connection to a systemd manager over D-Bus (libsystemd's sd-bus): the system manager, or
/// the user's own for rootless containers. Only the runtime uses it, never init.
public final class SystemdBus {
    private var bus: OpaquePointer?
    /// The address connected to, for messages: "unix:path=/run/systemd/private".
    public let address: String

    static let destination = "org.freedesktop.systemd1"
    static let managerPath = "/org/freedesktop/systemd1"
    public static let managerInterface = "org.freedesktop.systemd1.Manager"
    /// How long a job may take, as runc waits (30 s).
    static let jobTimeoutMicroseconds: UInt64 = 30_000_000

    /// The system manager: as root its private socket when there is one (what systemctl uses;
    /// it needs no D-Bus broker), else the system bus ($DBUS_SYSTEM_BUS_ADDRESS or
    /// /run/dbus/system_bus_socket). `user`: the user's manager on the session bus
    /// ($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus), as runc's rootless driver uses it.
    public static func connect(user: Bool) throws(CallError) -> SystemdBus {
        // libsystemd is opened here, the first time a command needs the bus (csystemd.h).
        if let failure = skiff_sd_bus_load() {
            throw CallError(name: nil, message: "systemd: \(String(cString: failure)) (--systemd-cgroup needs libsystemd0)", errno: ENOENT)
        }
        func env(_ name: String) -> String? {
            getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let address: String
        if user {
            if let session = env("DBUS_SESSION_BUS_ADDRESS") {
                address = session
            } else if let runtime = env("XDG_RUNTIME_DIR") {
                address = "unix:path=\(runtime)/bus"
            } else {
                throw CallError(name: nil, message: "systemd: no user bus: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set", errno: ENOENT)
            }
        } else if let system = env("DBUS_SYSTEM_BUS_ADDRESS") {
            address = system
        } else if geteuid() == 0, Files.exists("/run/systemd/private") {
            address = "unix:path=/run/systemd/private"
        } else {
            address = "unix:path=/run/dbus/system_bus_socket"
        }
        var bus: OpaquePointer?
        var r = skiff_sd_bus_new(&bus)
        if r >= 0 { r = skiff_sd_bus_set_address(bus, address) }
        // A broker wants the Hello and authentication as a bus client; systemd's private
        // socket is a direct connection.
        if r >= 0 { r = skiff_sd_bus_set_bus_client(bus, address.hasSuffix("/systemd/private") ? 0 : 1) }
        if r >= 0 && user { r = skiff_sd_bus_set_trusted(bus, 0) }
        if r >= 0 { r = skiff_sd_bus_start(bus) }
        if r < 0 {
            skiff_sd_bus_flush_close_unref(bus)
            // As runc hints: a user's bus is dbus-user-session's socket, there only while the
            // user's systemd manager runs.
            let hint = user && (-r == ENOENT || -r == ECONNREFUSED)
                ? " (the user's session bus: it is there while the user's systemd manager runs, with dbus-user-session installed)" : ""
            throw CallError(name: nil, message: "systemd: \(LinuxError("connect", path: address, errno: -r))\(hint)", errno: -r)
        }
        return SystemdBus(bus: bus, address: address)
    }

    private init(bus: OpaquePointer?, address: String) {
        self.bus = bus
        self.address = address
    }

    deinit { skiff_sd_bus_flush_close_unref(bus) }

    // MARK: calls

    /// A D-Bus error from the manager: its name (org.freedesktop.systemd1.NoSuchUnit…) and text.
    public struct CallError: Error, CustomStringConvertible {
        public let name: String?
        public let message: String
        public let errno: Int32
        public var description: String { message }
    }

    private func call(_ member: String, path: String = managerPath, interface: String = managerInterface,
                      build: (OpaquePointer?) -> Int32 = { _ in 0 }) throws(CallError) -> OpaquePointer? {
        var message: OpaquePointer?
        var r = skiff_sd_bus_message_new_method_call(bus, &message, Self.destination, path, interface, member)
        defer { skiff_sd_bus_message_unref(message) }
        if r >= 0 { r = build(message) }
        if r < 0 { throw CallError(name: nil, message: "build \(member): \(LinuxError.text(-r))", errno: -r) }
        var error = skiff_sd_bus_error_null()
        defer { skiff_sd_bus_error_free(&error) }
        var reply: OpaquePointer?
        r = skiff_sd_bus_call(bus, message, Self.jobTimeoutMicroseconds, &error, &reply)
        if r < 0 {
            let name = error.name.map { String(cString: $0) }
            let text = error.message.map { String(cString: $0) } ?? LinuxError.text(-r)
            throw CallError(name: name, message: text, errno: -r)
        }
        return reply
    }

    /// Reads an object path (a job) from a reply and releases the reply.
    private func objectPath(_ reply: OpaquePointer?) -> String {
        defer { skiff_sd_bus_message_unref(reply) }
        var path: UnsafePointer<CChar>?
        guard skiff_sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "o")), &path) >= 0, let path else { return "" }
        return String(cString: path)
    }

    /// JobRemoved signals seen so far: job path → result ("done", "failed"…).
    private final class Jobs {
        var results: [String: String] = [:]
    }

    /// Runs `start` (a call that returns a job) and waits for the job's JobRemoved signal, as
    /// runc does: the unit is in place (its cgroup made, the pids moved) only when the job is
    /// done. The match is installed first, so a job that ends before the reply is not missed.
    private func runJob(_ what: String, _ start: () throws(CallError) -> String) throws(CallError) -> String {
        let jobs = Jobs()
        var slot: OpaquePointer?
        let box = Unmanaged.passRetained(jobs)
        defer {
            skiff_sd_bus_slot_unref(slot)
            box.release()
        }
        let r = skiff_sd_bus_match_signal(
            bus, &slot, Self.destination, Self.managerPath, Self.managerInterface, "JobRemoved",
            { message, userdata, _ in
                guard let userdata else { return 0 }
                let jobs = Unmanaged<Jobs>.fromOpaque(userdata).takeUnretainedValue()
                var id: UInt32 = 0
                var job: UnsafePointer<CChar>?
                var unit: UnsafePointer<CChar>?
                var result: UnsafePointer<CChar>?
                guard skiff_sd_bus_message_read_basic(message, CChar(UInt8(ascii: "u")), &id) >= 0,
                      skiff_sd_bus_message_read_basic(message, CChar(UInt8(ascii: "o")), &job) >= 0,
                      skiff_sd_bus_message_read_basic(message, CChar(UInt8(ascii: "s")), &unit) >= 0,
                      skiff_sd_bus_message_read_basic(message, CChar(UInt8(ascii: "s")), &result) >= 0,
                      let job, let result else { return 0 }
                jobs.results[String(cString: job)] = String(cString: result)
                return 0
            }, box.toOpaque())
        if r < 0 { throw CallError(name: nil, message: "match JobRemoved: \(LinuxError.text(-r))", errno: -r) }
        // The API bus sends job signals only to subscribers (a direct connection gets them all).
        if let reply = try? call("Subscribe") { skiff_sd_bus_message_unref(reply) }
        let job = try start()
        let deadline = Self.now() + Self.jobTimeoutMicroseconds
        while jobs.results[job] == nil {
            let processed = skiff_sd_bus_process(bus, nil)
            if processed < 0 {
                throw CallError(name: nil, message: "\(what): wait for job \(job): \(LinuxError.text(-processed))", errno: -processed)
            }
            if processed > 0 { continue }
            let now = Self.now()
            if now >= deadline { throw CallError(name: nil, message: "\(what): timed out waiting for job \(job)", errno: ETIMEDOUT) }
            _ = skiff_sd_bus_wait(bus, deadline - now)
        }
        return jobs.results[job]!
    }

    private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    /// StartTransientUnit(name, "replace", properties, []), waiting for the job; a leftover
    /// failed unit of the same name is reset and the start tried once more (as runc does).
    /// The job's result is returned: "done" when the unit runs.
    public func startTransientUnit(_ name: String, properties: [SystemdProperty]) throws(CallError) -> String {
        func start() -> Result<String, CallError> {
            Result { () throws(CallError) -> String in
                try runJob("start \(name)") { () throws(CallError) -> String in
                    objectPath(try call("StartTransientUnit") { message in
                        var r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), name)
                        if r >= 0 { r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), "replace") }
                        if r >= 0 { r = Self.append(properties, to: message) }
                        // No auxiliary units: a(sa(sv)) empty.
                        if r >= 0 { r = skiff_sd_bus_message_open_container(message, CChar(UInt8(ascii: "a")), "(sa(sv))") }
                        if r >= 0 { r = skiff_sd_bus_message_close_container(message) }
                        return r
                    })
                }
            }
        }
        let first = start()
        if case .failure(let error) = first, error.name == "org.freedesktop.systemd1.UnitExists" {
            resetFailed(name)
            return try start().get()
        }
        return try first.get()
    }

    /// SetUnitProperties(name, runtime=true, properties): runtime, as runc sets them, so they
    /// go with the transient unit.
    public func setUnitProperties(_ name: String, properties: [SystemdProperty]) throws(CallError) {
        guard !properties.isEmpty else { return }
        let reply = try call("SetUnitProperties") { message in
            var r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), name)
            var runtime: Int32 = 1
            if r >= 0 { r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "b")), &runtime) }
            if r >= 0 { r = Self.append(properties, to: message) }
            return r
        }
        skiff_sd_bus_message_unref(reply)
    }

    /// StopUnit(name, "replace"), waiting for the job, then ResetFailedUnit so that a unit
    /// that failed is not kept. A unit that does not exist (it stopped when its last process
    /// exited) is not an error.
    public func stopUnit(_ name: String) throws(CallError) {
        let stopped = Result { () throws(CallError) -> String in
            try runJob("stop \(name)") { () throws(CallError) -> String in
                objectPath(try call("StopUnit") { message in
                    var r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), name)
                    if r >= 0 { r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), "replace") }
                    return r
                })
            }
        }
        if case .failure(let error) = stopped, error.name != "org.freedesktop.systemd1.NoSuchUnit" { throw error }
        resetFailed(name)
    }

    /// KillUnit(name, "all", signal): every process of the unit, as systemctl kill does.
    public func killUnit(_ name: String, signal: Int32) throws(CallError) {
        let reply = try call("KillUnit") { message in
            var r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), name)
            if r >= 0 { r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), "all") }
            var number = signal
            if r >= 0 { r = skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "i")), &number) }
            return r
        }
        skiff_sd_bus_message_unref(reply)
    }

    /// The loaded scopes whose Description is `description` (ListUnitsByPatterns over
    /// "*.scope"): how delete finds a container's scope when its state.json is unreadable,
    /// since skiff describes each as "skiff container <id>" (SystemdScope.description).
    public func scopes(describedAs description: String) throws(CallError) -> [String] {
        let a = CChar(UInt8(ascii: "a")), s = CChar(UInt8(ascii: "s")), r = CChar(UInt8(ascii: "r"))
        let reply = try call("ListUnitsByPatterns") { message in
            // No state filter (an empty array), one pattern.
            var rc = skiff_sd_bus_message_open_container(message, a, "s")
            if rc >= 0 { rc = skiff_sd_bus_message_close_container(message) }
            if rc >= 0 { rc = skiff_sd_bus_message_open_container(message, a, "s") }
            if rc >= 0 { rc = skiff_sd_bus_message_append_basic(message, s, "*.scope") }
            if rc >= 0 { rc = skiff_sd_bus_message_close_container(message) }
            return rc
        }
        defer { skiff_sd_bus_message_unref(reply) }
        func check(_ rc: Int32) throws(CallError) {
            if rc < 0 { throw CallError(name: nil, message: "read ListUnitsByPatterns reply: \(LinuxError.text(-rc))", errno: -rc) }
        }
        var names: [String] = []
        // a(ssssssouso): name, description, load, active, sub, following, path, job id, type, path.
        try check(skiff_sd_bus_message_enter_container(reply, a, "(ssssssouso)"))
        while true {
            let entered = skiff_sd_bus_message_enter_container(reply, r, "ssssssouso")
            try check(entered)
            if entered == 0 { break }
            var name: UnsafePointer<CChar>?
            var text: UnsafePointer<CChar>?
            try check(skiff_sd_bus_message_read_basic(reply, s, &name))
            try check(skiff_sd_bus_message_read_basic(reply, s, &text))
            try check(skiff_sd_bus_message_skip(reply, "ssssouso"))
            try check(skiff_sd_bus_message_exit_container(reply))
            if let name, let text, String(cString: text) == description { names.append(String(cString: name)) }
        }
        try check(skiff_sd_bus_message_exit_container(reply))
        return names
    }

    public func resetFailed(_ name: String) {
        if let reply = try? call("ResetFailedUnit", build: { skiff_sd_bus_message_append_basic($0, CChar(UInt8(ascii: "s")), name) }) {
            skiff_sd_bus_message_unref(reply)
        }
    }

    /// A string property of the manager ("Version", "ControlGroup") or, given `unit` and
    /// its interface, of a unit.
    public func stringProperty(_ property: String, unit: String? = nil, interface: String = managerInterface) throws(CallError) -> String {
        var path = Self.managerPath
        if let unit {
            var encoded: UnsafeMutablePointer<CChar>?
            let r = skiff_sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &encoded)
            if r < 0 { throw CallError(name: nil, message: "encode unit path: \(LinuxError.text(-r))", errno: -r) }
            path = String(cString: encoded!)
            free(encoded)
        }
        var error = skiff_sd_bus_error_null()
        defer { skiff_sd_bus_error_free(&error) }
        var value: UnsafeMutablePointer<CChar>?
        let r = skiff_sd_bus_get_property_string(bus, Self.destination, path, interface, property, &error, &value)
        if r < 0 {
            let name = error.name.map { String(cString: $0) }
            throw CallError(name: name, message: error.message.map { String(cString: $0) } ?? LinuxError.text(-r), errno: -r)
        }
        defer { free(value) }
        return value.map { String(cString: $0) } ?? ""
    }

    /// The manager's version number ("252.38-1~deb12u1" → 252), 0 when unknown.
    public func version() -> Int {
        guard let text = try? stringProperty("Version") else { return 0 }
        return Int(text.drop { !$0.isNumber }.prefix { $0.isNumber }) ?? 0
    }

    // MARK: marshalling

    /// Appends `a(sv)`.
    static func append(_ properties: [SystemdProperty], to message: OpaquePointer?) -> Int32 {
        func check(_ r: Int32) throws(CallError) {
            if r < 0 { throw CallError(name: nil, message: LinuxError.text(-r), errno: -r) }
        }
        let a = CChar(UInt8(ascii: "a")), r = CChar(UInt8(ascii: "r")), v = CChar(UInt8(ascii: "v"))
        /// A variant holding one fixed-size value of D-Bus type `type` ("t", "u", …).
        func basic<Value>(_ type: Unicode.Scalar, _ value: Value) throws(CallError) {
            var value = value
            try check(skiff_sd_bus_message_open_container(message, v, String(type)))
            try check(withUnsafeMutablePointer(to: &value) {
                skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: type)), $0)
            })
        }
        do throws(CallError) {
            try check(skiff_sd_bus_message_open_container(message, a, "(sv)"))
            for property in properties {
                try check(skiff_sd_bus_message_open_container(message, r, "sv"))
                try check(skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), property.name))
                switch property.value {
                case .string(let s):
                    try check(skiff_sd_bus_message_open_container(message, v, "s"))
                    try check(skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), s))
                case .bool(let b): try basic("b", Int32(b ? 1 : 0))  // sd-bus takes a C int for "b"
                case .uint64(let n): try basic("t", n)
                case .int64(let n): try basic("x", n)
                case .uint32(let n): try basic("u", n)
                case .int32(let n): try basic("i", n)
                case .uint32s(let list):
                    try check(skiff_sd_bus_message_open_container(message, v, "au"))
                    try check(list.withUnsafeBytes { skiff_sd_bus_message_append_array(message, CChar(UInt8(ascii: "u")), $0.baseAddress, $0.count) })
                case .bytes(let bytes):
                    try check(skiff_sd_bus_message_open_container(message, v, "ay"))
                    try check(bytes.withUnsafeBytes { skiff_sd_bus_message_append_array(message, CChar(UInt8(ascii: "y")), $0.baseAddress, $0.count) })
                case .pairs(let pairs):
                    try check(skiff_sd_bus_message_open_container(message, v, "a(ss)"))
                    try check(skiff_sd_bus_message_open_container(message, a, "(ss)"))
                    for (first, second) in pairs {
                        try check(skiff_sd_bus_message_open_container(message, r, "ss"))
                        try check(skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), first))
                        try check(skiff_sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), second))
                        try check(skiff_sd_bus_message_close_container(message))
                    }
                    try check(skiff_sd_bus_message_close_container(message))
                }
                try check(skiff_sd_bus_message_close_container(message))  // v
                try check(skiff_sd_bus_message_close_container(message))  // r
            }
            try check(skiff_sd_bus_message_close_container(message))  // a
        } catch {
            return -error.errno
        }
        return 0
    }
}
