import CNsexec

/// The C stage (Sources/CNsexec): a constructor that runs before Swift's main in `skiff init`
/// and makes the namespace calls (clone, setns, unshare) that only a single-threaded process
/// may make. It is the one part of the kernel side that is not Swift.
public enum CStage {
    /// Always true. Referencing it makes the linker keep the object file that holds the
    /// constructor: nothing else in Swift calls into it.
    public static var isLinked: Bool { skiff_nsexec_linked() != 0 }

    /// True in the container's init: the C stage ran and returned in stage 2. Not from the
    /// arguments: Swift reads those from /proc/self/cmdline, which by then is the container's.
    public static var isContainerInit: Bool { skiff_nsexec_is_container_init() != 0 }
}
