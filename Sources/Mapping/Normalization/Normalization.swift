package import EdgeCore
package import JSONQuery

extension DeviceTemplateCollection {
    /// Applies every template to one device message (template order, then match order).
    ///
    /// Any failure fails the whole message, as upstream: no measurement is returned for it,
    /// including those of matches and templates that succeeded before the failure.
    /// `ingestionTime` and `receiveSequence` say when the message arrived and in what order.
    package func normalize(
        _ message: JSONValue, ingestionTime: Timestamp? = nil, receiveSequence: Int64? = nil
    ) throws(NormalizationError) -> [Measurement] {
        let arrival = Arrival(time: ingestionTime, sequence: receiveSequence)
        var measurements: [Measurement] = []
        // CalculatedContent evaluates against the message plus a `matchedToken` member. The
        // copy is made once per message; each match then replaces the member in place.
        var context: JSONObject?
        for template in templates {
            let matches: [JSONValue]
            do {
                matches = try template.typeMatch.matches(in: message)
            } catch {
                throw template.failure(error, member: "typeMatchExpression", name: "TypeMatchExpression", expression: template.typeMatch)
            }
            guard !matches.isEmpty else { continue }
            if template.kind.evaluatesAgainstMessage {
                var object = context ?? message.objectValue ?? JSONObject()
                context = nil  // keep the storage uniquely referenced while it is mutated
                for match in matches {
                    object["matchedToken"] = match
                    measurements.append(try template.measurement(from: .object(object), arrival: arrival))
                }
                context = object
            } else {
                for match in matches {
                    measurements.append(try template.measurement(from: match, arrival: arrival))
                }
            }
        }
        return measurements
    }
}

/// When and in what order a message arrived, as every measurement from it carries.
struct Arrival {
    var time: Timestamp?
    var sequence: Int64?
}

extension DeviceContentTemplate {
    /// Extracts one measurement from the evaluation document of one match, in upstream's order
    /// (device id, timestamp, correlation id, patient id, encounter id, values), which decides
    /// the error reported when several things are wrong.
    func measurement(from document: JSONValue, arrival: Arrival) throws(NormalizationError) -> Measurement {
        let device = try requiredText(deviceId, in: document)
        let time = try occurrenceTime(in: document)
        var correlation: String?
        if let correlationId { correlation = try requiredText(correlationId, in: document) }
        var patient: String?
        if let patientId { patient = try optionalText(patientId.expression, member: patientId.member, in: document) }
        var encounter: String?
        if let encounterId { encounter = try optionalText(encounterId.expression, member: encounterId.member, in: document) }

        var properties: [Measurement.Property] = []
        properties.reserveCapacity(values.count)
        for (i, value) in values.enumerated() {
            let node: JSONValue?
            do {
                node = try value.expression.value(in: document)
            } catch {
                throw failure(error, member: "values[\(i)].valueExpression", name: value.name, expression: value.expression)
            }
            let text = node.flatMap(ValueText.string)
            if value.required {
                guard let text, !ValueText.isBlank(text) else {
                    throw missing(member: "values[\(i)].valueExpression", name: value.name, expression: value.expression)
                }
                properties.append(.init(name: value.name, value: text))
            } else if let text {
                properties.append(.init(name: value.name, value: text))
            }
        }
        return Measurement(
            type: typeName, occurrenceTime: time, ingestionTime: arrival.time, receiveSequence: arrival.sequence, deviceId: device,
            patientId: patient, encounterId: encounter, correlationId: correlation, properties: properties)
    }

    private func requiredText(_ field: Field, in document: JSONValue) throws(NormalizationError) -> String {
        let node: JSONValue?
        do {
            node = try field.expression.value(in: document)
        } catch {
            throw failure(error, member: field.member, name: field.displayName, expression: field.expression)
        }
        guard let text = node.flatMap(ValueText.string), !ValueText.isBlank(text) else {
            throw missing(member: field.member, name: field.displayName, expression: field.expression)
        }
        return text
    }

    /// Patient and encounter ids: missing, null or unconvertible is nil; an empty string is kept.
    private func optionalText(_ expression: TemplateExpression, member: String, in document: JSONValue) throws(NormalizationError) -> String? {
        do {
            return try expression.value(in: document).flatMap(ValueText.string)
        } catch {
            throw failure(error, member: member, name: TemplateObjectReader.pascalCase(member), expression: expression)
        }
    }

    private func occurrenceTime(in document: JSONValue) throws(NormalizationError) -> Timestamp {
        var expression = timestamp.expression
        var node: JSONValue?
        do {
            node = try expression.value(in: document)
            // IoT Hub: the enqueued time stands in only when the creation time is absent.
            if node == nil, let timestampFallback {
                expression = timestampFallback
                node = try expression.value(in: document)
            }
        } catch {
            throw failure(error, member: timestamp.member, name: timestamp.displayName, expression: expression)
        }
        guard let node, !node.isNull else {
            throw missing(member: timestamp.member, name: timestamp.displayName, expression: expression)
        }
        // Numbers are not date-times upstream either: epoch values go through fromUnixTimestamp.
        guard case .string(let text) = node, let time = Timestamp(parsingISO8601Lenient: text) else {
            throw NormalizationError(
                type: NormalizationError.incompatibleData,
                message: "Unable to convert the value of [\(timestamp.displayName)] using \(expression.text) to a date-time: expected an ISO 8601 date-time string, found \(node.isNumber ? "a number" : node.typeName == "string" ? "an unparseable string" : "a " + node.typeName).",
                templateIndex: index, templateType: templateType, field: timestamp.member)
        }
        return time
    }

    private func missing(member: String, name: String, expression: TemplateExpression) -> NormalizationError {
        NormalizationError(
            type: NormalizationError.incompatibleData,
            message: "Unable to extract required value for [\(name)] using \(expression.text)",
            templateIndex: index, templateType: templateType, field: member)
    }

    func failure(_ error: TemplateExpression.EvaluationError, member: String, name: String, expression: TemplateExpression) -> NormalizationError {
        switch error {
        case .multipleTokens:
            NormalizationError(
                type: NormalizationError.multipleTokens,
                message: "Multiple tokens were returned for [\(name)] using \(expression.text); a single value is expected",
                templateIndex: index, templateType: templateType, field: member)
        case .engine(let reason):
            NormalizationError(
                type: NormalizationError.expressionEvaluation,
                message: "Evaluating [\(name)] using \(expression.text) failed: \(reason)",
                templateIndex: index, templateType: templateType, field: member)
        }
    }
}
