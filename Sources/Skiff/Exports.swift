// The `Skiff` product is all an embedder imports: the OCI types its API takes and returns
// (Spec, State, ContainerStatus, Process, LinuxResources…) come with it, and the few names
// that live in lower modules are aliased here rather than making those modules public
// products of their own: kernel-level ones from SkiffLinux, the error and logger types the
// runtime shares with the container's init (SkiffInitProtocol), and the init's entry point
// (SkiffInit), which every embedder calls because its binary is re-executed as that init.
@_exported import SkiffOCI
import SkiffInit
import SkiffInitProtocol
import SkiffLinux

/// Signal names and numbers as runc parses them: `Signals.parse("TERM")`, `Signals.parse("9")`.
public typealias Signals = SkiffLinux.Signals
/// A failed system call: the operation, the path when there is one, and the errno.
public typealias LinuxError = SkiffLinux.LinuxError
/// The runtime's error: a kind, the one-line message, and the failed system call behind it.
public typealias SkiffError = SkiffInitProtocol.SkiffError
/// runc's log lines (logrus text or JSON), to stderr or to the `--log` file.
public typealias SkiffLogger = SkiffInitProtocol.SkiffLogger
/// The Swift half of the container's init: `ContainerInit.main()` when this process was
/// re-executed as `<program> init` (docs/embedding.md).
public typealias ContainerInit = SkiffInit.ContainerInit
