import Foundation
import Testing

@testable import SkiffOCI

@Suite("config.json fixtures from runc, podman and containerd")
struct FixtureTests {
    static let configs = ["runc-spec.json", "runc-spec-rootless.json", "podman.json", "containerd.json"]

    @Test("decodes and validates", arguments: configs)
    func decodesAndValidates(name: String) throws {
        let spec = try Spec.decode(fixture(name))
        #expect(spec.validationErrors() == [])
        #expect(spec.process?.args?.isEmpty == false)
        #expect(spec.root?.path.isEmpty == false)
    }

    @Test("round-trips through encode and decode", arguments: configs)
    func roundTrips(name: String) throws {
        let original = try fixture(name)
        let spec = try Spec.decode(original)
        let encoded = try spec.jsonData()
        #expect(try Spec.decode(encoded) == spec)
        // Nothing is lost or invented: the re-encoded document is the input, field for field.
        #expect(try jsonObject(encoded) == jsonObject(original))
    }

    @Test("writes runc's own output byte for byte")
    func byteIdentical() throws {
        for name in ["runc-spec.json", "runc-spec-rootless.json", "runc-features.json"] {
            let original = try fixture(name)
            let encoded = name.contains("features")
                ? try Features.decode(original).jsonData(indent: "    ")
                : try Spec.decode(original).jsonData()
            #expect(String(decoding: encoded, as: UTF8.self) == String(decoding: original, as: UTF8.self).trimmingCharacters(in: .newlines), "\(name)")
        }
    }

    @Test("keeps field order and sorts map keys, as Go does", arguments: configs)
    func keyOrder(name: String) throws {
        let original = try fixture(name)
        let encoded = try Spec.decode(original).jsonData()
        // The hand-written fixtures were written by Python with sorted map keys too.
        #expect(try keysInOrder(encoded) == keysInOrder(original))
    }

    @Test("podman's config: the fields a runtime acts on")
    func podman() throws {
        let spec = try Spec.decode(fixture("podman.json"))
        let linux = try #require(spec.linux)
        #expect(linux.cgroupsPath?.hasPrefix("machine.slice:libpod:") == true)
        #expect(linux.namespace(.network)?.path == "/run/netns/netns-4c1d7a0e-2b3f-8a9c-5d6e-7f8091a2b3c4")
        #expect(linux.namespace(.user) == nil)
        #expect(linux.sysctl == ["net.ipv4.ping_group_range": "0 0"])
        #expect(linux.resources?.memory == LinuxMemory(limit: 536_870_912, swap: 1_073_741_824, swappiness: 60))
        #expect(linux.resources?.cpu?.quota == 150_000)
        #expect(linux.resources?.pids == LinuxPids(limit: 2048))
        #expect(linux.resources?.blockIO?.throttleReadBpsDevice == [LinuxThrottleDevice(major: 8, minor: 0, rate: 10_485_760)])
        #expect(linux.devices == [LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0)])
        #expect(spec.process?.user.umask == 0o22)
        #expect(spec.process?.oomScoreAdj == 0)
        #expect(spec.process?.rlimits?.first == POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1_048_576, soft: 1_048_576))
        #expect(spec.hooks?.prestart?.first?.timeout == 10)
        #expect(spec.annotations?["io.container.manager"] == "libpod")

        let seccomp = try #require(linux.seccomp)
        #expect(seccomp.defaultAction == "SCMP_ACT_ERRNO")
        #expect(seccomp.defaultErrnoRet == 38)
        let clone = try #require(seccomp.syscalls?.first { $0.names == ["clone"] })
        #expect(clone.args == [LinuxSeccompArg(index: 0, value: 2_114_060_288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")])
        let personality = seccomp.syscalls?.filter { $0.names == ["personality"] }.compactMap { $0.args?.first?.value }
        #expect(personality == [0, 8, 131_072, 4_294_967_295])
    }

    @Test("containerd's CRI config: the fields a runtime acts on")
    func containerd() throws {
        let spec = try Spec.decode(fixture("containerd.json"))
        let linux = try #require(spec.linux)
        #expect(spec.hostname == nil)
        #expect(linux.cgroupsPath?.hasPrefix("/kubepods/burstable/pod") == true)
        #expect(linux.namespace(.uts)?.path == "/proc/48213/ns/uts")
        #expect(linux.namespace(.pid)?.path == nil)
        #expect(spec.process?.user == User(uid: 101, gid: 101, additionalGids: [101, 2000]))
        #expect(spec.process?.noNewPrivileges == true)
        #expect(spec.process?.oomScoreAdj == 968)
        // "c 136:* rwm": the minor is absent, meaning all.
        #expect(linux.resources?.devices?[8] == LinuxDeviceCgroup(allow: true, type: "c", major: 136, minor: nil, access: "rwm"))
        #expect(linux.resources?.hugepageLimits == [
            LinuxHugepageLimit(pageSize: "2MB", limit: 0), LinuxHugepageLimit(pageSize: "1GB", limit: 0),
        ])
        #expect(linux.resources?.unified?["memory.oom.group"] == "1")
        #expect(spec.annotations?["io.kubernetes.cri.container-type"] == "container")
        #expect(spec.mounts?.count == 12)
        #expect(spec.mounts?.last?.options == ["rbind", "rprivate", "ro"])
    }

    @Test("runc's features.json decodes and round-trips")
    func features() throws {
        let original = try fixture("runc-features.json")
        let features = try Features.decode(original)
        #expect(features.ociVersionMin == "1.0.0")
        #expect(features.hooks?.contains("createRuntime") == true)
        #expect(features.linux?.namespaces?.contains("user") == true)
        #expect(features.linux?.seccomp?.enabled == true)
        #expect(features.linux?.seccomp?.operators?.contains("SCMP_CMP_MASKED_EQ") == true)
        #expect(features.linux?.capabilities?.contains("CAP_SYS_ADMIN") == true)
        #expect(try jsonObject(features.jsonData()) == jsonObject(original))
    }
}
