import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
import Mapping
import TestSupport
import Testing

/// Runs the FHIR side of the IoMT conformance cases (`stage: normalize+fhir`, and the FHIR
/// template-load case) as published. Conversion input is the case's expected measurements, so
/// this suite checks grouping and Observation building independently of normalization.
@Suite struct IoMTConversionCaseTests {
    struct ExpectedFailure: Decodable {
        var `case`: String
        var why: String
    }

    /// The cases with a FHIR side: conversion and the FHIR template-load case.
    static let conversionCases = IoMTCase.all.filter {
        $0.expected["stage"]?.stringValue == "normalize+fhir" || $0.expected["fhirTemplateLoad"] != nil
    }
    static let endToEndCases = IoMTCase.all.filter {
        $0.expected["stage"]?.stringValue == "normalize+fhir" && $0.expected["fhir"] != nil
    }

    /// The suite is there (under `CI=true` it must be), holds the FHIR cases 35-45, and the
    /// expected-failures list names only cases it holds.
    @Test func suiteIsTheReviewedOne() throws {
        guard let loaded = try IoMTCase.load() else { return }
        let conversion = loaded.filter { $0.expected["stage"]?.stringValue == "normalize+fhir" || $0.expected["fhirTemplateLoad"] != nil }
        #expect(conversion.count >= 11, "expected cases 35-45")
        #expect(loaded.filter { $0.expected["stage"]?.stringValue == "normalize+fhir" && $0.expected["fhir"] != nil }.count >= 10)
        let names = Set(loaded.map(\.name))
        for name in try Self.expectedFailures().keys.sorted() where !names.contains(name) {
            Issue.record("\(name) is not in the suite; remove it from IoMTConversionExpectedFailures.json")
        }
    }

    @Test(arguments: conversionCases)
    func conversion(_ testCase: IoMTCase) throws {
        let failures = try Self.run(directory: testCase.directory, expected: testCase.expected)
        if let why = try Self.expectedFailures()[testCase.name] {
            #expect(!failures.isEmpty, "\(testCase.name) passes but is listed as an expected failure (\(why)); remove it from the list")
        } else {
            #expect(failures.isEmpty, "\(testCase.name):\n  \(failures.joined(separator: "\n  "))")
        }
    }

    /// The whole path as published: device template on `input.json`, then the FHIR mapping;
    /// the Observations must be the same as when converting the case's listed measurements.
    @Test(arguments: endToEndCases)
    func conversionEndToEnd(_ testCase: IoMTCase) throws {
        let (name, directory, expected) = (testCase.name, testCase.directory, testCase.expected)
        let fhir = try #require(expected["fhir"])
        let deviceText = try String(contentsOf: directory.appendingPathComponent("device-template.json"), encoding: .utf8)
        let fhirText = try String(contentsOf: directory.appendingPathComponent("fhir-template.json"), encoding: .utf8)
        let device = try DeviceTemplateCollection(parsing: deviceText, source: "device-template.json")
        let templates = try FHIRTemplateCollection(parsing: fhirText, source: "fhir-template.json")
        let warnings = templates.compatibilityWarnings(with: device).map(\.message)
        for wanted in expected["templateCompatibilityWarnings"]?.arrayValue ?? [] {
            let prefix = wanted["messageStartsWith"]?.stringValue, part = wanted["messageContains"]?.stringValue
            #expect(warnings.contains(where: { w in prefix.map(w.hasPrefix) ?? part.map(w.contains) ?? false }),
                    "\(name): no compatibility warning like \(wanted); got \(warnings)")
        }
        if expected["templateCompatibilityWarnings"] == nil, name.hasPrefix("36") || name.hasPrefix("43") {
            #expect(warnings == [], "\(name)")
        }
        let input = try Self.json(directory.appendingPathComponent("input.json"))
        let messages = input.arrayValue ?? [input]
        let perMessage = try messages.map { try device.normalize($0) }
        let context = try? Self.json(directory.appendingPathComponent("context.json"))
        let identity: ResourceIdentity = context?["resourceIdentityResolutionType"]?.stringValue == "Create"
            ? .create(deviceSystem: context?["defaultDeviceIdentifierSystem"]?.stringValue) : .none
        let converter = ObservationConverter(templates: templates, identity: identity)
        let issued = Timestamp(millisecondsSinceEpoch: 0)
        var failures: [String] = []
        if fhir["grouping"]?.stringValue == "per-message" {
            let lists = fhir["observations"]?.arrayValue ?? []
            for (index, measurements) in perMessage.enumerated() where index < lists.count {
                let result = converter.convert(measurements, issued: issued)
                failures += Self.compare(result.observations, lists[index].arrayValue ?? [], context != nil, "message \(index)")
            }
        } else {
            let result = converter.convert(perMessage.flatMap { $0 }, issued: issued)
            failures += Self.compare(result.observations, fhir["observations"]?.arrayValue ?? [], context != nil, "batch")
        }
        #expect(failures.isEmpty, "\(name) end to end:\n  \(failures.joined(separator: "\n  "))")
    }

    // MARK: One case

    static func run(directory: URL, expected: JSONValue) throws -> [String] {
        let fhirText = try String(contentsOf: directory.appendingPathComponent("fhir-template.json"), encoding: .utf8)
        if let load = expected["fhirTemplateLoad"], load["valid"] == .bool(false) {
            do {
                _ = try FHIRTemplateCollection(parsing: fhirText, source: "fhir-template.json")
                return ["the FHIR template loaded but should fail"]
            } catch {
                let messages = error.problems.map(\.message)
                return (load["errors"]?.arrayValue ?? []).compactMap { wanted in
                    guard let text = wanted["messageContains"]?.stringValue else { return nil }
                    return messages.contains { $0.contains(text) } ? nil : "no load error contains '\(text)' (got \(messages))"
                }
            }
        }
        let templates: FHIRTemplateCollection
        do {
            templates = try FHIRTemplateCollection(parsing: fhirText, source: "fhir-template.json")
        } catch {
            return ["FHIR template failed to load: \(error)"]
        }
        let context = try? json(directory.appendingPathComponent("context.json"))
        let identity: ResourceIdentity
        if context?["resourceIdentityResolutionType"]?.stringValue == "Create" {
            identity = .create(deviceSystem: context?["defaultDeviceIdentifierSystem"]?.stringValue)
        } else {
            identity = .none
        }
        let converter = ObservationConverter(templates: templates, identity: identity)
        guard let fhir = expected["fhir"], let results = expected["results"]?.arrayValue else {
            return ["expected.json has no fhir/results"]
        }
        let perMessage: [[Mapping.Measurement]] = try results.map { result in
            try (result["measurements"]?.arrayValue ?? []).map { try measurement($0) }
        }
        let issued = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
        var failures: [String] = []
        var allErrors: [ConversionError] = []
        let compareIdentity = context != nil
        if fhir["grouping"]?.stringValue == "per-message" {
            let expectedLists = fhir["observations"]?.arrayValue ?? []
            guard expectedLists.count == perMessage.count else {
                return ["\(expectedLists.count) observation lists for \(perMessage.count) messages"]
            }
            for (index, measurements) in perMessage.enumerated() {
                let result = converter.convert(measurements, issued: issued)
                allErrors += result.errors
                failures += compare(result.observations, expectedLists[index].arrayValue ?? [], compareIdentity, "message \(index)")
            }
        } else {
            let result = converter.convert(perMessage.flatMap { $0 }, issued: issued)
            allErrors = result.errors
            failures += compare(result.observations, fhir["observations"]?.arrayValue ?? [], compareIdentity, "batch")
        }
        let wantedErrors = fhir["errors"]?.arrayValue ?? []
        for wanted in wantedErrors {
            let type = wanted["type"]?.stringValue
            let forType = wanted["forType"]?.stringValue
            if !allErrors.contains(where: { $0.type == type && (forType == nil || $0.measurementType == forType) }) {
                failures.append("missing error \(type ?? "?") for \(forType ?? "any type"); got \(allErrors.map(\.description))")
            }
        }
        if wantedErrors.isEmpty, !allErrors.isEmpty {
            failures.append("unexpected errors: \(allErrors.map(\.description))")
        }
        failures += checkCreatedResources(fhir["interactions"], identity: context)
        return failures
    }

    /// Create mode: the Patient and Device bodies upstream PUTs are what ResourceIdentity builds.
    static func checkCreatedResources(_ interactions: JSONValue?, identity context: JSONValue?) -> [String] {
        guard let interactions = interactions?.arrayValue else { return [] }
        var failures: [String] = []
        var patientResourceId: String?
        for interaction in interactions where interaction["method"]?.stringValue == "PUT" {
            guard let body = interaction["body"], case .object = body else { continue }
            let url = interaction["url"]?.stringValue ?? ""
            switch body["resourceType"]?.stringValue {
            case "Patient":
                guard let value = body["identifier"]?.arrayValue?.first?["value"]?.stringValue else { continue }
                let patient = ResourceIdentity.createModePatient(patientId: value)
                patientResourceId = patient.id
                if patient.json != body { failures.append("Patient body differs: \(patient.json) vs \(body)") }
                if url != "Patient/\(patient.id ?? "")" { failures.append("Patient URL \(url)") }
            case "Device":
                guard let value = body["identifier"]?.arrayValue?.first?["value"]?.stringValue, let patientResourceId else { continue }
                let device = ResourceIdentity.createModeDevice(
                    deviceId: value, system: context?["defaultDeviceIdentifierSystem"]?.stringValue, patientResourceId: patientResourceId)
                if device.json != body { failures.append("Device body differs: \(device.json) vs \(body)") }
                if url != "Device/\(device.id ?? "")" { failures.append("Device URL \(url)") }
            default:
                continue
            }
        }
        return failures
    }

    static func compare(_ actual: [Observation], _ expected: [JSONValue], _ compareIdentity: Bool, _ label: String) -> [String] {
        guard actual.count == expected.count else {
            return ["\(label): \(actual.count) observations, expected \(expected.count): \(actual.map(\.json))"]
        }
        var failures: [String] = []
        for (index, (observation, wanted)) in zip(actual, expected).enumerated() {
            let a = normalized(observation.json, compareIdentity)
            let e = normalized(wanted, compareIdentity)
            if let difference = firstDifference(a, e, path: "Observation") {
                failures.append("\(label) observation \(index): \(difference)")
            }
        }
        return failures
    }

    /// Drops what the cases say to ignore and brings period bounds to millisecond instants.
    static func normalized(_ observation: JSONValue, _ compareIdentity: Bool) -> JSONValue {
        guard case .object(var object) = observation else { return observation }
        object["issued"] = nil
        object["meta"] = nil
        if !compareIdentity {
            for key in ["id", "identifier", "subject", "device"] { object[key] = nil }
        }
        if case .object(var period)? = object["effectivePeriod"] {
            for key in ["start", "end"] {
                if let text = period[key]?.stringValue, let instant = Timestamp(parsingISO8601Lenient: text) {
                    period[key] = .string(instant.iso8601)
                }
            }
            object["effectivePeriod"] = .object(period)
        }
        return .object(object)
    }

    static func firstDifference(_ a: JSONValue, _ e: JSONValue, path: String) -> String? {
        switch (a, e) {
        case (.object(let x), .object(let y)):
            for key in Set(x.keys).union(y.keys).sorted() {
                guard let xv = x[key] else { return "\(path).\(key) missing" }
                guard let yv = y[key] else { return "\(path).\(key) unexpected: \(xv)" }
                if let d = firstDifference(xv, yv, path: "\(path).\(key)") { return d }
            }
            return nil
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return "\(path): \(x.count) elements, expected \(y.count)" }
            for (i, (xv, yv)) in zip(x, y).enumerated() {
                if let d = firstDifference(xv, yv, path: "\(path)[\(i)]") { return d }
            }
            return nil
        default:
            if a == e { return nil }
            let show: (JSONValue) -> String = { value in
                let text = value.description
                return text.count > 120 ? String(text.prefix(120)) + "..." : text
            }
            return "\(path): \(show(a)), expected \(show(e))"
        }
    }

    // MARK: Reading case files

    static func measurement(_ json: JSONValue) throws -> Mapping.Measurement {
        guard let type = json["Type"]?.stringValue, let time = json["OccurrenceTimeUtc"]?.stringValue,
            let instant = Timestamp(parsingISO8601Lenient: time), let device = json["DeviceId"]?.stringValue
        else { throw CaseError(message: "malformed measurement \(json)") }
        let properties = (json["Properties"]?.arrayValue ?? []).compactMap { p -> Mapping.Measurement.Property? in
            guard let name = p["Name"]?.stringValue, let value = p["Value"]?.stringValue else { return nil }
            return Mapping.Measurement.Property(name: name, value: value)
        }
        return Mapping.Measurement(
            type: type, occurrenceTime: instant, deviceId: device, patientId: json["PatientId"]?.stringValue,
            encounterId: json["EncounterId"]?.stringValue, correlationId: json["CorrelationId"]?.stringValue,
            properties: properties)
    }

    struct CaseError: Error { var message: String }

    static func json(_ url: URL) throws -> JSONValue {
        try JSONValue(parsing: Array(try Data(contentsOf: url)))
    }

    static func expectedFailures() throws -> [String: String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("IoMTConversionExpectedFailures.json")
        let list = try JSONDecoder().decode([ExpectedFailure].self, from: Data(contentsOf: url))
        return Dictionary(list.map { ($0.case, $0.why) }, uniquingKeysWith: { a, _ in a })
    }
}
