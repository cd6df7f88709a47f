/// The table a row id belongs to, as ids print (`inbox/42`).
package protocol RowTable: Sendable {
    static var name: String { get }
}

package enum InboxRows: RowTable { package static let name = "inbox" }
package enum OutboxRows: RowTable { package static let name = "outbox" }
package enum DeadLetterRows: RowTable { package static let name = "deadletter" }

/// Row id of one of the store's tables. The tables' ids differ only in what they name, so one
/// type serves them all, and an inbox id still cannot be passed where an outbox id is meant.
package struct RowID<Table: RowTable>: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    package let rawValue: Int64
    package init(rawValue: Int64) { self.rawValue = rawValue }
    package init(_ rawValue: Int64) { self.rawValue = rawValue }
    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    package var description: String { "\(Table.name)/\(rawValue)" }
}

/// Row id of a message in the inbox.
package typealias InboxID = RowID<InboxRows>
/// Row id of a resource in the outbox.
package typealias OutboxID = RowID<OutboxRows>
/// Row id of a dead letter.
package typealias DeadLetterID = RowID<DeadLetterRows>
