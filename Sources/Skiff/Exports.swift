// The `Skiff` product is all an embedder imports: the OCI types its API takes and returns
// (Spec, State, ContainerStatus, Process, LinuxResources…) come with it, and the few kernel-level
// names it needs are aliased here rather than making SkiffLinux, the runtime's door to the
// kernel, a public product of its own.
@_exported import SkiffOCI
import SkiffLinux

/// Signal names and numbers as runc parses them: `Signals.parse("TERM")`, `Signals.parse("9")`.
public typealias Signals = SkiffLinux.Signals
/// A failed system call: the operation, the path when there is one, and the errno.
public typealias LinuxError = SkiffLinux.LinuxError
