import Foundation
import Testing

/// Every relative link in README.md and docs/*.md names a file that exists, and an anchor names a
/// heading of that page (GitHub's slugs), so moving text between pages cannot leave a link dangling.
struct DocumentationLinksTests {
    private static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func readmeAndDocsLinksResolve() throws {
        let docs = Self.packageRoot.appendingPathComponent("docs")
        let pages = try FileManager.default.contentsOfDirectory(atPath: docs.path)
            .filter { $0.hasSuffix(".md") }.sorted()
            .map { docs.appendingPathComponent($0) }
        let files = [Self.packageRoot.appendingPathComponent("README.md"), Self.packageRoot.appendingPathComponent("CONTRIBUTING.md")] + pages
        var checked = 0
        for file in files {
            let problems = try LinkCheck.brokenLinks(in: file)
            #expect(problems.isEmpty, "\(file.lastPathComponent): \(problems.joined(separator: "; "))")
            checked += LinkCheck.links(in: try String(contentsOf: file, encoding: .utf8)).count
        }
        // The README alone links a dozen pages; finding none would mean the parser broke.
        #expect(checked > 20)
    }

    @Test func aMissingFileAndAMissingAnchorAreFound() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("links-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "# Target\n\n## The `store` section: keys\n".write(
            to: folder.appendingPathComponent("target.md"), atomically: true, encoding: .utf8)
        let page = folder.appendingPathComponent("page.md")
        try """
            [ok](target.md) [ok anchor](target.md#the-store-section-keys) [web](https://example.org/x)
            [gone](missing.md) [bad anchor](target.md#nowhere) `[in code](missing-too.md)`
            ```
            [in a block](missing-three.md)
            ```
            [self](#target-heading)
            """.write(to: page, atomically: true, encoding: .utf8)
        let problems = try LinkCheck.brokenLinks(in: page)
        #expect(problems == ["missing.md: no such file", "target.md#nowhere: no such heading", "#target-heading: no such heading"])
    }
}

private enum LinkCheck {
    /// Link targets outside code spans and fenced blocks.
    static func links(in text: String) -> [String] {
        var targets: [String] = []
        var inFence = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                inFence.toggle()
                continue
            }
            if inFence { continue }
            // Drop inline code spans: their brackets are expressions, not links.
            let prose = line.split(separator: "`", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: " ")
            var rest = Substring(prose)
            while let close = rest.range(of: "](") {
                let after = rest[close.upperBound...]
                guard let end = after.firstIndex(of: ")") else { break }
                targets.append(String(after[..<end]))
                rest = after[end...]
            }
        }
        return targets
    }

    static func brokenLinks(in file: URL) throws -> [String] {
        let text = try String(contentsOf: file, encoding: .utf8)
        let folder = file.deletingLastPathComponent()
        var problems: [String] = []
        for target in links(in: text) {
            if target.contains("://") || target.hasPrefix("mailto:") { continue }
            let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            let destination = path.isEmpty ? file : folder.appendingPathComponent(path).standardizedFileURL
            guard FileManager.default.fileExists(atPath: destination.path) else {
                problems.append("\(target): no such file")
                continue
            }
            if parts.count == 2, destination.pathExtension == "md" {
                let headings = try slugs(of: String(contentsOf: destination, encoding: .utf8))
                if !headings.contains(String(parts[1])) { problems.append("\(target): no such heading") }
            }
        }
        return problems
    }

    /// GitHub's anchors: lower case, punctuation other than `-` and `_` dropped, spaces to `-`.
    static func slugs(of text: String) -> Set<String> {
        var result: Set<String> = []
        var inFence = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("```") { inFence.toggle() }
            guard !inFence, line.hasPrefix("#") else { continue }
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
            let slug = String(title.lowercased().compactMap { character -> Character? in
                if character == " " { return "-" }
                if character.isLetter || character.isNumber || character == "-" || character == "_" { return character }
                return nil
            })
            result.insert(slug)
        }
        return result
    }
}
