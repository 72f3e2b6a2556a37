//! Sending an operation as a PostgREST request, and checking the database against the model
//! after it.

use super::*;

impl Run {
    // ---- executing --------------------------------------------------------------------------

    /// One PostgREST request; returns its `now()` and its result.
    pub(crate) fn call(
        &mut self,
        who: &Who,
        method: &str,
        path: &str,
        body: impl FnOnce(&mut Transaction<'_>) -> Result<Obs, postgres::Error>,
    ) -> (i64, Result<Obs, Fail>) {
        let caller = caller_for(&self.model, who);
        let mut now = None;
        let result = postgrest_request(&mut self.client, &caller, method, path, |tx| {
            now = Some(tx.query_one(NOW_US, &[])?.get::<_, i64>(0));
            body(tx)
        });
        (now.unwrap_or(self.now), result.map_err(Fail::of))
    }

    pub(crate) fn rows(
        tx: &mut Transaction<'_>,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Obs, postgres::Error> {
        tx.execute(sql, params).map(Obs::Rows)
    }

    pub(crate) fn exec(&mut self, op: &Op) -> (i64, Result<Obs, Fail>) {
        if let Some(sent) = self.exec_week(op) {
            return sent;
        }
        if let Some(sent) = self.exec_series(op) {
            return sent;
        }
        if let Some(sent) = self.exec_attendance(op) {
            return sent;
        }
        let who = op.who();
        let slot_id = |m: &Model, s: &SlotRef| match s {
            SlotRef::Known(i) => m.slots[*i].id.clone(),
            SlotRef::Missing(id) => id.clone(),
        };
        match op {
            Op::Book { slot, .. } => {
                let id = slot_id(&self.model, slot);
                self.call(&who, "POST", "/rpc/book_slot", |tx| {
                    tx.query_one(
                        "SELECT id::text, status::text FROM gym_booking.book_slot($1::text::uuid)",
                        &[&id],
                    )
                    .map(|r| booking_obs(&r))
                })
            }
            Op::CancelBooking { booking, .. } => {
                let id = match booking {
                    BookingRef::Known(b) => self.model.bookings[*b].id.clone(),
                    BookingRef::Missing(id) => id.clone(),
                };
                self.call(&who, "POST", "/rpc/cancel_booking", |tx| {
                    tx.query_one(
                        "SELECT id::text, status::text FROM gym_booking.cancel_booking($1::text::uuid)",
                        &[&id],
                    )
                    .map(|r| booking_obs(&r))
                })
            }
            Op::CreateSlot {
                start_s,
                minutes,
                capacity,
                notes,
                ..
            } => self.call(&who, "POST", "/rpc/create_slot", |tx| {
                tx.query_one(
                    &format!(
                        "SELECT {SLOT_COLUMNS} FROM gym_booking.create_slot(
                             to_timestamp($1::int8::float8), $2::int4, $3::int4, $4::text)"
                    ),
                    &[start_s, minutes, capacity, notes],
                )
                .map(|r| slot_obs(&r))
            }),
            Op::CancelSlot { slot, .. } => {
                let id = slot_id(&self.model, slot);
                self.call(&who, "POST", "/rpc/cancel_slot", |tx| {
                    tx.query_one(
                        &format!(
                            "SELECT {SLOT_COLUMNS} FROM gym_booking.cancel_slot($1::text::uuid)"
                        ),
                        &[&id],
                    )
                    .map(|r| slot_obs(&r))
                })
            }
            Op::AvailableSlots { trainer, .. } => {
                let trainer = trainer.map(|t| self.model.users[t].id.clone());
                self.call(&who, "GET", "/rpc/available_slots", |tx| {
                    let rows = tx.query(
                        "SELECT format('%s capacity %s booked %s available %s waiting %s trainer %s',
                                       slot_id, capacity, booked, available, waiting,
                                       coalesce(trainer_name, '-'))
                           FROM gym_booking.available_slots(trainer_id => $1::text::uuid)",
                        &[&trainer],
                    )?;
                    Ok(Obs::List(rows.iter().map(|r| r.get(0)).collect()))
                })
            }
            Op::MyBookings { .. } => self.call(&who, "GET", "/rpc/my_bookings", |tx| {
                let rows = tx.query(
                    "SELECT format('%s slot %s %s', booking_id, slot_id, status)
                       FROM gym_booking.my_bookings()",
                    &[],
                )?;
                Ok(Obs::List(rows.iter().map(|r| r.get(0)).collect()))
            }),
            Op::CompletePast { max_rows, .. } => {
                // Its statement's time: the auto no-show sweep it runs reads it (0.2.2).
                let mut stmt = None;
                let sent = self.call(&who, "POST", "/rpc/complete_past_bookings", |tx| {
                    let row = tx.query_one(
                        "SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::int8,
                                gym_booking.complete_past_bookings($1::int4)",
                        &[max_rows],
                    )?;
                    stmt = Some(row.get(0));
                    Ok(Obs::Count(row.get(1)))
                });
                self.model.stmt_now = stmt;
                sent
            }
            Op::DeleteMyAccount { .. } => {
                self.call(&who, "POST", "/rpc/delete_my_account", |tx| {
                    tx.execute("SELECT gym_booking.delete_my_account()", &[])
                        .map(|_| Obs::Done)
                })
            }
            Op::SetStatus { booking, to, .. } => {
                let id = self.model.bookings[*booking].id.clone();
                self.call(&who, "PATCH", "/bookings", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.bookings SET status = $2::text::gym_booking.booking_status
                          WHERE id = $1::text::uuid",
                        &[&id, &to.sql()],
                    )
                })
            }
            Op::InsertBooking { slot, user, .. } => {
                let (slot, user) = (
                    self.model.slots[*slot].id.clone(),
                    self.model.users[*user].id.clone(),
                );
                self.call(&who, "POST", "/bookings", |tx| {
                    tx.query_one(
                        "INSERT INTO gym_booking.bookings (slot_id, user_id)
                         VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text, status::text",
                        &[&slot, &user],
                    )
                    .map(|r| booking_obs(&r))
                })
            }
            Op::DeleteBooking { booking, .. } => {
                let id = self.model.bookings[*booking].id.clone();
                self.call(&who, "DELETE", "/bookings", |tx| {
                    Self::rows(
                        tx,
                        "DELETE FROM gym_booking.bookings WHERE id = $1::text::uuid",
                        &[&id],
                    )
                })
            }
            Op::MoveBooking { booking, slot, .. } => {
                let (id, slot) = (
                    self.model.bookings[*booking].id.clone(),
                    self.model.slots[*slot].id.clone(),
                );
                self.call(&who, "PATCH", "/bookings", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.bookings SET slot_id = $2::text::uuid
                          WHERE id = $1::text::uuid",
                        &[&id, &slot],
                    )
                })
            }
            Op::SlotCapacity { slot, capacity, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET capacity = $2::int4 WHERE id = $1::text::uuid",
                        &[&id, capacity],
                    )
                })
            }
            Op::SlotNotes { slot, notes, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET notes = $2::text WHERE id = $1::text::uuid",
                        &[&id, notes],
                    )
                })
            }
            Op::SlotMove { slot, minutes, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "PATCH", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.slots SET start_at = start_at + make_interval(mins => $2::int4)
                          WHERE id = $1::text::uuid",
                        &[&id, minutes],
                    )
                })
            }
            Op::DeleteSlot { slot, .. } => {
                let id = self.model.slots[*slot].id.clone();
                self.call(&who, "DELETE", "/slots", |tx| {
                    Self::rows(
                        tx,
                        "DELETE FROM gym_booking.slots WHERE id = $1::text::uuid",
                        &[&id],
                    )
                })
            }
            Op::Profile {
                user,
                first,
                last,
                phone,
                ..
            } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.users
                            SET first_name = $2::text, last_name = $3::text, contact_phone = $4::text
                          WHERE id = $1::text::uuid",
                        &[&id, first, last, phone],
                    )
                })
            }
            Op::Identity { user, change, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| match change {
                    IdentityChange::RoleAdmin => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET role = 'admin' WHERE id = $1::text::uuid",
                        &[&id],
                    ),
                    IdentityChange::Email(email) => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET email = $2::text WHERE id = $1::text::uuid",
                        &[&id, email],
                    ),
                    IdentityChange::DeletedAt => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET deleted_at = now() WHERE id = $1::text::uuid",
                        &[&id],
                    ),
                    IdentityChange::IsAnonymous => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET is_anonymous = true WHERE id = $1::text::uuid",
                        &[&id],
                    ),
                    IdentityChange::Password(hash) => Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET password_hash = $2::text WHERE id = $1::text::uuid",
                        &[&id, hash],
                    ),
                })
            }
            Op::SetRole { user, role, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET role = $2::text::gym_booking.user_role
                          WHERE id = $1::text::uuid",
                        &[&id, &role.sql()],
                    )
                })
            }
            Op::SetEmail { user, email, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "PATCH", "/users", |tx| {
                    Self::rows(
                        tx,
                        "UPDATE gym_booking.users SET email = $2::text WHERE id = $1::text::uuid",
                        &[&id, email],
                    )
                })
            }
            Op::DeleteUser { user, .. } => {
                let id = self.model.users[*user].id.clone();
                self.call(&who, "DELETE", "/users", |tx| {
                    Self::rows(
                        tx,
                        "DELETE FROM gym_booking.users WHERE id = $1::text::uuid",
                        &[&id],
                    )
                })
            }
            Op::SignUp { user, .. } => {
                let preference = json!({ "note": user.secrets[3] }).to_string();
                self.call(&who, "POST", "/users", |tx| {
                    tx.query_one(
                        "INSERT INTO gym_booking.users (email, password_hash, first_name, last_name, role,
                                                        contact_email, contact_phone, preferences)
                         VALUES ($1::text, $2::text, $3::text, $4::text, $5::text::gym_booking.user_role,
                                 $6::text, $7::text, $8::text::jsonb)
                         RETURNING id::text",
                        &[
                            &user.email,
                            &user.password,
                            &user.first,
                            &user.last,
                            &user.role.sql(),
                            &user.contact_email,
                            &user.phone,
                            &preference,
                        ],
                    )
                    .map(|r| Obs::Created { id: r.get(0) })
                })
            }
            Op::Forbidden { sql, .. } => {
                self.call(&who, "POST", "/forbidden", |tx| Self::rows(tx, sql, &[]))
            }
            Op::LoadPast {
                trainer,
                start_s,
                minutes,
                capacity,
                athletes,
            } => {
                let trainer = self.model.users[*trainer].id.clone();
                let athletes: Vec<String> = athletes
                    .iter()
                    .map(|&a| self.model.users[a].id.clone())
                    .collect();
                let mut now = self.now;
                let result = (|| {
                    let mut tx = self.client.transaction()?;
                    now = tx.query_one(NOW_US, &[])?.get(0);
                    tx.batch_execute("SET LOCAL session_replication_role = replica")?;
                    let slot: String = tx
                        .query_one(
                            "INSERT INTO gym_booking.slots
                                 (trainer_id, start_at, end_at, duration_minutes, capacity)
                             VALUES ($1::text::uuid, to_timestamp($2::int8::float8),
                                     to_timestamp($3::int8::float8), $4::int8::int2, $5::int8::int2)
                             RETURNING id::text",
                            &[&trainer, start_s, &(start_s + minutes * 60), minutes, capacity],
                        )?
                        .get(0);
                    let mut bookings = Vec::new();
                    for athlete in &athletes {
                        bookings.push(
                            tx.query_one(
                                "INSERT INTO gym_booking.bookings (slot_id, user_id)
                                 VALUES ($1::text::uuid, $2::text::uuid) RETURNING id::text",
                                &[&slot, athlete],
                            )?
                            .get(0),
                        );
                    }
                    tx.commit()?;
                    Ok(Obs::Loaded { slot, bookings })
                })();
                (now, result.map_err(Fail::of))
            }
            Op::JoinWaitlist { .. }
            | Op::LeaveWaitlist { .. }
            | Op::MyWaitlist { .. }
            | Op::SetSettings { .. }
            | Op::PromoteWaitlists { .. }
            | Op::ReadEntries { .. }
            | Op::ReadEvents { .. } => unreachable!("sent by exec_week"),
            Op::CreateSeries { .. }
            | Op::EditSeries { .. }
            | Op::CancelSeries { .. }
            | Op::ExtendTimetables { .. }
            | Op::SetHorizon { .. } => unreachable!("sent by exec_series"),
            Op::MarkAttendance { .. }
            | Op::ExcuseNoShow { .. }
            | Op::RecordNoShows { .. }
            | Op::Roster { .. }
            | Op::Suspension { .. }
            | Op::ReadAttendance { .. }
            | Op::RestoreSweep { .. }
            | Op::Reassign { .. } => unreachable!("sent by exec_attendance"),
            Op::Directory => self.call(&who, "GET", "/trainer_directory", |tx| {
                let rows = tx.query(
                    "SELECT trainer_id::text || ' ' || display_name FROM gym_booking.trainer_directory
                      ORDER BY 1",
                    &[],
                )?;
                Ok(Obs::List(rows.iter().map(|r| r.get(0)).collect()))
            }),
        }
    }

    // ---- checking ---------------------------------------------------------------------------

    pub(crate) fn fingerprint(&mut self) -> (String, String) {
        let row = self
            .client
            .query_one(&self.sql.fingerprint, &[])
            .unwrap_or_else(|e| panic!("seed {}: fingerprint: {e:?}", self.seed));
        (row.get(0), row.get(1))
    }

    pub(crate) fn invariants(&mut self) -> Result<(), String> {
        let mut deleted = Vec::new();
        let mut everyone = Vec::new();
        for u in &self.model.users {
            if u.deleted {
                deleted.extend(u.secrets.iter().cloned());
            }
            everyone.extend(u.secrets.iter().cloned());
        }
        let rows = self
            .client
            .query(&self.sql.invariants, &[&deleted, &everyone, &self.log_mark])
            .map_err(|e| format!("the invariants query failed: {e:?}"))?;
        if rows.is_empty() {
            return Ok(());
        }
        let violations: Vec<String> = rows.iter().take(20).map(|r| r.get(0)).collect();
        Err(format!(
            "INVARIANT BROKEN ({} violations):\n    {}",
            rows.len(),
            violations.join("\n    ")
        ))
    }

    /// The database holds exactly what the model holds.
    pub(crate) fn compare(&mut self) -> Result<(), String> {
        let q = |client: &mut Client, sql: &Statement| {
            client
                .query(sql, &[])
                .map_err(|e| format!("reading the state failed: {e:?}"))
        };
        let mut problems = Vec::new();

        let mut db: HashMap<String, (String, bool, i64)> = q(&mut self.client, &self.sql.bookings)?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
            .collect();
        for (i, b) in self.model.bookings.iter().enumerate() {
            let expected = (b.status.sql().to_string(), b.auto, b.changes);
            match db.remove(&b.id) {
                None => problems.push(format!("booking#{i} {} is missing", b.id)),
                Some(found) if found != expected => problems.push(format!(
                    "booking#{i} {}: (status, auto_processed, history rows) is {found:?}, the model says {expected:?}",
                    b.id
                )),
                Some(_) => {}
            }
        }
        problems.extend(
            db.keys()
                .map(|id| format!("booking {id} is not in the model")),
        );

        type SlotRow = (String, i64, i64, i64, bool, Option<String>, String);
        let mut db: HashMap<String, SlotRow> = q(&mut self.client, &self.sql.slots)?
            .iter()
            .map(|r| {
                let row = (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6));
                (
                    r.get(0),
                    (row.0, row.1, row.2, row.3, row.4, row.5, r.get(7)),
                )
            })
            .collect();
        for (i, s) in self.model.slots.iter().enumerate() {
            let occurrence = s.series.map_or(String::new(), |(se, d)| {
                format!("{} {}", self.model.series[se].id, series::date_sql(d))
            });
            let expected = (
                self.model.users[s.trainer].id.clone(),
                s.start_s,
                s.minutes,
                s.capacity,
                s.cancelled,
                s.notes.clone(),
                occurrence,
            );
            match (db.remove(&s.id), s.gone) {
                (None, true) => {}
                (Some(_), true) => problems.push(format!("slot#{i} {} should be deleted", s.id)),
                (None, false) => problems.push(format!("slot#{i} {} is missing", s.id)),
                (Some(found), false) if found != expected => problems.push(format!(
                    "slot#{i} {}: (trainer, start, minutes, capacity, cancelled, notes, series and date) is {found:?}, the model says {expected:?}",
                    s.id
                )),
                (Some(_), false) => {}
            }
        }
        problems.extend(db.keys().map(|id| format!("slot {id} is not in the model")));

        type Person = (
            String,
            bool,
            Option<(String, String, Option<String>, Option<String>)>,
        );
        let mut db: HashMap<String, Person> = q(&mut self.client, &self.sql.users)?
            .iter()
            .map(|r| {
                let deleted: bool = r.get(2);
                let person = (!deleted).then(|| (r.get(3), r.get(4), r.get(5), r.get(6)));
                (r.get(0), (r.get(1), deleted, person))
            })
            .collect();
        for u in &self.model.users {
            // A live account's personal fields as last set (a deleted one's: see INVARIANTS).
            let person = (!u.deleted).then(|| {
                (
                    u.email.clone(),
                    u.first.clone(),
                    u.last.clone(),
                    u.phone.clone(),
                )
            });
            let expected = (u.role.sql().to_string(), u.deleted, person);
            match db.remove(&u.id) {
                None => problems.push(format!("user {} {} is missing", u.label, u.id)),
                Some(found) if found != expected => problems.push(format!(
                    "user {} {}: (role, deleted, (email, first, last, phone)) is {found:?}, the model says {expected:?}",
                    u.label, u.id
                )),
                Some(_) => {}
            }
        }
        problems.extend(db.keys().map(|id| format!("user {id} is not in the model")));

        if problems.is_empty() {
            Ok(())
        } else {
            problems.truncate(20);
            Err(format!(
                "THE DATABASE AND THE MODEL DISAGREE:\n    {}",
                problems.join("\n    ")
            ))
        }
    }

    /// Runs one operation and every check; returns a one-line outcome for the log of recent
    /// steps, or why the step failed.
    pub(crate) fn step(&mut self, op: &Op) -> Result<String, String> {
        self.model.stmt_now = None;
        let (now, actual) = self.exec(op);
        self.now = now;
        // Promotions in several slots at once may go in more than one order: the model takes
        // the one the database shows, among those the contract allows.
        self.model.observed_waiting = match op {
            Op::PromoteWaitlists { .. } | Op::DeleteMyAccount { .. } | Op::DeleteUser { .. } => {
                Some(self.db_waiting()?)
            }
            _ => None,
        };
        let expect = self.model.expect(op, now);
        let outcome = match &actual {
            Ok(obs) => format!("ok {obs:?}"),
            Err(f) => format!("{} {}", f.code, f.message),
        };
        let outcome = if outcome.len() > 160 {
            format!(
                "{}…",
                &outcome[..outcome
                    .char_indices()
                    .nth(160)
                    .map_or(outcome.len(), |c| c.0)]
            )
        } else {
            outcome
        };
        if let Err(f) = &actual {
            if !DOCUMENTED.contains(&f.code.as_str()) {
                return Err(format!(
                    "UNEXPECTED ERROR KIND {}: {} (detail: {:?}); the model expected {expect:?}",
                    f.code, f.message, f.detail
                ));
            }
        }
        let class = match &actual {
            Ok(_) => "ok".to_string(),
            // A free place held for the waitlist, apart from a full slot.
            Err(f)
                if f.code == FULL
                    && f.detail.as_deref().is_some_and(|d| d.contains("waitlist")) =>
            {
                format!("{FULL} (held)")
            }
            Err(f) => f.code.clone(),
        };
        let unchanged = match (expect, actual) {
            (Expect::Refused(code), Err(f)) if f.code == code => true,
            (Expect::RefusedWith(code, needles), Err(f)) if f.code == code => {
                let detail = f.detail.clone().unwrap_or_default().to_lowercase();
                if let Some(missing) = needles.iter().find(|n| !detail.contains(&n.to_lowercase()))
                {
                    return Err(format!(
                        "REFUSED WITH {code} AS EXPECTED, BUT THE DETAIL DOES NOT SAY {missing:?}: \
                         {} (detail: {:?})",
                        f.message, f.detail
                    ));
                }
                true
            }
            (Expect::Refused(code), Err(f)) | (Expect::RefusedWith(code, _), Err(f)) => {
                return Err(format!(
                    "REFUSED WITH THE WRONG SQLSTATE: expected {code}, got {} {} (detail: {:?})",
                    f.code, f.message, f.detail
                ))
            }
            (Expect::Refused(code), Ok(obs)) | (Expect::RefusedWith(code, _), Ok(obs)) => {
                return Err(format!(
                    "EXPECTED A REFUSAL ({code}) BUT THE CALL SUCCEEDED: {obs:?}"
                ))
            }
            (Expect::Denied, Err(f)) if f.code == NOT_ALLOWED => true,
            (Expect::Denied, Ok(Obs::Rows(0))) => true,
            (Expect::Denied, Ok(obs)) => {
                return Err(format!(
                    "EXPECTED NO WRITE (42501 or no row) BUT THE CALL SUCCEEDED: {obs:?}"
                ))
            }
            (expect, Err(f)) => {
                return Err(format!(
                    "EXPECTED SUCCESS ({expect:?}) BUT THE CALL FAILED: {} {} (detail: {:?})",
                    f.code, f.message, f.detail
                ))
            }
            (Expect::Same(expected), Ok(obs)) | (Expect::Touch(expected), Ok(obs))
                if !self.model.matches(&expected, &obs) =>
            {
                return Err(format!(
                    "WRONG RESULT:\n    expected {expected:?}\n    got      {obs:?}"
                ))
            }
            (Expect::Change(expected, _), Ok(obs)) if !self.model.matches(&expected, &obs) => {
                return Err(format!(
                    "WRONG RESULT:\n    expected {expected:?}\n    got      {obs:?}"
                ))
            }
            (Expect::Same(_), Ok(_)) => true,
            (Expect::Touch(_), Ok(_)) => false,
            (Expect::Change(_, effect), Ok(obs)) => {
                self.model.apply(effect, &obs, now);
                self.resolve_new_bookings()?;
                self.resolve_new_occurrences()?;
                false
            }
        };
        *self
            .tally
            .entry(op.kind())
            .or_default()
            .entry(class)
            .or_default() += 1;
        let (fingerprint, mark) = self.fingerprint();
        if unchanged && fingerprint != self.fingerprint {
            return Err(format!(
                "A REFUSED OR NO-OP CALL CHANGED THE DATABASE:\n    before {}\n    after  {fingerprint}",
                self.fingerprint
            ));
        }
        self.invariants()?;
        self.compare()?;
        self.check_attendance()?;
        self.check_week()?;
        self.check_series()?;
        self.fingerprint = fingerprint;
        self.log_mark = mark;
        Ok(outcome)
    }
}
