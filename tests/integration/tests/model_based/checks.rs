//! What is compared after each step: the callers' set-up, how rows are observed, the
//! invariants over the whole database, and the fingerprint that tells whether anything changed.

use super::*;

/// The caller as PostgREST would set it up from the JWT.
pub(crate) fn caller_for(model: &Model, who: &Who) -> Caller {
    let authenticated = |sub: &str| {
        Caller::new(
            "authenticated",
            Some(json!({"sub": sub, "role": "authenticated"})),
        )
    };
    match who {
        Who::User(i) => authenticated(&model.users[*i].id),
        Who::Ghost(id) => authenticated(id),
        Who::BadSub => authenticated("not-a-user-id"),
        Who::Service => Caller::new("service_role", Some(json!({"role": "service_role"}))),
        Who::Anon => Caller::new("anon", Some(json!({"role": "anon"}))),
        Who::Dba => Caller::new("postgres", None),
    }
}

pub(crate) fn booking_obs(row: &postgres::Row) -> Obs {
    Obs::Booking {
        id: row.get(0),
        status: Status::parse(row.get(1)),
    }
}

pub(crate) fn slot_obs(row: &postgres::Row) -> Obs {
    let (start, end): (i64, i64) = (row.get(1), row.get(2));
    let (minutes, capacity): (i64, i64) = (row.get(3), row.get(4));
    let cancelled: bool = row.get(5);
    // The shape as the model writes it, but end_at as the database derived it.
    let mut shape = slot_shape(start, minutes, capacity, cancelled);
    if end != start + minutes * 60 {
        shape = format!("{shape} BUT end_at is {end}");
    }
    Obs::Slot {
        id: row.get(0),
        shape,
    }
}

pub(crate) const SLOT_COLUMNS: &str = "id::text, extract(epoch FROM start_at)::int8, \
     extract(epoch FROM end_at)::int8, duration_minutes::int8, capacity::int8, \
     cancelled_at IS NOT NULL";

/// Every invariant, as violations (none: all hold). $1: personal values and passwords of
/// deleted accounts; $2: those of every account ever; $3: log rows from this time on are new.
pub(crate) const INVARIANTS: &str = "
WITH reserved AS (
    SELECT slot_id, count(*) AS n FROM gym_booking.bookings
     WHERE status = 'reserved' GROUP BY slot_id
), hist AS (
    SELECT h.*,
           lag(h.current_status) OVER (PARTITION BY h.booking_id ORDER BY h.id) AS prior,
           row_number() OVER (PARTITION BY h.booking_id ORDER BY h.id DESC) AS from_last
      FROM gym_booking.booking_status_history AS h
), last AS (
    SELECT * FROM hist WHERE from_last = 1
), active_trainers AS (
    SELECT id, concat_ws(' ', first_name, last_name) AS display_name, contact_email, contact_phone
      FROM gym_booking.users WHERE role = 'trainer' AND deleted_at IS NULL
), new_logs AS (
    SELECT * FROM gym_booking.activity_logs WHERE created_at >= $3::text::timestamptz
)
SELECT format('slot %s holds %s reserved bookings for capacity %s', s.id, r.n, s.capacity)
  FROM gym_booking.slots AS s JOIN reserved AS r ON r.slot_id = s.id
 WHERE r.n > s.capacity
UNION ALL
SELECT format('booking %s is reserved in cancelled slot %s', b.id, b.slot_id)
  FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
 WHERE b.status = 'reserved' AND s.cancelled_at IS NOT NULL
UNION ALL
SELECT format('history row %s of booking %s: previous_status %s, but the status before was %s',
              h.id, h.booking_id, h.previous_status, coalesce(h.prior, 'reserved'))
  FROM hist AS h
 WHERE h.previous_status IS DISTINCT FROM coalesce(h.prior, 'reserved')
UNION ALL
SELECT format('booking %s is %s but its history ends at %s', b.id, b.status,
              coalesce(l.current_status::text, '(no history: reserved)'))
  FROM gym_booking.bookings AS b LEFT JOIN last AS l ON l.booking_id = b.id
 WHERE b.status IS DISTINCT FROM coalesce(l.current_status, 'reserved')
UNION ALL
SELECT format('booking %s: status_changed_at %s, auto_processed %s; its last history row: changed_at %s, auto_processed %s',
              b.id, b.status_changed_at, b.auto_processed, l.changed_at, l.auto_processed)
  FROM gym_booking.bookings AS b JOIN last AS l ON l.booking_id = b.id
 WHERE b.status_changed_at IS DISTINCT FROM l.changed_at
    OR b.auto_processed IS DISTINCT FROM l.auto_processed
UNION ALL
SELECT format('booking %s was completed at %s but its slot %s ends at %s (now %s)',
              b.id, b.status_changed_at, s.id, s.end_at, now())
  FROM gym_booking.bookings AS b JOIN gym_booking.slots AS s ON s.id = b.slot_id
 WHERE b.status = 'completed' AND (s.end_at > now() OR s.end_at > b.status_changed_at)
UNION ALL
SELECT format('deleted user %s is not anonymized: %s', u.id,
              row(u.email, u.first_name, u.last_name, u.contact_email, u.contact_phone,
                  u.preferences, u.is_anonymous))
  FROM gym_booking.users AS u
 WHERE u.deleted_at IS NOT NULL
   AND NOT (u.is_anonymous AND u.first_name = 'Anonymous user' AND u.last_name IS NULL
            AND u.contact_email IS NULL AND u.contact_phone IS NULL AND u.preferences = '{}'
            AND u.email = format('deleted-%s@anonymized.invalid', u.id))
UNION ALL
SELECT format('deleted user %s holds reserved booking %s of slot %s, which starts at %s (now %s)',
              u.id, b.id, s.id, s.start_at, now())
  FROM gym_booking.bookings AS b
  JOIN gym_booking.users AS u ON u.id = b.user_id
  JOIN gym_booking.slots AS s ON s.id = b.slot_id
 WHERE b.status = 'reserved' AND u.deleted_at IS NOT NULL AND s.start_at > now()
UNION ALL
SELECT format('slot %s starts at %s (now %s), is not cancelled, but its trainer %s is %s%s',
              s.id, s.start_at, now(), u.id, u.role,
              CASE WHEN u.deleted_at IS NOT NULL THEN ', deleted' ELSE '' END)
  FROM gym_booking.slots AS s JOIN gym_booking.users AS u ON u.id = s.trainer_id
 WHERE s.cancelled_at IS NULL AND s.start_at > now()
   AND NOT (u.role = 'trainer' AND u.deleted_at IS NULL)
UNION ALL
SELECT format('trainer_directory has %s, the active trainers have %s',
              CASE WHEN d.trainer_id IS NULL THEN 'no row'
                   ELSE row(d.trainer_id, d.display_name, d.contact_email, d.contact_phone)::text END,
              CASE WHEN t.id IS NULL THEN 'no row'
                   ELSE row(t.id, t.display_name, t.contact_email, t.contact_phone)::text END)
  FROM gym_booking.trainer_directory AS d FULL JOIN active_trainers AS t ON t.id = d.trainer_id
 WHERE d.trainer_id IS NULL OR t.id IS NULL
    OR (d.display_name, d.contact_email, d.contact_phone)
       IS DISTINCT FROM (t.display_name, t.contact_email, t.contact_phone)
UNION ALL
SELECT format('personal value %L of a deleted account survives in users row %s', v, u.id)
  FROM unnest($1::text[]) AS v JOIN gym_booking.users AS u ON strpos(u::text, v) > 0
UNION ALL
SELECT format('personal value %L of a deleted account survives in trainer_directory row %s',
              v, d.trainer_id)
  FROM unnest($1::text[]) AS v JOIN gym_booking.trainer_directory AS d ON strpos(d::text, v) > 0
UNION ALL
SELECT format('activity_logs row %s (%s %s %s) has changed_fields %s',
              l.id, l.entity_type, l.action, l.entity_id, l.changed_fields)
  FROM new_logs AS l
 WHERE jsonb_typeof(l.changed_fields) IS DISTINCT FROM 'object' OR l.changed_fields = '{}'
    OR strpos(l.changed_fields::text, 'password_hash') > 0
UNION ALL
SELECT format('activity_logs row %s (%s %s %s) shows the personal value or password %L: %s %s',
              l.id, l.entity_type, l.action, l.entity_id, v, l.changed_fields, l.metadata)
  FROM new_logs AS l JOIN unnest($2::text[]) AS v
    ON strpos(l.changed_fields::text || l.metadata::text, v) > 0
";

/// Whether any table changed (the 0.2.0 tables too): per table, the row count and the newest
/// row version's `xmin`.
/// Every committed INSERT or UPDATE (a trigger's too) leaves row versions stamped with its
/// transaction id, higher than any before it; a DELETE lowers the count (and with an INSERT, a
/// new `xmin` shows); locks do not count. So this pair is the same before and after a request
/// exactly when the request committed no change: as strict as an md5 of the ordered rows (a
/// rewrite to identical values shows too), and cheap on a long run. Also the newest log row's
/// time (the next step's log rows are those from then on).
pub(crate) const FINGERPRINT: &str = "
SELECT concat_ws(' | ',
         (SELECT count(*) || ' users, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.users AS t),
         (SELECT count(*) || ' slots, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.slots AS t),
         (SELECT count(*) || ' bookings, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.bookings AS t),
         (SELECT count(*) || ' directory, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.trainer_directory AS t),
         (SELECT count(*) || ' logs, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.activity_logs AS t),
         (SELECT count(*) || ' history, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.booking_status_history AS t),
         (SELECT count(*) || ' waitlist entries, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.waitlist_entries AS t),
         -- (Events by their newest id: the relay, run after each step, marks them announced.)
         (SELECT count(*) || ' events, newest ' || coalesce(max(t.id), 0)
            FROM gym_booking.events AS t),
         (SELECT count(*) || ' settings, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.studio_settings AS t),
         (SELECT count(*) || ' settings history, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.studio_settings_history AS t),
         (SELECT count(*) || ' series, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.series AS t),
         (SELECT count(*) || ' attendance, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.attendance AS t),
         (SELECT count(*) || ' sweep, xmin ' || coalesce(max(t.xmin::text::int8), 0)
            FROM gym_booking.attendance_sweep AS t)),
       (SELECT coalesce(max(created_at)::text, '-infinity') FROM gym_booking.activity_logs)";

impl Checks {
    pub(crate) fn prepare(client: &mut Client) -> Result<Checks, postgres::Error> {
        Ok(Checks {
            invariants: client.prepare(INVARIANTS)?,
            fingerprint: client.prepare(FINGERPRINT)?,
            bookings: client.prepare(
                "SELECT b.id::text, b.status::text, b.auto_processed, count(h.id)
                   FROM gym_booking.bookings AS b
                   LEFT JOIN gym_booking.booking_status_history AS h ON h.booking_id = b.id
                  GROUP BY b.id",
            )?,
            slots: client.prepare(
                "SELECT id::text, trainer_id::text, extract(epoch FROM start_at)::int8,
                        duration_minutes::int8, capacity::int8, cancelled_at IS NOT NULL, notes,
                        coalesce(series_id || ' ' || series_date, '')
                   FROM gym_booking.slots",
            )?,
            users: client.prepare(
                "SELECT id::text, role::text, deleted_at IS NOT NULL, email::text, first_name,
                        last_name, contact_phone
                   FROM gym_booking.users",
            )?,
            week: client.prepare(week_checks::WEEK_INVARIANTS)?,
            settled: client.prepare(week_checks::SETTLED)?,
            entries: client.prepare(week_checks::ENTRIES)?,
            settings: client.prepare(week_checks::SETTINGS)?,
            events: client.prepare(week_checks::EVENTS)?,
            series: client.prepare(&series_run::series_query())?,
            att: attendance_checks::AttChecks::prepare(client)?,
        })
    }
}
