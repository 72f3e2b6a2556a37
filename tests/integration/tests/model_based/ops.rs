//! Every operation the model knows: what a client may send, and its name in the tallies.

use super::*;
use attendance::Mark;
use chrono::NaiveDate;
use series::{Edit, Ref};

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Book {
        who: Who,
        slot: SlotRef,
    },
    CancelBooking {
        who: Who,
        booking: BookingRef,
    },
    CreateSlot {
        who: Who,
        start_s: i64,
        minutes: i32,
        capacity: i32,
        notes: String,
    },
    CancelSlot {
        who: Who,
        slot: SlotRef,
    },
    AvailableSlots {
        who: Who,
        trainer: Option<usize>,
    },
    MyBookings {
        who: Who,
    },
    CompletePast {
        who: Who,
        max_rows: i32,
    },
    DeleteMyAccount {
        who: Who,
    },
    /// PATCH /bookings?id=eq.… {"status": …}
    SetStatus {
        who: Who,
        booking: usize,
        to: Status,
    },
    /// POST /bookings {"slot_id": …, "user_id": …}
    InsertBooking {
        who: Who,
        slot: usize,
        user: usize,
    },
    /// DELETE /bookings?id=eq.…
    DeleteBooking {
        who: Who,
        booking: usize,
    },
    /// PATCH /bookings?id=eq.… {"slot_id": …}
    MoveBooking {
        who: Who,
        booking: usize,
        slot: usize,
    },
    /// PATCH /slots?id=eq.… {"capacity": …}
    SlotCapacity {
        who: Who,
        slot: usize,
        capacity: i32,
    },
    /// PATCH /slots?id=eq.… {"notes": …}
    SlotNotes {
        who: Who,
        slot: usize,
        notes: String,
    },
    /// PATCH /slots?id=eq.… {"start_at": start_at + minutes}
    SlotMove {
        who: Who,
        slot: usize,
        minutes: i32,
    },
    /// DELETE /slots?id=eq.…
    DeleteSlot {
        who: Who,
        slot: usize,
    },
    /// PATCH /users?id=eq.… {"first_name", "last_name", "contact_phone"}
    Profile {
        who: Who,
        user: usize,
        first: String,
        last: Option<String>,
        phone: String,
    },
    /// PATCH /users?id=eq.<self> with a column only the gym changes.
    Identity {
        who: Who,
        user: usize,
        change: IdentityChange,
    },
    /// PATCH /users?id=eq.… {"role": …}
    SetRole {
        who: Who,
        user: usize,
        role: Role,
    },
    /// PATCH /users?id=eq.… {"email": …}
    SetEmail {
        who: Who,
        user: usize,
        email: String,
    },
    /// DELETE /users?id=eq.… (a soft delete)
    DeleteUser {
        who: Who,
        user: usize,
    },
    /// POST /users
    SignUp {
        who: Who,
        user: Box<User>,
    },
    /// A statement the caller's grants refuse.
    Forbidden {
        who: Who,
        sql: &'static str,
    },
    /// anon: GET /trainer_directory
    Directory,
    /// The DBA loads a session that has ended (or is running), with reserved bookings or none, under
    /// `session_replication_role = replica`, as a restore would: work for
    /// `complete_past_bookings`.
    LoadPast {
        trainer: usize,
        start_s: i64,
        minutes: i64,
        capacity: i64,
        athletes: Vec<usize>,
    },
    /// POST /rpc/join_waitlist
    JoinWaitlist {
        who: Who,
        slot: SlotRef,
    },
    /// POST /rpc/leave_waitlist
    LeaveWaitlist {
        who: Who,
        slot: SlotRef,
    },
    /// GET /rpc/my_waitlist
    MyWaitlist {
        who: Who,
    },
    /// PATCH /studio_settings {…}: each setting to a value (minutes for intervals, a count,
    /// 0/1 for a switch; None: NULL).
    SetSettings {
        who: Who,
        changes: Vec<(Setting, Option<i64>)>,
    },
    /// POST /rpc/promote_waitlists
    PromoteWaitlists {
        who: Who,
    },
    /// GET /waitlist_entries (how many rows the caller sees)
    ReadEntries {
        who: Who,
    },
    /// GET /events (how many rows the caller sees)
    ReadEvents {
        who: Who,
    },
    /// POST /rpc/create_series (0.2.1); `trainer`: the `trainer_id` argument.
    CreateSeries {
        who: Who,
        trainer: Option<Ref>,
        weekdays: Vec<i32>,
        /// Seconds after midnight (86400: '24:00').
        local_start: u32,
        first: Option<NaiveDate>,
        last: Option<NaiveDate>,
        minutes: i32,
        capacity: i32,
        notes: Option<String>,
        zone: Option<String>,
    },
    /// POST /rpc/edit_series
    EditSeries {
        who: Who,
        series: Ref,
        edit: Edit,
    },
    /// POST /rpc/cancel_series
    CancelSeries {
        who: Who,
        series: Ref,
        from: Option<NaiveDate>,
    },
    /// POST /rpc/extend_timetables
    ExtendTimetables {
        who: Who,
    },
    /// PATCH /studio_settings {"timetable_horizon": "<days> days"}
    SetHorizon {
        who: Who,
        days: i64,
    },
    /// POST /rpc/mark_attendance (0.2.2); None: that argument NULL.
    MarkAttendance {
        who: Who,
        booking: Option<BookingRef>,
        mark: Option<Mark>,
    },
    /// POST /rpc/excuse_no_show
    ExcuseNoShow {
        who: Who,
        booking: BookingRef,
    },
    /// POST /rpc/record_no_shows
    RecordNoShows {
        who: Who,
        max_rows: i32,
    },
    /// GET /rpc/slot_roster
    Roster {
        who: Who,
        slot: SlotRef,
    },
    /// GET /rpc/athlete_suspension; None: no argument (the caller's own).
    Suspension {
        who: Who,
        user: Option<Ref>,
    },
    /// GET /attendance (how many rows the caller sees)
    ReadAttendance {
        who: Who,
    },
    /// The DBA restores the sweep's watermark from an older dump: `minutes` before now.
    RestoreSweep {
        minutes: i64,
    },
    /// PATCH /slots?id=eq.… {"trainer_id": …}: a session handed to another trainer.
    Reassign {
        who: Who,
        slot: usize,
        trainer: usize,
    },
}

impl Op {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Op::Book { .. } => "book_slot",
            Op::CancelBooking { .. } => "cancel_booking",
            Op::CreateSlot { .. } => "create_slot",
            Op::CancelSlot { .. } => "cancel_slot",
            Op::AvailableSlots { .. } => "available_slots",
            Op::MyBookings { .. } => "my_bookings",
            Op::CompletePast { .. } => "complete_past_bookings",
            Op::DeleteMyAccount { .. } => "delete_my_account",
            Op::SetStatus { .. } => "PATCH bookings.status",
            Op::InsertBooking { .. } => "POST bookings",
            Op::DeleteBooking { .. } => "DELETE bookings",
            Op::MoveBooking { .. } => "PATCH bookings.slot_id",
            Op::SlotCapacity { .. } => "PATCH slots.capacity",
            Op::SlotNotes { .. } => "PATCH slots.notes",
            Op::SlotMove { .. } => "PATCH slots.start_at",
            Op::DeleteSlot { .. } => "DELETE slots",
            Op::Profile { .. } => "PATCH users profile",
            Op::Identity { .. } => "PATCH users identity",
            Op::SetRole { .. } => "PATCH users.role",
            Op::SetEmail { .. } => "PATCH users.email",
            Op::DeleteUser { .. } => "DELETE users",
            Op::SignUp { .. } => "POST users",
            Op::Forbidden { .. } => "forbidden statement",
            Op::Directory => "GET trainer_directory",
            Op::LoadPast { .. } => "DBA loads a past session",
            Op::JoinWaitlist { .. } => "join_waitlist",
            Op::LeaveWaitlist { .. } => "leave_waitlist",
            Op::MyWaitlist { .. } => "my_waitlist",
            Op::SetSettings { .. } => "PATCH studio_settings",
            Op::PromoteWaitlists { .. } => "promote_waitlists",
            Op::ReadEntries { .. } => "GET waitlist_entries",
            Op::ReadEvents { .. } => "GET events",
            Op::CreateSeries { .. } => "create_series",
            Op::EditSeries { .. } => "edit_series",
            Op::CancelSeries { .. } => "cancel_series",
            Op::ExtendTimetables { .. } => "extend_timetables",
            Op::SetHorizon { .. } => "PATCH studio_settings.timetable_horizon",
            Op::MarkAttendance { .. } => "mark_attendance",
            Op::ExcuseNoShow { .. } => "excuse_no_show",
            Op::RecordNoShows { .. } => "record_no_shows",
            Op::Roster { .. } => "slot_roster",
            Op::Suspension { .. } => "athlete_suspension",
            Op::ReadAttendance { .. } => "GET attendance",
            Op::RestoreSweep { .. } => "DBA restores the sweep's watermark",
            Op::Reassign { .. } => "PATCH slots.trainer_id",
        }
    }

    pub(crate) fn who(&self) -> Who {
        match self {
            Op::Book { who, .. }
            | Op::CancelBooking { who, .. }
            | Op::CreateSlot { who, .. }
            | Op::CancelSlot { who, .. }
            | Op::AvailableSlots { who, .. }
            | Op::MyBookings { who }
            | Op::CompletePast { who, .. }
            | Op::DeleteMyAccount { who }
            | Op::SetStatus { who, .. }
            | Op::InsertBooking { who, .. }
            | Op::DeleteBooking { who, .. }
            | Op::MoveBooking { who, .. }
            | Op::SlotCapacity { who, .. }
            | Op::SlotNotes { who, .. }
            | Op::SlotMove { who, .. }
            | Op::DeleteSlot { who, .. }
            | Op::Profile { who, .. }
            | Op::Identity { who, .. }
            | Op::SetRole { who, .. }
            | Op::SetEmail { who, .. }
            | Op::DeleteUser { who, .. }
            | Op::SignUp { who, .. }
            | Op::Forbidden { who, .. }
            | Op::JoinWaitlist { who, .. }
            | Op::LeaveWaitlist { who, .. }
            | Op::MyWaitlist { who }
            | Op::SetSettings { who, .. }
            | Op::PromoteWaitlists { who }
            | Op::ReadEntries { who }
            | Op::ReadEvents { who }
            | Op::CreateSeries { who, .. }
            | Op::EditSeries { who, .. }
            | Op::CancelSeries { who, .. }
            | Op::ExtendTimetables { who }
            | Op::SetHorizon { who, .. }
            | Op::MarkAttendance { who, .. }
            | Op::ExcuseNoShow { who, .. }
            | Op::RecordNoShows { who, .. }
            | Op::Roster { who, .. }
            | Op::Suspension { who, .. }
            | Op::ReadAttendance { who }
            | Op::Reassign { who, .. } => who.clone(),
            Op::Directory => Who::Anon,
            Op::LoadPast { .. } | Op::RestoreSweep { .. } => Who::Dba,
        }
    }
}
