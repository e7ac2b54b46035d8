/// /proc/PID/mountinfo's text format, which the cgroup code and the init both read.
public enum Mountinfo {
    /// A field as the kernel wrote it, unescaped: space, tab, newline and backslash appear as
    /// a backslash and three octal digits.
    public static func unescape(_ field: String) -> String {
        // A byte search: `field.contains("\\")` compares Characters, ~4.5 K instructions a field.
        guard field.utf8.contains(UInt8(ascii: "\\")) else { return field }
        var bytes: [UInt8] = []
        var rest = Array(field.utf8)[...]
        while let byte = rest.popFirst() {
            if byte == UInt8(ascii: "\\"), rest.count >= 3,
               let value = UInt8(String(decoding: rest.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                rest = rest.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
