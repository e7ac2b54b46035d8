// The spec's types read from config.json's tree by hand (JSONObjectReader), the way their
// Codable conformances read them, without Codable's cost in a fresh process: a `run` decoded
// config.json through Codable twice on the way to the container's process, in the runtime
// and again in init (~900 K instructions each, docs/benchmarks.md).
//
// Each reading lists its type's members in declaration order, with the same required,
// optional and defaulted members as the type's `init(from:)`. A member added to a type
// must be added here too: SpecReadingTests decodes a document that sets every member both
// ways and compares, and checks by reflection that the document leaves none unset.

extension Spec: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            ociVersion: try object.required("ociVersion"), process: try object.optional("process"),
            root: try object.optional("root"), hostname: try object.optional("hostname"),
            domainname: try object.optional("domainname"), mounts: try object.optionalArray("mounts"),
            hooks: try object.optional("hooks"), annotations: try object.optionalMap("annotations"),
            linux: try object.optional("linux"))
    }
}

extension Process: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            terminal: try object.optional("terminal"), consoleSize: try object.optional("consoleSize"),
            // As init(from:): absent is uid 0, gid 0, as runc reads it.
            user: try object.optional("user") ?? User(), args: try object.optionalArray("args"),
            commandLine: try object.optional("commandLine"), env: try object.optionalArray("env"),
            cwd: try object.required("cwd"), capabilities: try object.optional("capabilities"),
            rlimits: try object.optionalArray("rlimits"), noNewPrivileges: try object.optional("noNewPrivileges"),
            apparmorProfile: try object.optional("apparmorProfile"), oomScoreAdj: try object.optional("oomScoreAdj"),
            scheduler: try object.optional("scheduler"), selinuxLabel: try object.optional("selinuxLabel"),
            ioPriority: try object.optional("ioPriority"), execCPUAffinity: try object.optional("execCPUAffinity"))
    }
}

extension Box: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(height: try object.required("height"), width: try object.required("width"))
    }
}

extension User: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            uid: try object.required("uid"), gid: try object.required("gid"), umask: try object.optional("umask"),
            additionalGids: try object.optionalArray("additionalGids"), username: try object.optional("username"))
    }
}

extension LinuxCapabilities: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            bounding: try object.optionalArray("bounding"), effective: try object.optionalArray("effective"),
            inheritable: try object.optionalArray("inheritable"), permitted: try object.optionalArray("permitted"),
            ambient: try object.optionalArray("ambient"))
    }
}

extension POSIXRlimit: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(type: try object.required("type"), hard: try object.required("hard"), soft: try object.required("soft"))
    }
}

extension Scheduler: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            policy: try object.required("policy"), nice: try object.optional("nice"), priority: try object.optional("priority"),
            flags: try object.optionalArray("flags"), runtime: try object.optional("runtime"),
            deadline: try object.optional("deadline"), period: try object.optional("period"))
    }
}

extension LinuxIOPriority: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(class: try object.required("class"), priority: try object.required("priority"))
    }
}

extension CPUAffinity: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(initial: try object.optional("initial"), final: try object.optional("final"))
    }
}

extension Root: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(path: try object.required("path"), readonly: try object.optional("readonly"))
    }
}

extension Mount: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            destination: try object.required("destination"), type: try object.optional("type"),
            source: try object.optional("source"), options: try object.optionalArray("options"),
            uidMappings: try object.optionalArray("uidMappings"), gidMappings: try object.optionalArray("gidMappings"))
    }
}

extension Hooks: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            prestart: try object.optionalArray("prestart"), createRuntime: try object.optionalArray("createRuntime"),
            createContainer: try object.optionalArray("createContainer"),
            startContainer: try object.optionalArray("startContainer"), poststart: try object.optionalArray("poststart"),
            poststop: try object.optionalArray("poststop"))
    }
}

extension Hook: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            path: try object.required("path"), args: try object.optionalArray("args"), env: try object.optionalArray("env"),
            timeout: try object.optional("timeout"))
    }
}

// config-linux.md

extension Linux: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            uidMappings: try object.optionalArray("uidMappings"), gidMappings: try object.optionalArray("gidMappings"),
            sysctl: try object.optionalMap("sysctl"), resources: try object.optional("resources"),
            cgroupsPath: try object.optional("cgroupsPath"), namespaces: try object.optionalArray("namespaces"),
            devices: try object.optionalArray("devices"), seccomp: try object.optional("seccomp"),
            rootfsPropagation: try object.optional("rootfsPropagation"), maskedPaths: try object.optionalArray("maskedPaths"),
            readonlyPaths: try object.optionalArray("readonlyPaths"), mountLabel: try object.optional("mountLabel"),
            intelRdt: try object.optional("intelRdt"), personality: try object.optional("personality"),
            timeOffsets: try object.optionalMap("timeOffsets"), memoryPolicy: try object.optional("memoryPolicy"),
            netDevices: try object.optionalMap("netDevices"))
    }
}

extension LinuxNamespace: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(type: try object.required("type"), path: try object.optional("path"))
    }
}

extension LinuxNamespaceType: JSONReadable {
    package static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        try reading(value, at: path())
    }
}

extension StrictStringEnum {
    /// As init(from:): a string, and one of the type's values.
    static func reading(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        let raw = try value.unboxString(at: path())
        guard let known = Self(rawValue: raw) else {
            throw SpecError(path: path(), message: "unknown \(Self.valueDescription) \"\(raw)\"")
        }
        return known
    }
}

extension LinuxIDMapping: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(containerID: try object.required("containerID"), hostID: try object.required("hostID"),
                  size: try object.required("size"))
    }
}

extension LinuxTimeOffset: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(secs: try object.optional("secs"), nanosecs: try object.optional("nanosecs"))
    }
}

extension LinuxDevice: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        let path: String = try object.required("path")
        let type: String = try object.required("type")
        // As init(from:): a FIFO has no device number; every other type requires both.
        let fifo = type == "p"
        self.init(
            path: path, type: type,
            major: fifo ? try object.optional("major") ?? 0 : try object.required("major"),
            minor: fifo ? try object.optional("minor") ?? 0 : try object.required("minor"),
            fileMode: try object.optional("fileMode"), uid: try object.optional("uid"), gid: try object.optional("gid"))
    }
}

extension LinuxPersonality: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(domain: try object.required("domain"), flags: try object.optionalArray("flags"))
    }
}

extension LinuxIntelRdt: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            closID: try object.optional("closID"), l3CacheSchema: try object.optional("l3CacheSchema"),
            memBwSchema: try object.optional("memBwSchema"), schemata: try object.optional("schemata"),
            enableCMT: try object.optional("enableCMT"), enableMBM: try object.optional("enableMBM"))
    }
}

extension LinuxMemoryPolicy: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(mode: try object.required("mode"), nodes: try object.optional("nodes"), flags: try object.optionalArray("flags"))
    }
}

extension LinuxNetDevice: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(name: try object.optional("name"))
    }
}

// config-linux.md#control-groups

extension LinuxResources: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            devices: try object.optionalArray("devices"), memory: try object.optional("memory"),
            cpu: try object.optional("cpu"), pids: try object.optional("pids"), blockIO: try object.optional("blockIO"),
            hugepageLimits: try object.optionalArray("hugepageLimits"), network: try object.optional("network"),
            rdma: try object.optionalMap("rdma"), unified: try object.optionalMap("unified"))
    }
}

extension LinuxDeviceCgroup: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            allow: try object.required("allow"), type: try object.optional("type"), major: try object.optional("major"),
            minor: try object.optional("minor"), access: try object.optional("access"))
    }
}

extension LinuxMemory: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            limit: try object.optional("limit"), reservation: try object.optional("reservation"),
            swap: try object.optional("swap"), kernel: try object.optional("kernel"),
            kernelTCP: try object.optional("kernelTCP"), swappiness: try object.optional("swappiness"),
            disableOOMKiller: try object.optional("disableOOMKiller"), useHierarchy: try object.optional("useHierarchy"),
            checkBeforeUpdate: try object.optional("checkBeforeUpdate"))
    }
}

extension LinuxCPU: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            shares: try object.optional("shares"), quota: try object.optional("quota"), burst: try object.optional("burst"),
            period: try object.optional("period"), realtimeRuntime: try object.optional("realtimeRuntime"),
            realtimePeriod: try object.optional("realtimePeriod"), cpus: try object.optional("cpus"),
            mems: try object.optional("mems"), idle: try object.optional("idle"))
    }
}

extension LinuxPids: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(limit: try object.required("limit"))
    }
}

extension LinuxBlockIO: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            weight: try object.optional("weight"), leafWeight: try object.optional("leafWeight"),
            weightDevice: try object.optionalArray("weightDevice"),
            throttleReadBpsDevice: try object.optionalArray("throttleReadBpsDevice"),
            throttleWriteBpsDevice: try object.optionalArray("throttleWriteBpsDevice"),
            throttleReadIOPSDevice: try object.optionalArray("throttleReadIOPSDevice"),
            throttleWriteIOPSDevice: try object.optionalArray("throttleWriteIOPSDevice"))
    }
}

extension LinuxWeightDevice: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            major: try object.required("major"), minor: try object.required("minor"), weight: try object.optional("weight"),
            leafWeight: try object.optional("leafWeight"))
    }
}

extension LinuxThrottleDevice: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(major: try object.required("major"), minor: try object.required("minor"), rate: try object.required("rate"))
    }
}

extension LinuxHugepageLimit: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(pageSize: try object.required("pageSize"), limit: try object.required("limit"))
    }
}

extension LinuxNetwork: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(classID: try object.optional("classID"), priorities: try object.optionalArray("priorities"))
    }
}

extension LinuxInterfacePriority: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(name: try object.required("name"), priority: try object.required("priority"))
    }
}

extension LinuxRdma: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(hcaHandles: try object.optional("hcaHandles"), hcaObjects: try object.optional("hcaObjects"))
    }
}

// config-linux.md#seccomp

extension LinuxSeccomp: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            defaultAction: try object.required("defaultAction"), defaultErrnoRet: try object.optional("defaultErrnoRet"),
            architectures: try object.optionalArray("architectures"), flags: try object.optionalArray("flags"),
            listenerPath: try object.optional("listenerPath"), listenerMetadata: try object.optional("listenerMetadata"),
            syscalls: try object.optionalArray("syscalls"))
    }
}

extension LinuxSyscall: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            names: try object.array("names"), action: try object.required("action"),
            errnoRet: try object.optional("errnoRet"), args: try object.optionalArray("args"))
    }
}

extension LinuxSeccompArg: JSONObjectMapped {
    package init(reading object: JSONObjectReader) throws(SpecError) {
        self.init(
            index: try object.required("index"), value: try object.required("value"),
            valueTwo: try object.optional("valueTwo"), op: try object.required("op"))
    }
}
