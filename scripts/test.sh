#!/usr/bin/env bash
# The README's "test" command: every test tier, against the system PostgreSQL 15.
#   1. lint: rustfmt and clippy;
#   2. #[pg_test]s inside the extension (cargo pgrx test, server run as $PG_OS_USER);
#   3. the SQL regression suite (tests/pg_regress) against an installed build;
#   4. isolation specs (tests/isolation): sessions interleaved step by step by PostgreSQL's
#      isolation tester, for races and lock cycles that must come out the same every run;
#   5. integration tests (tests/integration) over real connections;
#   6. fuzz: sqlsmith's random SQL as a superuser and as an athlete (tests/fuzz);
#   7. the Debian package: built, installed with dpkg in place of the development build,
#      tested (regression suite, upgrades), removed (tests/package).
# Tiers 3 to 5 share one throwaway cluster on port $GYM_BOOKING_TEST_PORT (default 28816),
# with a streaming hot standby of it on the next port, both made afresh each run and stopped
# at the end.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

PORT=${GYM_BOOKING_TEST_PORT:-28816}
PORT_VAR=GYM_BOOKING_TEST_PORT

"$ROOT/scripts/setup.sh"
state=$(state_dir)

say "lint: rustfmt, clippy"
cargo fmt --all -- --check ||
    die "code is not formatted: run cargo fmt --all"
cargo clippy --workspace --all-targets --features "pg15 pg_test" -q -- -D warnings

say "tier 1: #[pg_test] (cargo pgrx test)"
pgrx_data="$state/pgrx-test"
mkdir -p "$pgrx_data"
if is_root; then chown "$PG_OS_USER" "$pgrx_data"; runas=(--runas "$PG_OS_USER"); else runas=(); fi
log="$state/test-run.log"
: >"$log"
# One test at a time: the tests share fixed ids, and parallel transactions inserting the
# same keys wait on (and can deadlock with) each other.
RUST_TEST_THREADS=1 cargo pgrx test pg15 "${runas[@]}" --pgdata "$pgrx_data" 2>&1 | tee -a "$log"

say "installing the extension (as released, without test functions)"
install_flags=(--pg-config "$PG_CONFIG")
is_root || install_flags+=(--sudo)
cargo pgrx install "${install_flags[@]}" >/dev/null 2>&1 ||
    cargo pgrx install "${install_flags[@]}"

say "releases: frozen install scripts of earlier versions; a released version never changes"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
extdir="$("$PG_CONFIG" --sharedir)/extension"
# Comment lines and the order of items are pgrx's to choose; the statements are not.
statements() { grep -v -E '^[[:space:]]*(--|/\*.*\*/[[:space:]]*$|$)' "$1" | sort; }
for frozen in "$ROOT"/sql/releases/gym_booking--*.sql; do
    released=${frozen##*/gym_booking--}
    released=${released%.sql}
    if [ "$released" = "$version" ]; then
        diff <(statements "$frozen") <(statements "$extdir/gym_booking--$version.sql") ||
            die "version $version is released (sql/releases/) but the code now generates a different schema." \
                "Bump the version in Cargo.toml and write sql/gym_booking--$version--<new>.sql."
    elif is_root; then
        install -m 644 "$frozen" "$extdir/"
    else
        sudo install -m 644 "$frozen" "$extdir/"
    fi
done

cluster="$state/test-cluster"
standby="$state/test-standby"
STANDBY_PORT=$((PORT + 1))
cluster_stop "$standby"
cluster_stop "$cluster"
rm -rf "$cluster" "$standby"
trap 'cluster_stop "$standby"; cluster_stop "$cluster"' EXIT
say "starting a throwaway cluster on port $PORT"
# Preloaded, with the completion worker on for the database its integration test uses.
cluster_start "$cluster" "$PORT" "-c fsync=off -c max_connections=200 \
    -c shared_preload_libraries=gym_booking \
    -c gym_booking.completion_databases=it_completion_worker -c gym_booking.completion_interval=1"

say "starting a streaming hot standby of it on port $STANDBY_PORT"
# Reads must work on a read replica (integration test replica_reads). The standby runs what
# the primary's settings require of it, without the completion worker (a standby never
# writes).
mkdir -p "$standby"
if is_root; then chown "$PG_OS_USER" "$standby"; fi
as_pg "$PG_BIN/pg_basebackup" -D "$standby/data" -R -X stream \
    -h "$cluster/socket" -p "$PORT" -U postgres >"$standby/basebackup.log" 2>&1 ||
    die "pg_basebackup failed; see $standby/basebackup.log"
cluster_start "$standby" "$STANDBY_PORT" "-c fsync=off -c max_connections=200 -c hot_standby=on"

say "tier 2: SQL regression suite (tests/pg_regress)"
pg_regress="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
[ -x "$pg_regress" ] || die "pg_regress not found at $pg_regress (it comes with postgresql-server-dev-$PG_MAJOR)"
regress_dir="$ROOT/tests/pg_regress"
mapfile -t regress_tests < <(cd "$regress_dir/sql" && ls ./*.sql | sed 's|^\./||; s|\.sql$||' | sort)
rm -rf "$regress_dir/results" "$regress_dir/regression.diffs" "$regress_dir/regression.out"
if ! "$pg_regress" --host="$cluster/socket" --port="$PORT" --user=postgres \
    --bindir="$PG_BIN" --inputdir="$regress_dir" --outputdir="$regress_dir" \
    --dbname=gym_booking_regress "${regress_tests[@]}" | tee -a "$log"; then
    [ -f "$regress_dir/regression.diffs" ] && cat "$regress_dir/regression.diffs"
    die "SQL regression tests failed (diffs above, also in tests/pg_regress/regression.diffs)"
fi

say "tier 3: isolation specs (tests/isolation)"
pg_isolation_regress="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/isolation/pg_isolation_regress"
[ -x "$pg_isolation_regress" ] ||
    die "pg_isolation_regress not found at $pg_isolation_regress (it comes with postgresql-server-dev-$PG_MAJOR)"
isolation_dir="$ROOT/tests/isolation"
mapfile -t isolation_specs < <(cd "$isolation_dir/specs" && ls ./*.spec | sed 's|^\./||; s|\.spec$||' | sort)
rm -rf "$isolation_dir/results" "$isolation_dir/regression.diffs" "$isolation_dir/regression.out"
if ! "$pg_isolation_regress" --host="$cluster/socket" --port="$PORT" --user=postgres \
    --bindir="$PG_BIN" --inputdir="$isolation_dir" --outputdir="$isolation_dir" \
    --dbname=gym_booking_isolation "${isolation_specs[@]}" | tee -a "$log"; then
    [ -f "$isolation_dir/regression.diffs" ] && cat "$isolation_dir/regression.diffs"
    die "isolation specs failed (diffs above, also in tests/isolation/regression.diffs)"
fi

say "tier 4: integration tests (tests/integration)"
GYM_BOOKING_TEST_HOST="$cluster/socket" GYM_BOOKING_TEST_PORT="$PORT" GYM_BOOKING_PG_BIN="$PG_BIN" \
    GYM_BOOKING_STANDBY_HOST="$standby/socket" GYM_BOOKING_STANDBY_PORT="$STANDBY_PORT" \
    cargo test -p gym_booking_integration 2>&1 | tee -a "$log"

# Last: a superuser's random calls may end other sessions of the cluster.
say "tier 5: fuzz (sqlsmith, tests/fuzz)"
bash "$ROOT/tests/fuzz/sqlsmith.sh" "$cluster/socket" "$PORT" "$cluster/server.log" 2>&1 | tee -a "$log"

# The Debian package, as a DBA installs it: it replaces the development build in the system
# PostgreSQL, so the clusters that run that build stop first; it is removed at the end.
say "tier 6: the Debian package (scripts/package.sh, tests/package)"
cluster_stop "$standby"
cluster_stop "$cluster"
deb=$(bash "$ROOT/scripts/package.sh" | tail -n 1)
bash "$ROOT/tests/package/check.sh" "$deb" "$((PORT + 2))" 2>&1 | tee -a "$log"

# One closing line for the whole run, summed over the tiers' own reports.
passed=$(awk '/test result: ok\./ { n += $4 } END { print n + 0 }' "$log")
regress=$(grep -cE '(\.\.\. ok|^ok [0-9]+ +-) .* ms$' "$log" || true)
fuzzed=$(grep -c '^  no crash, no panic' "$log" || true)
packaged=$(grep -c '^  package installed, tested and removed' "$log" || true)
say "all test tiers passed"
echo "$((passed + regress + fuzzed + packaged)) passed, 0 failed"
