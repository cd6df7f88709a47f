// The hash-chained audit journal.
