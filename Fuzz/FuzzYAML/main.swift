// libFuzzer target: the YAML loader over libyaml's events, as the configuration and profile.yaml
// files reach it. A loaded tree must keep the loader's bounds (nodes counted with every alias
// expansion, nesting), marks inside the text, and unique keys; a refusal must name a place in it.
import LibFuzzerDriver
import YAML

func walk(_ node: YAMLNode, depth: Int, lines: Int, count: inout Int) {
    count += 1
    guard count <= YAMLLoader.maximumNodes else { fatalError("more nodes than the budget: \(count)") }
    guard depth <= YAMLLoader.maximumDepth + 1 else { fatalError("nested \(depth) deep") }
    let mark = node.mark
    guard mark.line >= 1, mark.line <= lines + 1, mark.column >= 1 else { fatalError("mark outside the text: \(mark)") }
    switch node {
    case .scalar:
        break
    case .sequence(let sequence):
        for item in sequence { walk(item, depth: depth + 1, lines: lines, count: &count) }
    case .mapping(let mapping):
        var keys = Set<String>()
        for (key, value) in mapping {
            if case .scalar(let scalar) = key, !keys.insert(scalar.string).inserted { fatalError("repeated key '\(scalar.string)' loaded") }
            walk(key, depth: depth + 1, lines: lines, count: &count)
            walk(value, depth: depth + 1, lines: lines, count: &count)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // An upper bound of libyaml's line count: it breaks lines at CR, LF, CRLF, NEL, LS and PS.
    let lines = text.unicodeScalars.reduce(1) { ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains($1) ? $0 + 1 : $0 }
    do {
        if let root = try YAMLLoader.load(text) {
            var count = 0
            walk(root, depth: 1, lines: lines, count: &count)
        }
    } catch {
        if let mark = error.mark, mark.line < 1 || mark.line > lines + 1 || mark.column < 1 {
            fatalError("refusal marked outside the text: \(mark) for \(error.message)")
        }
        guard !error.message.isEmpty else { fatalError("refusal without a message") }
    }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzYAML_main")
public func fuzzYAMLMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
