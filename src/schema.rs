//! The extension's tables, types and indexes, kept as SQL a reader can review as SQL.
//!
//! Order matters and is explicit: types, then tables, then indexes; registering the
//! tables with `pg_extension_config_dump` comes last, after everything else exists.

use pgrx::prelude::*;

extension_sql_file!("../sql/types.sql", name = "types", bootstrap);
extension_sql_file!("../sql/tables.sql", name = "tables", requires = ["types"]);
extension_sql_file!(
    "../sql/indexes.sql",
    name = "indexes",
    requires = ["tables"]
);
extension_sql_file!("../sql/dump_config.sql", name = "dump_config", finalize);
