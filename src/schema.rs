//! The extension's tables, types, indexes and triggers, kept as SQL a reader can review as SQL.
//!
//! Order matters and is explicit: types, then tables, then indexes; the triggers once their
//! Rust functions exist; roles, grants and row-level security; the API; last, registering
//! the tables with `pg_extension_config_dump` and the functions' privileges.

use pgrx::prelude::*;

extension_sql_file!("../sql/types.sql", name = "types", bootstrap);
extension_sql_file!("../sql/tables.sql", name = "tables", requires = ["types"]);
extension_sql_file!(
    "../sql/indexes.sql",
    name = "indexes",
    requires = ["tables"]
);
extension_sql_file!(
    "../sql/triggers.sql",
    name = "triggers",
    requires = [
        "tables",
        rules::users::users_soft_delete,
        rules::users::users_delete_as_soft_delete,
        rules::users::users_soft_delete_cascade,
        rules::directory::trainer_directory_refresh,
        rules::slots::slots_normalize,
        rules::slots::slots_booking_guard,
        rules::slots::slots_delete_guard,
        rules::slots::slots_cancel_cascade,
        rules::bookings::bookings_capacity_guard,
        rules::bookings::bookings_delete_guard,
        rules::bookings::booking_status_history,
        rules::timestamps::set_updated_at,
        rules::audit::activity_log,
        rules::retention::refuse_truncate,
        rules::lock_order::lock_writer_first,
        rules::trainer::follow_slot_trainer,
        rules::trainer::slot_trainer_cascade,
        rules::trainer::slot_trainer_forget,
    ]
);
extension_sql_file!(
    "../sql/security.sql",
    name = "security",
    requires = [
        "tables",
        identity::current_user_id,
        identity::active_user_id,
        identity::is_app_admin,
        identity::is_trainer,
        identity::signed_in
    ]
);
extension_sql_file!(
    "../sql/api.sql",
    name = "api",
    requires = ["security", "triggers"]
);
extension_sql_file!(
    "../sql/supabase.sql",
    name = "supabase",
    requires = ["triggers"]
);
extension_sql_file!(
    "../sql/studio.sql",
    name = "studio",
    requires = ["tables", "indexes"]
);
extension_sql_file!(
    "../sql/studio_triggers.sql",
    name = "studio_triggers",
    requires = [
        "studio",
        "triggers",
        rules::settings::studio_settings_guard,
        rules::settings::studio_settings_history,
        rules::settings::studio_settings_replace,
        rules::waitlist::booking_ends_waiting,
        rules::waitlist::booking_frees_place,
        rules::waitlist::slot_grows,
        rules::events::booking_events,
        rules::events::slot_changed_events,
    ]
);
extension_sql_file!(
    "../sql/studio_security.sql",
    name = "studio_security",
    requires = ["studio", "security"]
);
extension_sql_file!(
    "../sql/studio_api.sql",
    name = "studio_api",
    requires = [
        "studio_security",
        "api",
        rules::waitlist::waitlist_join,
        rules::waitlist::waitlist_leave,
    ]
);
extension_sql_file!(
    "../sql/timetable.sql",
    name = "timetable",
    requires = [
        "studio_api",
        "triggers",
        identity::acts_for_the_gym,
        identity::active_user_id,
        identity::is_trainer,
        identity::signed_in,
    ]
);
extension_sql_file!(
    "../sql/calendar.sql",
    name = "calendar",
    requires = ["studio_api", calendar::calendar_render]
);
extension_sql_file!(
    "../sql/attendance.sql",
    name = "attendance",
    requires = [
        "timetable",
        "triggers",
        identity::acts_for_the_gym,
        identity::active_user_id,
        identity::current_user_id,
        identity::is_app_admin,
        identity::is_trainer,
    ]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);
