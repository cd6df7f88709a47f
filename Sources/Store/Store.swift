// The durable buffer: inbox, outbox, dead letters, journal.
