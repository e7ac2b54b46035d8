#if canImport(Glibc)
import Glibc
#endif
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// linux.netDevices: host interfaces moved into the container's new network namespace (renamed
/// to `name` there) once init's namespaces exist, and moved back to the host's on delete while
/// that namespace still exists (runc 1.2). A namespace that ends with its last process gives
/// physical devices back to the host by itself and destroys virtual ones (a veth pair).
struct NetDeviceMover {
    /// Host name → name inside the container.
    let devices: [String: String]

    init(spec: Spec, rootless: Bool) throws {
        let configured = spec.linux?.netDevices ?? [:]
        if !configured.isEmpty, rootless {
            throw SkiffError(.invalidArgument, "linux.netDevices: moving host network devices needs root (CAP_NET_ADMIN in the host's network namespace)")
        }
        var devices: [String: String] = [:]
        for (host, device) in configured {
            devices[host] = device.name.flatMap { $0.isEmpty ? nil : $0 } ?? host
        }
        self.devices = devices
    }

    /// Moves every device into the network namespace of `pid` and sets it up there. When one
    /// fails, those already moved go back first, so the host keeps its interfaces.
    func moveIn(pid: Int32) throws {
        let target = try Files.open("/proc/\(pid)/ns/net", flags: O_RDONLY)
        var moved: [String: String] = [:]
        for (host, inside) in devices.sorted(by: { $0.key < $1.key }) {
            do {
                try NetDevices.move(host, from: nil, to: target, newName: inside, up: true)
                moved[host] = inside
            } catch {
                Self.moveBack(moved, pid: pid, logger: nil)
                throw SkiffError(.invalidArgument, "linux.netDevices[\"\(host)\"]: \(error)")
            }
        }
    }

    /// Moves the devices of a container whose init `pid` still lives back to the host's
    /// network namespace under their host names, left down. Failures are warnings: delete goes
    /// on (the kernel returns physical devices when the namespace ends).
    static func moveBack(_ devices: [String: String], pid: Int32, logger: SkiffLogger?) {
        guard !devices.isEmpty else { return }
        let from: OwnedFD, host: OwnedFD
        do {
            from = try Files.open("/proc/\(pid)/ns/net", flags: O_RDONLY)
            host = try Files.open("/proc/self/ns/net", flags: O_RDONLY)
        } catch {
            logger?.warning("linux.netDevices: cannot move the devices back: \(error)")
            return
        }
        for (hostName, inside) in devices.sorted(by: { $0.key < $1.key }) {
            do {
                try NetDevices.move(inside, from: from, to: host, newName: hostName, up: false)
            } catch {
                logger?.warning("linux.netDevices[\"\(hostName)\"]: move back to the host: \(error)")
            }
        }
    }
}
