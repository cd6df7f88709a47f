/// How finely the time in a Single-window (`periodInterval: 0`) Observation identifier is written.
///
/// Upstream writes seconds, so two readings of one device and type less than a second apart get
/// one identifier and the second overwrites the first: a heart-rate strap notifying every 300 ms
/// loses two readings in three. Milliseconds (the gateway's default, and the precision readings
/// carry here) give every reading its own Observation; a genuine resend still gets the same id.
package enum ObservationIdPrecision: String, Sendable, CaseIterable {
    /// `yyyyMMddHHmmssfffZ.yyyyMMddHHmmssfffZ`: one Observation per reading.
    case millisecond
    /// `yyyyMMddHHmmssZ.yyyyMMddHHmmssZ`, as upstream: only for sites whose server already holds
    /// Observations with these identifiers. Readings within one second merge into one Observation.
    case second
}
