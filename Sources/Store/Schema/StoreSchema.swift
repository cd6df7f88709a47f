
/// The database schema, as an ordered list of migrations. Never edit a registered migration:
/// add a new one, so that every existing store upgrades the same way.
enum StoreSchema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: inbox, outbox, dead letters, journal") { db in
            try db.execute(sql: version1)
        }
        migrator.registerMigration("v2: server identities") { db in
            try db.execute(sql: version2)
        }
        migrator.registerMigration("v3: outbox lease index") { db in
            try db.execute(sql: version3)
        }
        migrator.registerMigration("v4: sealed server identifiers") { db in
            try db.execute(sql: version4)
        }
        migrator.registerMigration("v5: row counts kept by triggers") { db in
            try db.execute(sql: version5)
        }
        migrator.registerMigration("v6: delivery keys") { db in
            try db.execute(sql: version6)
        }
        migrator.registerMigration("v7: journal retention") { db in
            try db.execute(sql: version7)
        }
        migrator.registerMigration("v8: field kits") { db in
            try db.execute(sql: version8)
        }
        return migrator
    }()

    /// Times are UTC milliseconds since the epoch; sizes are payload/body bytes.
    private static let version1 = """
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            profile TEXT NOT NULL,
            transport TEXT NOT NULL,
            source_id TEXT NOT NULL,
            device_id TEXT,
            received_at INTEGER NOT NULL,
            device_time INTEGER,
            payload BLOB NOT NULL,
            size INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'mapped')),
            replay_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX inbox_by_state ON inbox(state, id);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            inbox_id INTEGER,
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            identity_key TEXT NOT NULL,
            body TEXT NOT NULL,
            size INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'sent')),
            attempts INTEGER NOT NULL DEFAULT 0,
            replay_count INTEGER NOT NULL DEFAULT 0,
            lease_id INTEGER,
            lease_expires_at INTEGER,
            not_before INTEGER,
            created_at INTEGER NOT NULL,
            sent_at INTEGER,
            server_id TEXT,
            server_version TEXT
        );
        CREATE INDEX outbox_by_state ON outbox(state, id);
        CREATE INDEX outbox_by_identity ON outbox(identity_key, state);
        CREATE INDEX outbox_by_inbox ON outbox(inbox_id);

        CREATE TABLE dead_letter (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            origin TEXT NOT NULL CHECK (origin IN ('inbox', 'outbox')),
            origin_id INTEGER NOT NULL,
            stage TEXT NOT NULL,
            error_type TEXT NOT NULL,
            error_message TEXT NOT NULL,
            template_version TEXT,
            payload BLOB NOT NULL,
            size INTEGER NOT NULL,
            replay_count INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            -- Enough of the origin row to put the payload back where it came from on replay.
            profile TEXT,
            transport TEXT,
            source_id TEXT,
            device_id TEXT,
            received_at INTEGER,
            device_time INTEGER,
            inbox_id INTEGER,
            resource_type TEXT,
            resource_id TEXT,
            identity_key TEXT
        );

        CREATE TABLE journal (
            seq INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            subjects TEXT NOT NULL,
            details TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        -- The journal is append-only; these triggers stop accidents, the hash chain catches the rest.
        CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
            BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
        CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
            BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

        -- Counters and the journal head, kept in the same transactions as the rows they describe.
        CREATE TABLE store_meta (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL DEFAULT 0,
            text TEXT
        ) WITHOUT ROWID;
        INSERT INTO store_meta(key, value) VALUES
            ('bytes', 0), ('received', 0), ('high_water', 0), ('refused', 0), ('lease', 0), ('journal_head', 0);

        -- Byte accounting in triggers, so that no code path can forget it and the high-water check is O(1).
        CREATE TRIGGER inbox_bytes_in AFTER INSERT ON inbox
            BEGIN UPDATE store_meta SET value = value + NEW.size WHERE key = 'bytes'; END;
        CREATE TRIGGER inbox_bytes_out AFTER DELETE ON inbox
            BEGIN UPDATE store_meta SET value = value - OLD.size WHERE key = 'bytes'; END;
        CREATE TRIGGER outbox_bytes_in AFTER INSERT ON outbox
            BEGIN UPDATE store_meta SET value = value + NEW.size WHERE key = 'bytes'; END;
        CREATE TRIGGER outbox_bytes_change AFTER UPDATE OF size ON outbox
            BEGIN UPDATE store_meta SET value = value - OLD.size + NEW.size WHERE key = 'bytes'; END;
        CREATE TRIGGER outbox_bytes_out AFTER DELETE ON outbox
            BEGIN UPDATE store_meta SET value = value - OLD.size WHERE key = 'bytes'; END;
        CREATE TRIGGER dead_letter_bytes_in AFTER INSERT ON dead_letter
            BEGIN UPDATE store_meta SET value = value + NEW.size WHERE key = 'bytes'; END;
        CREATE TRIGGER dead_letter_bytes_out AFTER DELETE ON dead_letter
            BEGIN UPDATE store_meta SET value = value - OLD.size WHERE key = 'bytes'; END;
        """
}

extension StoreSchema {
    /// The upstream server's ids for Device and Patient identifiers, so that a restart does not
    /// ask the server again. `server_id` is NULL once the server said the id is gone (404/410):
    /// the row keeps the identifier and the gateway's own id until it is resolved again.
    fileprivate static let version2 = """
        CREATE TABLE server_identity (
            resource_type TEXT NOT NULL,
            system TEXT NOT NULL,
            value TEXT NOT NULL,
            local_id TEXT,
            server_id TEXT,
            server_version TEXT,
            last_updated TEXT,
            patient_server_id TEXT,
            resolved_at INTEGER NOT NULL,
            PRIMARY KEY (resource_type, system, value)
        ) WITHOUT ROWID;
        """
}

extension StoreSchema {
    /// The unsent rows in id order with the columns the lease filters on, so that a lease walks
    /// the index and stops after its batch instead of sorting the backlog (`OutboxLeaseQuery`).
    fileprivate static let version3 = """
        CREATE INDEX outbox_unsent ON outbox(id, identity_key, state, not_before, lease_expires_at) WHERE state <> 'sent';
        """
}

extension StoreSchema {
    /// In an encrypted store `server_identity.value` holds the identifier's keyed hash (so the
    /// primary key still finds it) and `sealed_value` the identifier itself, encrypted.
    /// The wrapped data key is the `data_key` row of `store_meta` (`StoreKeying`).
    fileprivate static let version4 = """
        ALTER TABLE server_identity ADD COLUMN sealed_value BLOB;
        """
}

extension StoreSchema {
    /// The counts `/status`, `/metrics` and `queue stats` show, kept by triggers in the
    /// transactions that change the rows, so reading them costs one meta row whatever the backlog
    /// (they were `COUNT(*)` scans); the oldest unsent times come from partial indexes.
    fileprivate static let version5 = """
        INSERT INTO store_meta(key, value) VALUES
            ('count_inbox_open', (SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed'))),
            ('count_outbox_open', (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'leased'))),
            ('count_outbox_sent', (SELECT COUNT(*) FROM outbox WHERE state = 'sent')),
            ('count_dead_letters', (SELECT COUNT(*) FROM dead_letter));

        CREATE TRIGGER inbox_count_in AFTER INSERT ON inbox WHEN NEW.state IN ('pending', 'claimed')
            BEGIN UPDATE store_meta SET value = value + 1 WHERE key = 'count_inbox_open'; END;
        CREATE TRIGGER inbox_count_out AFTER DELETE ON inbox WHEN OLD.state IN ('pending', 'claimed')
            BEGIN UPDATE store_meta SET value = value - 1 WHERE key = 'count_inbox_open'; END;
        CREATE TRIGGER inbox_count_state AFTER UPDATE OF state ON inbox
            WHEN (OLD.state IN ('pending', 'claimed')) <> (NEW.state IN ('pending', 'claimed'))
            BEGIN UPDATE store_meta SET value = value + (CASE WHEN NEW.state IN ('pending', 'claimed') THEN 1 ELSE -1 END)
                WHERE key = 'count_inbox_open'; END;

        CREATE TRIGGER outbox_count_in AFTER INSERT ON outbox
            BEGIN
                UPDATE store_meta SET value = value + 1 WHERE key = 'count_outbox_open' AND NEW.state IN ('pending', 'leased');
                UPDATE store_meta SET value = value + 1 WHERE key = 'count_outbox_sent' AND NEW.state = 'sent';
            END;
        CREATE TRIGGER outbox_count_out AFTER DELETE ON outbox
            BEGIN
                UPDATE store_meta SET value = value - 1 WHERE key = 'count_outbox_open' AND OLD.state IN ('pending', 'leased');
                UPDATE store_meta SET value = value - 1 WHERE key = 'count_outbox_sent' AND OLD.state = 'sent';
            END;
        CREATE TRIGGER outbox_count_state AFTER UPDATE OF state ON outbox WHEN OLD.state <> NEW.state
            BEGIN
                UPDATE store_meta SET value = value - 1 WHERE key = 'count_outbox_open' AND OLD.state IN ('pending', 'leased');
                UPDATE store_meta SET value = value - 1 WHERE key = 'count_outbox_sent' AND OLD.state = 'sent';
                UPDATE store_meta SET value = value + 1 WHERE key = 'count_outbox_open' AND NEW.state IN ('pending', 'leased');
                UPDATE store_meta SET value = value + 1 WHERE key = 'count_outbox_sent' AND NEW.state = 'sent';
            END;

        CREATE TRIGGER dead_letter_count_in AFTER INSERT ON dead_letter
            BEGIN UPDATE store_meta SET value = value + 1 WHERE key = 'count_dead_letters'; END;
        CREATE TRIGGER dead_letter_count_out AFTER DELETE ON dead_letter
            BEGIN UPDATE store_meta SET value = value - 1 WHERE key = 'count_dead_letters'; END;

        CREATE INDEX inbox_open_by_time ON inbox(received_at) WHERE state IN ('pending', 'claimed');
        CREATE INDEX outbox_open_by_time ON outbox(created_at) WHERE state IN ('pending', 'leased');
        """

    /// Journal bytes counted like the data's, and entries deletable only up to the recorded base
    /// (`journal_base`: the last pruned entry and its hash), which retention moves forward
    /// together with the deletion; any other delete is still refused.
    private static let version7 = """
        INSERT INTO store_meta(key, value) VALUES ('journal_bytes', 0), ('journal_base', 0);
        UPDATE store_meta SET value = (SELECT COALESCE(SUM(length(kind) + length(actor) + length(subjects) + length(details)
            + length(hash) + 24), 0) FROM journal) WHERE key = 'journal_bytes';
        CREATE TRIGGER journal_bytes_in AFTER INSERT ON journal
            BEGIN UPDATE store_meta SET value = value + length(NEW.kind) + length(NEW.actor) + length(NEW.subjects)
                + length(NEW.details) + length(NEW.hash) + 24 WHERE key = 'journal_bytes'; END;
        CREATE TRIGGER journal_bytes_out AFTER DELETE ON journal
            BEGIN UPDATE store_meta SET value = value - length(OLD.kind) - length(OLD.actor) - length(OLD.subjects)
                - length(OLD.details) - length(OLD.hash) - 24 WHERE key = 'journal_bytes'; END;
        DROP TRIGGER journal_no_delete;
        CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
            WHEN OLD.seq > (SELECT value FROM store_meta WHERE key = 'journal_base')
            BEGIN SELECT RAISE(ABORT, 'the journal is append-only; retention removes entries only up to the recorded base'); END;
        """

    /// A source's redelivery key (an HL7 control id, an MQTT message) per stored message, so a
    /// retried delivery is recognised; kept as long as synced data (`retainSynced`), keyed-hashed
    /// when the store is encrypted.
    private static let version6 = """
        CREATE TABLE delivery (
            key TEXT PRIMARY KEY,
            inbox_id INTEGER NOT NULL,
            received_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX delivery_by_time ON delivery(received_at);
        """
}

extension StoreSchema {
    /// Field kits (`Store+Kits`): which export carried each unsent outbox row (NULL: not yet
    /// exported, and again NULL once a newer body replaces it), the last export's sequence
    /// number, and on the importing side every export taken, per source key, so that a replayed
    /// export is refused, and the key first seen for each source gateway name.
    fileprivate static let version8 = """
        ALTER TABLE outbox ADD COLUMN kit_export INTEGER;
        CREATE INDEX outbox_unexported ON outbox(id) WHERE kit_export IS NULL AND state <> 'sent';
        CREATE INDEX outbox_by_kit_export ON outbox(kit_export) WHERE kit_export IS NOT NULL;
        INSERT INTO store_meta(key, value) VALUES ('kit_export_sequence', 0);
        CREATE TABLE kit_import (
            source_key TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            export_id TEXT NOT NULL,
            gateway TEXT NOT NULL,
            resources INTEGER NOT NULL,
            imported_at INTEGER NOT NULL,
            PRIMARY KEY (source_key, sequence)
        ) WITHOUT ROWID;
        CREATE TABLE kit_source (
            gateway TEXT PRIMARY KEY,
            source_key TEXT NOT NULL,
            pinned_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        """
}

/// Counters in `store_meta`.
enum Meta: String {
    case bytes, received, highWater = "high_water", refused, lease, journalHead = "journal_head"
    case journalBytes = "journal_bytes", journalBase = "journal_base", kitExportSequence = "kit_export_sequence"

    // Cached statements: every write transaction reads and updates several counters.
    static func value(_ key: Meta, _ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM store_meta WHERE key = ?"), arguments: [key.rawValue]) ?? 0
    }

    static func set(_ key: Meta, _ value: Int64, text: String? = nil, _ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE store_meta SET value = ?, text = ? WHERE key = ?").execute(arguments: [value, text, key.rawValue])
    }

    static func add(_ key: Meta, _ delta: Int64, _ db: Database) throws {
        try db.cachedStatement(sql: "UPDATE store_meta SET value = value + ? WHERE key = ?").execute(arguments: [delta, key.rawValue])
    }
}
