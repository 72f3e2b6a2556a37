#!/usr/bin/env bash
# The README's "test" command: every test tier, against the system PostgreSQL 15.
#   1. lint: rustfmt and clippy;
#   2. #[pg_test]s inside the extension (cargo pgrx test, server run as $PG_OS_USER);
#   3. the SQL regression suite (tests/pg_regress) against an installed build;
#   4. integration tests (tests/integration) over real connections.
# Tiers 3 and 4 share one throwaway cluster on port $GYM_BOOKING_TEST_PORT (default 28816),
# made afresh each run and stopped at the end.
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
cluster_stop "$cluster"
rm -rf "$cluster"
trap 'cluster_stop "$cluster"' EXIT
say "starting a throwaway cluster on port $PORT"
# Preloaded, with the completion worker on for the database its integration test uses.
cluster_start "$cluster" "$PORT" "-c fsync=off -c max_connections=200 \
    -c shared_preload_libraries=gym_booking \
    -c gym_booking.completion_databases=it_completion_worker -c gym_booking.completion_interval=1"

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

say "tier 3: integration tests (tests/integration)"
GYM_BOOKING_TEST_HOST="$cluster/socket" GYM_BOOKING_TEST_PORT="$PORT" GYM_BOOKING_PG_BIN="$PG_BIN" \
    cargo test -p gym_booking_integration 2>&1 | tee -a "$log"

# One closing line for the whole run, summed over the tiers' own reports.
passed=$(awk '/test result: ok\./ { n += $4 } END { print n + 0 }' "$log")
regress=$(grep -cE '(\.\.\. ok|^ok [0-9]+ +-) .* ms$' "$log" || true)
say "all test tiers passed"
echo "$((passed + regress)) passed, 0 failed"
