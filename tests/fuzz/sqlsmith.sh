#!/usr/bin/env bash
# The fuzz tier: sqlsmith (a random SQL generator: SELECTs, INSERT/UPDATE/DELETE/MERGE, every
# function it finds with random arguments) against a database with the demo data, first as a
# superuser, then as `authenticated` with an athlete's claims (what PostgREST's requests run
# as), a bounded number of queries each, with fixed seeds (a failure replays).
#
# Most of what it sends is refused, as it should be. It fails when the server log shows what
# must never happen: a crashed backend, a Rust panic, or an internal error (XX000) raised by
# gym_booking (a Rust source location, or gym_booking named in the message).
#
#   tests/fuzz/sqlsmith.sh SOCKET_DIR PORT SERVER_LOG
#
# GYM_BOOKING_FUZZ_QUERIES (default 3000) sets the queries per role; GYM_BOOKING_FUZZ_SEED the
# first seed. scripts/test.sh runs it last: a superuser's random calls may end other sessions.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"

sock=$1 port=$2 log=$3
queries=${GYM_BOOKING_FUZZ_QUERIES:-3000}
seed=${GYM_BOOKING_FUZZ_SEED:-20261129}
db=gym_booking_fuzz
athlete=00000000-0000-4000-a000-000000000101

command -v sqlsmith >/dev/null ||
    die "sqlsmith is not installed" "It is a Debian package: apt-get install sqlsmith (scripts/setup.sh does)."

psql_as() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U "$1" -d "$2" "${@:3}"; }

psql_as postgres postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
psql_as postgres "$db" -c "CREATE EXTENSION gym_booking CASCADE" -f "$ROOT/demo/demo_data.sql" >/dev/null
# A login that becomes `authenticated` with an athlete's claims, as a PostgREST request does.
psql_as postgres "$db" >/dev/null <<SQL
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gym_booking_fuzz_athlete') THEN
        CREATE ROLE gym_booking_fuzz_athlete LOGIN IN ROLE authenticated;
    END IF;
END \$\$;
ALTER ROLE gym_booking_fuzz_athlete IN DATABASE $db SET role = 'authenticated';
ALTER ROLE gym_booking_fuzz_athlete IN DATABASE $db
    SET request.jwt.claims = '{"sub": "$athlete", "role": "authenticated"}';
-- Every error with its SQLSTATE and source location, for the scan below.
ALTER ROLE gym_booking_fuzz_athlete IN DATABASE $db SET log_error_verbosity = verbose;
ALTER ROLE postgres IN DATABASE $db SET log_error_verbosity = verbose;
SQL

start=$(($(wc -l <"$log") + 1))
out=$(mktemp -d)
for who in postgres gym_booking_fuzz_athlete; do
    say "fuzz: sqlsmith, $queries queries as $who (seed $seed)"
    sqlsmith --verbose --seed="$seed" --max-queries="$queries" \
        --target="host=$sock port=$port user=$who dbname=$db" >"$out/$who.log" 2>&1 ||
        die "sqlsmith as $who stopped early (its output: $out/$who.log)" "$(tail -n 5 "$out/$who.log")"
    grep -q "^queries: $queries\$" "$out/$who.log" ||
        die "sqlsmith as $who did not run its $queries queries (its output: $out/$who.log)"
    echo "  $(grep -m1 -o 'error rate: .*' "$out/$who.log" | tail -n 1) (refusals are expected)"
    seed=$((seed + 1))
done
psql_as postgres "$db" -c "SELECT 1" >/dev/null || die "the server no longer answers after the fuzz run"

# What the server logged during the run: a crash, a panic, or gym_booking's internal error.
problems=$(tail -n "+$start" "$log" | awk '
    /terminated by signal|PANIC:|server process .* exited with exit code [1-9]/ { print; next }
    /panicked at|Rust panic/ { print; next }
    /ERROR:  XX000:/ { pending = $0; next }
    pending != "" && /LOCATION:/ {
        if ($0 ~ /\.rs:[0-9]+/ || pending ~ /gym_booking/) print pending " | " $0
        pending = ""; next
    }
    pending != "" && !/^\t|DETAIL:|HINT:|CONTEXT:|STATEMENT:/ {
        if (pending ~ /gym_booking/) print pending
        pending = ""
    }')
if [ -n "$problems" ]; then
    die "the fuzz run found what must never reach a client (server log $log):" "$problems"
fi
echo "  no crash, no panic, no internal error from gym_booking"
rm -rf "$out"
