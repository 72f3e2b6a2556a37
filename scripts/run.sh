#!/usr/bin/env bash
# The README's "run" command: a local PostgreSQL 15 with gym_booking and demo data.
#   - installs the toolchain when missing (scripts/setup.sh);
#   - builds gym_booking and installs it into the system PostgreSQL 15;
#   - starts a throwaway cluster (data under .local/, port $GYM_BOOKING_PORT, default 28815);
#   - creates database gym_booking_demo with the extension and demo data;
#   - prints how to connect.
# Running it again reuses the cluster and the database; `--reset` starts them anew.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT=${GYM_BOOKING_PORT:-28815}
DB=gym_booking_demo
reset=
for arg in "$@"; do
    case "$arg" in
        --reset) reset=1 ;;
        *) die "unknown option $arg" "usage: $0 [--reset]" ;;
    esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65535 ] ||
    die "GYM_BOOKING_PORT must be a port number from 1024 to 65535, not '$PORT'."

"$ROOT/scripts/setup.sh"
say "building and installing gym_booking into PostgreSQL $PG_MAJOR"
install_flags=(--pg-config "$PG_CONFIG")
is_root || install_flags+=(--sudo)
(cd "$ROOT" && cargo pgrx install "${install_flags[@]}" >/dev/null)

dir="$(state_dir)/demo"
if [ -n "$reset" ]; then
    cluster_stop "$dir"
    rm -rf "$dir"
fi
say "starting the demo cluster on port $PORT"
cluster_start "$dir" "$PORT"

psql_demo() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$PORT" -U postgres "$@"; }
if [ "$(psql_demo -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    say "creating database $DB with the extension and demo data"
    psql_demo -d postgres -c "CREATE DATABASE $DB"
    psql_demo -d "$DB" -c "CREATE EXTENSION gym_booking CASCADE" -f "$ROOT/demo/demo_data.sql"
else
    # A newer build may have been installed above: bring the database's extension to it.
    psql_demo -d "$DB" -c "ALTER EXTENSION gym_booking UPDATE" 2>/dev/null || true
fi

cat <<TXT

gym_booking is running. Connect with:

    psql "postgresql://postgres@127.0.0.1:$PORT/$DB"

Try:

    -- the coming week: every slot with its places taken and free
    SELECT s.start_at, u.first_name AS trainer, s.notes, s.capacity,
           count(b.id) FILTER (WHERE b.status = 'reserved') AS booked
      FROM gym_booking.slots s
      JOIN gym_booking.users u ON u.id = s.trainer_id
      LEFT JOIN gym_booking.bookings b ON b.slot_id = s.id
     GROUP BY s.id, u.first_name ORDER BY s.start_at LIMIT 10;

    -- Alex's bookings
    SELECT s.start_at, s.notes, b.status
      FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
     WHERE b.user_id = '00000000-0000-4000-a000-000000000101' ORDER BY s.start_at;

    -- the public trainer directory, kept in step by trigger
    SELECT display_name, contact_email, contact_phone FROM gym_booking.trainer_directory;

Stop the server: sudo -u $PG_OS_USER $PG_BIN/pg_ctl -D $dir/data stop
Start afresh:    bash scripts/run.sh --reset
TXT
