//! The helper that stands for PostgREST behaves as PostgREST does: the role and the claims
//! hold for exactly one transaction, and an error rolls the whole request back.

use gym_booking_integration::{postgrest_request, sqlstate, Caller, TestDb};
use serde_json::json;

#[test]
fn role_and_claims_hold_for_one_request_only() {
    let db = TestDb::with_extension("request_scope");
    let mut client = db.connect();
    client
        .batch_execute(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'it_web_user') THEN
                     CREATE ROLE it_web_user NOLOGIN;
                 END IF;
             END $$",
        )
        .unwrap();
    let caller = Caller::new(
        "it_web_user",
        Some(json!({"sub": "4f1c3e2a-0000-4000-8000-000000000001", "role": "it_web_user"})),
    );

    let (user, sub, isolation): (String, Option<String>, String) =
        postgrest_request(&mut client, &caller, "POST", "/rpc/whoami", |tx| {
            let row = tx.query_one(
                "SELECT current_user::text,
                        current_setting('request.jwt.claims', true)::jsonb ->> 'sub',
                        current_setting('transaction_isolation')",
                &[],
            )?;
            Ok((row.get(0), row.get(1), row.get(2)))
        })
        .unwrap();
    assert_eq!(user, "it_web_user");
    assert_eq!(sub.as_deref(), Some("4f1c3e2a-0000-4000-8000-000000000001"));
    assert_eq!(isolation, "read committed");

    let row = client
        .query_one(
            "SELECT current_user::text, current_setting('request.jwt.claims', true)",
            &[],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "postgres",
        "the role outlived the request"
    );
    assert_eq!(
        row.get::<_, Option<String>>(1).unwrap_or_default(),
        "",
        "claims outlived the request"
    );
}

#[test]
fn a_failed_request_leaves_nothing_written() {
    let db = TestDb::with_extension("request_rollback");
    let mut client = db.connect();
    let caller = Caller::new("postgres", None);
    let err = postgrest_request(&mut client, &caller, "POST", "/users", |tx| {
        tx.execute(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             VALUES ('one@example.com', 'x', 'One')",
            &[],
        )?;
        // The same email again: the request fails as a whole.
        tx.execute(
            "INSERT INTO gym_booking.users (email, password_hash, first_name)
             VALUES ('ONE@example.com', 'x', 'Uno')",
            &[],
        )
    })
    .unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    let users: i64 = client
        .query_one("SELECT count(*) FROM gym_booking.users", &[])
        .unwrap()
        .get(0);
    assert_eq!(users, 0);
}
