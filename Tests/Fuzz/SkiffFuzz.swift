#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Skiff
import SkiffOCI
#if canImport(Glibc)
import Glibc
#endif

/// One input through everything that reads a document a user or a tampered file controls:
/// config.json decoded and validated as `create` does, process.json as `exec --process` does,
/// and state.json as every command loads it. Errors are the expected outcome for most inputs;
/// a crash, a trap or a hang is the bug.
func fuzzOne(_ bytes: [UInt8]) {
    if let spec = try? Spec.decode(Data(bytes)) {
        _ = spec.validationErrors()
        _ = try? spec.jsonData()
    }
    if let process = try? Process.decode(Data(bytes)) {
        try? process.validate()
    }
    _ = try? StateStore.decodeRecord(bytes, id: "fuzz")
    // skiff reads these documents by hand (SpecReading.swift): whatever the input, the value or
    // the error must be the one their Codable conformances give.
    if let document = try? JSONDocument(parsing: bytes, name: "config.json") {
        agree(document, Spec.self)
        agree(document, Process.self)
        agree(document, LinuxResources.self)
    }
}

func agree<T: Decodable & Equatable>(_ document: JSONDocument, _ type: T.Type) {
    let byHand = Result { () throws(SpecError) -> T in try document.decode(type) }
    let throughCodable = Result { () throws(SpecError) -> T in try document.decodeThroughCodable(type) }
    if byHand != throughCodable {
        fatalError("\(type): read by hand \(byHand), through Codable \(throughCodable)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOne(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if SKIFF_FUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's entry point as `<module>_main`; under -sanitize=fuzzer that is
/// libFuzzer's driver, running the function above.
@_cdecl("SkiffFuzz_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzerTestOneInput(data, size) }
}
#else
/// Without libFuzzer (a plain `swift build`): run each file named on the command line once,
/// to replay a crash or check the seed corpus.
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("skiff-fuzz: cannot read \(path)")
                exit(1)
            }
            fuzzOne(Array(data))
        }
        print("skiff-fuzz: \(CommandLine.arguments.count - 1) inputs, no crash")
    }
}
#endif
