#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call; these wrap the settings the store makes
// once, before the first connection opens (SQLITE_MISUSE after that).

// Whether SQLite keeps allocation statistics: each of its mallocs then takes a global mutex.
static inline int fhir_edge_sqlite_config_memstatus(int enabled) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, enabled);
}

// How many bytes a statement journal holds in memory before it spills to a temporary file.
static inline int fhir_edge_sqlite_config_statement_journal_spill(int bytes) {
    return sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, bytes);
}
