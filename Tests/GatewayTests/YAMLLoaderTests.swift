import XCTest
import YAML
@testable import Gateway

final class YAMLLoaderTests: XCTestCase {
    func load(_ text: String) throws -> YAMLNode? {
        try YAMLLoader.load(text)
    }

    func refusal(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> YAMLError? {
        do {
            // Not described: a tree that passed the budget could be too large to print.
            _ = try YAMLLoader.load(text)
            XCTFail("expected a refusal, but the text loaded", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func members(_ node: YAMLNode?) -> [String: YAMLNode] {
        guard case .mapping(let mapping) = node else { return [:] }
        var members: [String: YAMLNode] = [:]
        for (key, value) in mapping {
            if case .scalar(let name) = key { members[name.string] = value }
        }
        return members
    }

    func scalar(_ node: YAMLNode?) -> YAMLNode.Scalar? {
        if case .scalar(let scalar) = node { return scalar }
        return nil
    }

    func testScalarsKeepTheirTextStyleTagAndMark() throws {
        let root = try load("""
            plain: text here
            single: 'it''s'
            double: "tab\\there"
            literal: |
              two
              lines
            folded: >
              one
              line
            # a comment between keys
            tagged: !!str 12
            flow: [1, {inner: x}]   # and one after a value
            """)
        let members = members(root)
        XCTAssertEqual(scalar(members["plain"]), YAMLNode.Scalar(string: "text here", style: .plain, mark: YAMLMark(line: 1, column: 8)))
        XCTAssertEqual(scalar(members["single"])?.string, "it's")
        XCTAssertEqual(scalar(members["single"])?.style, .singleQuoted)
        XCTAssertEqual(scalar(members["double"])?.string, "tab\there")
        XCTAssertEqual(scalar(members["double"])?.style, .doubleQuoted)
        XCTAssertEqual(scalar(members["literal"])?.string, "two\nlines\n")
        XCTAssertEqual(scalar(members["literal"])?.style, .literal)
        XCTAssertEqual(scalar(members["folded"])?.string, "one line\n")
        XCTAssertEqual(scalar(members["folded"])?.style, .folded)
        XCTAssertEqual(scalar(members["tagged"])?.tag, "tag:yaml.org,2002:str")
        XCTAssertNil(scalar(members["plain"])?.tag)
        XCTAssertEqual(members.count, 7, "the comments are no nodes")
        guard case .sequence(let flow) = members["flow"] else { return XCTFail("flow is a list: \(String(describing: members["flow"]))") }
        XCTAssertEqual(flow.mark, YAMLMark(line: 12, column: 7))
        XCTAssertEqual(flow.count, 2)
        XCTAssertEqual(scalar(flow[0])?.string, "1")
        XCTAssertEqual(scalar(self.members(flow[1])["inner"]), YAMLNode.Scalar(string: "x", style: .plain, mark: YAMLMark(line: 12, column: 19)))
        guard case .mapping(let mapping) = root else { return XCTFail("root is a mapping") }
        XCTAssertEqual(mapping.map { scalar($0.key)?.string }, ["plain", "single", "double", "literal", "folded", "tagged", "flow"], "pairs keep document order")
        XCTAssertEqual(mapping[3].key.mark, YAMLMark(line: 4, column: 1))
    }

    func testTextWithoutADocumentHasNoRoot() throws {
        XCTAssertNil(try load(""))
        XCTAssertNil(try load("# only a comment\n\n"))
        XCTAssertEqual(scalar(try load("---\n")), YAMLNode.Scalar(string: "", style: .plain, mark: YAMLMark(line: 2, column: 1)),
                       "an explicit document that is empty is one empty scalar")
        XCTAssertEqual(scalar(members(try load("a: 1\n...\n"))["a"])?.string, "1", "an explicit document end is still one document")
    }

    func testASecondDocumentIsRefusedWhereItStarts() {
        let error = refusal("a: 1\n---\nb: 2\n")
        XCTAssertEqual(error?.mark, YAMLMark(line: 2, column: 1))
        XCTAssertEqual(error?.message, "expected a single document, but found another one")
    }

    func testAliasesStandForTheirAnchoredNode() throws {
        let members = members(try load("base: &b {host: 127.0.0.1, port: 8}\ncopy: *b\nname: &n ward\nagain: *n\n"))
        XCTAssertEqual(scalar(self.members(members["copy"])["port"])?.string, "8")
        XCTAssertEqual(scalar(members["again"])?.string, "ward")
        XCTAssertEqual(members["copy"]?.mark, YAMLMark(line: 1, column: 7), "an alias carries its anchored node, marked where the anchor is")

        let undefined = refusal("a: *nowhere\n")
        XCTAssertEqual(undefined?.message, "found undefined alias 'nowhere'")
        XCTAssertEqual(undefined?.mark, YAMLMark(line: 1, column: 4))
        XCTAssertEqual(refusal("a: &self [*self]\n")?.message, "found undefined alias 'self'", "a node cannot contain itself")
    }

    /// Each level lists the previous one ten times: level n stands for 10^n nodes.
    func laughs(levels: Int) -> String {
        var text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...levels {
            let previous = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            text += "l\(level): &l\(level) [\(previous)]\n"
        }
        return text
    }

    func testAliasExpansionIsBoundedAgainstBillionLaughs() throws {
        // Levels 0 to 3 with their keys: 12 339 nodes, each alias counted with all it stands for: within the budget.
        let fine = try load(laughs(levels: 3))
        guard case .sequence(let top) = members(fine)["l3"], case .sequence(let middle) = top[9] else { return XCTFail("l3 is a list of lists") }
        XCTAssertEqual(middle.count, 10)

        let error = refusal(laughs(levels: 9))
        XCTAssertEqual(error?.message, "aliases expand the document beyond \(YAMLLoader.maximumNodes) nodes")
        XCTAssertEqual(error?.mark?.line, 5, "level 4 is where the count passes 100 000")
    }

    func testNestingAndSizeAreBounded() throws {
        let depth = YAMLLoader.maximumDepth
        XCTAssertNotNil(try load(String(repeating: "[", count: depth) + String(repeating: "]", count: depth)))
        let deep = refusal(String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1))
        XCTAssertEqual(deep?.message, "nested deeper than \(depth) levels")
        XCTAssertEqual(deep?.mark, YAMLMark(line: 1, column: depth + 1))

        let large = refusal("a: " + String(repeating: "x", count: YAMLLoader.maximumBytes))
        XCTAssertEqual(large?.message, "larger than 1 MiB; a configuration is far smaller")
        XCTAssertNil(large?.mark)

        let items = Array(repeating: "1", count: YAMLLoader.maximumNodes).joined(separator: ",")
        XCTAssertEqual(refusal("[" + items + "]")?.message, "more than \(YAMLLoader.maximumNodes) nodes", "the list and its items")
    }

    func testDuplicateKeysAreRefusedWithTheirPathAndBothPlaces() {
        let nested = refusal("http:\n  listen: a\n  idleTimeout: 5s\n  listen: b\n")
        XCTAssertEqual(nested?.keyPath, "http.listen")
        XCTAssertEqual(nested?.mark, YAMLMark(line: 4, column: 3))
        XCTAssertEqual(nested?.message, "duplicate key; first given at line 2, column 3")

        XCTAssertEqual(refusal("a: 1\n\"a\": 2\n")?.keyPath, "a", "a key is its text however it is quoted")
        XCTAssertEqual(refusal("list:\n  - {k: 1, k: 2}\n")?.keyPath, "list[0].k")
        XCTAssertEqual(refusal("m:\n  x: {y: 1}\n  z: [{}, {q: 1, q: 2}]\n")?.keyPath, "m.z[1].q")
        XCTAssertNoThrow(try load("a: {k: 1}\nb: {k: 2}\n"), "the same key in two mappings is no repetition")
    }

    func testLibyamlSyntaxErrorsNameLineAndColumn() {
        let tab = refusal("a: 1\n\tb: 2\n")
        XCTAssertEqual(tab?.mark, YAMLMark(line: 2, column: 1))
        XCTAssertEqual(tab?.message, "found a tab character that violates indentation while scanning a plain scalar started at line 1, column 4")

        let unclosed = refusal("a: 1\nb: [x, y\nc: 3\n")
        XCTAssertEqual(unclosed?.message.hasPrefix("did not find expected ',' or ']' while parsing a flow sequence started at line 2, column 4"), true,
                       "\(String(describing: unclosed))")
        XCTAssertEqual(unclosed?.mark, YAMLMark(line: 3, column: 2), "a key cannot span lines: the colon on line 3 is where the list is found unclosed")

        let control = refusal("a: b\nc: d\u{7}\n")
        XCTAssertEqual(control?.message, "control characters are not allowed (U+0007)")
        XCTAssertEqual(control?.mark, YAMLMark(line: 2, column: 5))
        XCTAssertEqual(refusal("a: b\r\nc: d\u{7}\n")?.mark, YAMLMark(line: 2, column: 5), "CRLF is one line break")
        XCTAssertEqual(refusal("a: b\rc: d\u{7}\n")?.mark, YAMLMark(line: 2, column: 5), "so is CR alone, as libyaml counts")
        XCTAssertEqual(members(try? load("a: 1\r\nb: 2\r\n"))["b"]?.mark, YAMLMark(line: 2, column: 4), "CRLF files load")
    }

    func testConfigurationProblemsOfTheYAMLItselfNameLineAndColumn() {
        func problems(_ yaml: String) -> [ConfigurationProblem] {
            do {
                _ = try GatewayConfiguration.decode(yaml: yaml, file: "config.yaml", baseDirectory: "/etc/fhir-edge")
                return []
            } catch {
                return error.problems
            }
        }
        XCTAssertEqual(problems("dataDir: d\ndataDir: e\nprofiles: {directory: p}").map(\.description),
                       ["config.yaml: dataDir: not valid YAML: duplicate key; first given at line 1, column 1 (line 2, column 1)"])
        XCTAssertEqual(problems("dataDir: d\n\tprofiles: {directory: p}").first?.description.hasSuffix("(line 2, column 1)"), true)
        XCTAssertEqual(problems("dataDir: d\n---\nprofiles: {directory: p}").map(\.description),
                       ["config.yaml: not valid YAML: expected a single document, but found another one (line 2, column 1)"])
        // Problems the schema finds keep naming the line alone, as they always have.
        XCTAssertEqual(problems("dataDir: d\nprofiles: {directory: p}\nmapping: {batchSize: lots}").map(\.description),
                       ["config.yaml: mapping.batchSize: expected a whole number (line 3)"])
    }

    /// What the configuration reader makes of scalars: only plain ones resolve to null, booleans
    /// and numbers, with the core schema's spellings (no YAML 1.1 `yes`/`on`); quoted ones are text.
    func testPlainScalarsResolveAsTheReaderExpects() throws {
        func read<T>(_ text: String, _ body: (inout YAMLNodeReader, YAMLNode) -> T?) throws -> (T?, [String]) {
            var reader = YAMLNodeReader(file: "t.yaml")
            let node = try XCTUnwrap(members(try load("v: " + text))["v"])
            let value = body(&reader, node)
            return (value, reader.problems.map(\.message))
        }
        for text in ["true", "True", "TRUE"] { XCTAssertEqual(try read(text) { $0.bool($1, at: "v") }.0, true, text) }
        for text in ["false", "False", "FALSE"] { XCTAssertEqual(try read(text) { $0.bool($1, at: "v") }.0, false, text) }
        for text in ["\"true\"", "'false'", "yes", "on", "1", "tRue"] {
            XCTAssertEqual(try read(text) { $0.bool($1, at: "v") }.1, ["expected true or false"], text)
        }
        for text in ["", "~", "null", "Null", "NULL"] {
            XCTAssertEqual(try read(text) { $0.string($1, at: "v") }.1, ["expected text, found nothing"], "'\(text)'")
        }
        for (text, value) in [("'~'", "~"), ("\"null\"", "null"), ("nULL", "nULL"), ("12", "12"), ("|\n  block\n", "block\n")] {
            XCTAssertEqual(try read(text) { $0.string($1, at: "v") }.0, value, text)
        }
        XCTAssertEqual(try read("42") { $0.integer($1, at: "v", range: 0...100) }.0, 42)
        XCTAssertEqual(try read("+7") { $0.integer($1, at: "v", range: 0...100) }.0, 7)
        for text in ["\"42\"", "'42'", "0x10", "4.0", "1_000", "|\n  5\n"] {
            XCTAssertEqual(try read(text) { $0.integer($1, at: "v", range: 0...10_000) }.1, ["expected a whole number"], text)
        }
        XCTAssertEqual(try read("\"512MiB\"") { $0.size($1, at: "v") }.0, 512 << 20, "sizes and durations read any scalar's text")
    }
}
