import SkiffInitProtocol

/// Container ids as runc accepts them: letters, digits, `_`, `+`, `-`, `.`; not `.` or `..`;
/// at most 255 bytes because the id names a directory under the state root.
public enum ContainerID {
    public static let maximumLength = 255

    public static func validate(_ id: String) throws(SkiffError) {
        if id.isEmpty { throw SkiffError(.invalidArgument, "invalid container id: must not be empty") }
        if id == "." || id == ".." { throw SkiffError(.invalidArgument, "invalid container id \"\(id)\"") }
        if id.utf8.count > maximumLength {
            throw SkiffError(.invalidArgument, "invalid container id: longer than \(maximumLength) bytes")
        }
        for byte in id.utf8 {
            let ok = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            if !ok { throw SkiffError(.invalidArgument, "invalid container id \"\(id)\": only letters, digits, _ + - . are allowed") }
        }
    }
}
