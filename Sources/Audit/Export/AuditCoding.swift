import Store

/// How a journal kind is coded in a FHIR R4 AuditEvent: the DICOM event type, a subtype from the
/// FHIR RESTful interaction or DICOM codes, the CRUDE action and the outcome.
struct AuditCoding {
    struct Code {
        var system: String
        var code: String
        var display: String
    }

    var type: Code
    var subtype: Code?
    /// C, R, U, D or E.
    var action: String
    /// 0 success, 4 minor failure, 8 serious failure, 12 major failure.
    var outcome: String

    static let dicom = "http://dicom.nema.org/resources/ontology/DCM"
    static let restful = "http://hl7.org/fhir/restful-interaction"

    static let applicationActivity = Code(system: dicom, code: "110100", display: "Application Activity")
    static let auditLogUsed = Code(system: dicom, code: "110101", display: "Audit Log Used")
    static let export = Code(system: dicom, code: "110106", display: "Export")
    static let importing = Code(system: dicom, code: "110107", display: "Import")
    static let query = Code(system: dicom, code: "110112", display: "Query")

    static func interaction(_ code: String) -> Code { Code(system: restful, code: code, display: code) }

    static func forKind(_ kind: JournalKind) -> AuditCoding {
        switch kind {
        case .inboxReceived:
            AuditCoding(type: importing, subtype: interaction("create"), action: "C", outcome: "0")
        case .mappingCompleted:
            AuditCoding(type: applicationActivity, subtype: interaction("create"), action: "C", outcome: "0")
        case .deadLetterCreated:
            AuditCoding(type: applicationActivity, subtype: interaction("create"), action: "C", outcome: "4")
        case .deadLetterReplayed:
            AuditCoding(type: applicationActivity, subtype: interaction("update"), action: "U", outcome: "0")
        case .outboxSent:
            AuditCoding(type: export, subtype: interaction("update"), action: "E", outcome: "0")
        case .outboxRejected:
            AuditCoding(type: export, subtype: interaction("update"), action: "E", outcome: "4")
        case .outboxKept:
            AuditCoding(type: export, subtype: interaction("update"), action: "E", outcome: "4")
        case .deadLetterDiscarded:
            AuditCoding(type: applicationActivity, subtype: interaction("delete"), action: "D", outcome: "0")
        case .retentionEvicted:
            AuditCoding(type: applicationActivity, subtype: interaction("delete"), action: "D", outcome: "0")
        case .unsyncedEvicted:
            AuditCoding(type: applicationActivity, subtype: interaction("delete"), action: "D", outcome: "4")
        case .highWaterReached:
            AuditCoding(type: applicationActivity, subtype: nil, action: "E", outcome: "4")
        case .highWaterCleared, .workResumed:
            AuditCoding(type: applicationActivity, subtype: nil, action: "E", outcome: "0")
        case .kitExported:
            AuditCoding(type: export, subtype: interaction("search-type"), action: "R", outcome: "0")
        case .kitImported:
            AuditCoding(type: importing, subtype: interaction("create"), action: "C", outcome: "0")
        case .kitReconciled:
            AuditCoding(type: applicationActivity, subtype: interaction("update"), action: "U", outcome: "0")
        default:
            fallback(kind.rawValue)
        }
    }

    /// Caller-defined kinds by prefix: `access.*` reads, `audit.*` journal use, `app.start`/`app.stop`.
    private static func fallback(_ kind: String) -> AuditCoding {
        if kind == "app.start" {
            return AuditCoding(type: applicationActivity, subtype: Code(system: dicom, code: "110120", display: "Application Start"), action: "E", outcome: "0")
        }
        if kind == "app.stop" {
            return AuditCoding(type: applicationActivity, subtype: Code(system: dicom, code: "110121", display: "Application Stop"), action: "E", outcome: "0")
        }
        if kind.hasPrefix("audit.") {
            return AuditCoding(type: auditLogUsed, subtype: nil, action: "R", outcome: "0")
        }
        if kind.hasPrefix("access.export") {
            return AuditCoding(type: export, subtype: interaction("search-type"), action: "R", outcome: "0")
        }
        if kind.hasPrefix("access.") {
            return AuditCoding(type: query, subtype: interaction("read"), action: "R", outcome: "0")
        }
        return AuditCoding(type: applicationActivity, subtype: nil, action: "E", outcome: "0")
    }
}
