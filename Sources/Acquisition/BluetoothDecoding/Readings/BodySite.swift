package import JSONQuery

/// Where on the body a reading was taken, as a FHIR CodeableConcept for `Observation.bodySite`:
/// the thermometer's Temperature Type, coded in SNOMED CT (the body structures of the HL7 vital
/// signs body-temperature location value set). "Body (general)" and reserved types name no site;
/// the gastrointestinal tract has no code here and is written as text.
extension HealthReading {
    package var bodySite: JSONValue? {
        guard characteristic == .temperatureMeasurement || characteristic == .intermediateTemperature,
              case .int(let type)? = details["temperatureType"]
        else { return nil }
        let text: String
        let coding: (code: String, display: String)?
        switch type {
        case 1: (text, coding) = ("Armpit", ("422543003", "Structure of axillary fossa"))
        case 3: (text, coding) = ("Ear", ("117590005", "Ear structure"))
        case 4: (text, coding) = ("Finger", ("7569003", "Finger structure"))
        case 5: (text, coding) = ("Gastrointestinal tract", nil)
        case 6: (text, coding) = ("Mouth", ("74262004", "Oral cavity structure"))
        case 7: (text, coding) = ("Rectum", ("34402009", "Rectum structure"))
        case 8: (text, coding) = ("Toe", ("29707007", "Toe structure"))
        case 9: (text, coding) = ("Tympanum", ("42859004", "Tympanic membrane structure"))
        default: return nil
        }
        var concept: JSONObject = [:]
        if let coding {
            concept["coding"] = [["system": "http://snomed.info/sct", "code": .string(coding.code), "display": .string(coding.display)]]
        }
        concept["text"] = .string(text)
        return .object(concept)
    }
}
