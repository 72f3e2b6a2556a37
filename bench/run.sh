#!/usr/bin/env bash
# The benchmark runner (issues 6 and 10). One command:
#
#   bash bench/run.sh            # full run: ~20 minutes; writes docs/benchmarks.md and docs/benchmarks.svg
#   bash bench/run.sh --smoke    # tiny data, short runs, a few minutes once built; report under bench/out/smoke/
#   BENCH_PKG=DIR bash bench/run.sh   # no build: benchmark the package already built in DIR
#
# What it does:
#   1. builds the RELEASE package (`cargo pgrx package`), or takes a package already built (--pkg);
#   2. starts a throwaway cluster (.local/bench, port $BENCH_PORT) on a private copy of the installed
#      PostgreSQL holding this build's library, control and SQL files (the system's PostgreSQL and
#      its extension directory are left alone);
#   3. loads the data set-based (bench/sql/load.sql, triggers off under
#      session_replication_role = replica), makes the floor's plain copy (bench/sql/floor.sql),
#      VACUUM ANALYZE, CHECKPOINT;
#   4. logs EXPLAIN ANALYZE of the hot queries (bench/sql/explain.sql, auto_explain, nested);
#   5. runs every scenario with pgbench (bench/pgbench/*.sql: 16 clients, 2 threads, prepared),
#      the extension and its floor back to back, logging every transaction's latency;
#   6. profiles the write paths briefly with pg_stat_statements (track = all) and track_functions
#      (separate runs, so the measured runs carry no tracking overhead);
#      and, when `perf` is available, samples the backends' call stacks during a booking run;
#   7. completes the due bookings (complete_past_bookings), last on this data set; then, on a release
#      with waitlists, the hot-slot cancellation with waitlist (bench/sql/waitlist.sql: full slots with
#      athletes waiting, made for the scenario; its own profile run);
#   7c. on a release with attendance (0.2.2), the report queries: one trainer's month and the studio's month of
#      slot_report, trainer_report and athlete_report at the data set's history, one client, beside their floor,
#      with EXPLAIN ANALYZE of each (bench/sql/explain_report.sql: is every table reached by index?);
#   8. studio shapes (bench/shapes.sh): 1, 3 and 100 trainers, each at a small history and at ten
#      times it, in databases of their own, with the PL/pgSQL baseline (bench/sql/plpgsql.sql)
#      beside the extension and the floor, and EXPLAIN ANALYZE of the hot requests at both sizes;
#   then checks the outcome (no client aborted, no slot overbooked, every due booking completed),
#   writes the report and the chart (bench/report.py, bench/report_shapes.py) and stops the cluster.
#
# Options: --smoke, --no-build (use the package already built), --pkg DIR (benchmark the package in DIR, no
# build: a `cargo pgrx package` tree, DIR/usr/lib/postgresql/15/lib/gym_booking.so and DIR/usr/share/…,
# or a flat one, DIR/lib/gym_booking.so and DIR/extension/gym_booking*; environment BENCH_PKG does the
# same), --compare DIR (raw output of an earlier run, bench/out/NAME, whose ratios the report shows
# beside this run's: the previous release measured by the same harness), --no-perf (skip the perf call-stack
# sample of a booking run), --keep (leave the cluster running; without it the cluster is removed at the end), --out DIR (where the report goes),
# --only "spread hot ..." (only these scenarios, by the names of bench/pgbench/NAME.*.sql; for
# working on one path: the report then covers those alone). Environment: BENCH_SECS (seconds per timed run, default 20;
# smoke 2), BENCH_ROUNDS (2: each timed run is split in rounds that alternate with the floor's),
# BENCH_PORT (default 28870; smoke 28871), BENCH_CLIENTS (16), BENCH_THREADS (2), BENCH_SHAPES
# ("1 3 100"), BENCH_SHAPE_SECS (seconds per studio-shape run, default 3; smoke 1), BENCH_NAME (the run's
# name: raw output in bench/out/NAME, default bench or bench-smoke), BENCH_STATE_DIR (where the cluster
# lives; default .local/), BENCH_PKG_NOTE (what the package is, for the report), BENCH_WL_SLOTS (10),
# BENCH_WL_CAPACITY (20), BENCH_WL_WAITING (50): the hot waitlist scenario's slots, places and line.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

BENCH="$ROOT/bench"
smoke= build=1 keep= out_dir= perf=1 only= compare=
prebuilt=${BENCH_PKG:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1 ;;
        --no-build) build= ;;
        --pkg) prebuilt=$2; shift ;;
        --compare) compare=$(cd "$2" && pwd); shift ;;
        --keep) keep=1 ;;
        --no-perf) perf= ;;
        --out) out_dir=$2; shift ;;
        --only) only=" $2 "; shift ;;
        -h | --help) sed -n '2,/^source/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1" "usage: $0 [--smoke] [--no-build] [--pkg DIR] [--compare DIR] [--no-perf] [--keep] [--out DIR] [--only 'NAME ...']" ;;
    esac
    shift
done

if [ -n "$smoke" ]; then
    TRAINERS=10 PER_TRAINER=200 ATHLETES=1000 BOOKINGS=20000 SPREAD_ATHLETES=200
    SECS=${BENCH_SECS:-2} PORT=${BENCH_PORT:-28871} NAME=${BENCH_NAME:-bench-smoke} PERF_SECS=1
    perf=   # no call-stack sampling in the smoke run
    out_dir=${out_dir:-$BENCH/out/smoke}
else
    TRAINERS=100 PER_TRAINER=1000 ATHLETES=10000 BOOKINGS=1000000 SPREAD_ATHLETES=1000
    SECS=${BENCH_SECS:-20} PORT=${BENCH_PORT:-28870} NAME=${BENCH_NAME:-bench} PERF_SECS=6
    out_dir=${out_dir:-$ROOT/docs}
fi
CLIENTS=${BENCH_CLIENTS:-16}
WL_SLOTS=${BENCH_WL_SLOTS:-10} WL_CAPACITY=${BENCH_WL_CAPACITY:-20} WL_WAITING=${BENCH_WL_WAITING:-50}
ROUNDS=${BENCH_ROUNDS:-2}
THREADS=${BENCH_THREADS:-2}
PGBENCH=$PG_BIN/pgbench
PSQL_BIN=$PG_BIN/psql
for tool in "$PGBENCH" "$PSQL_BIN" "$PG_CONFIG"; do
    [ -x "$tool" ] || die "$tool is missing" "Install PostgreSQL $PG_MAJOR (bash scripts/setup.sh)."
done
PYTHON=$(command -v python3) || die "python3 is needed to write the report"

started=$(date +%s)
run_dir=$BENCH/out/$NAME
rm -rf "$run_dir"
mkdir -p "$run_dir/logs" "$out_dir"
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
meta=$run_dir/meta.env
: >"$meta"
kv() { printf '%s=%s\n' "$1" "$2" >>"$meta"; }
elapsed() { echo $(($(date +%s) - started)); }

# 1. the release build -----------------------------------------------------------------------
pkg=$ROOT/target/release/gym_booking-pg$PG_MAJOR
if [ -n "$prebuilt" ]; then
    build=
    pkg=$(cd "$prebuilt" && pwd) || die "no package directory $prebuilt"
fi
if [ -n "$build" ]; then
    # a fresh machine: the same toolchain set-up as the test and run commands (quick when done)
    "$ROOT/scripts/setup.sh"
    say "building the release package (cargo pgrx package)"
    (cd "$ROOT" && cargo pgrx package --pg-config "$PG_CONFIG" >"$run_dir/build.log" 2>&1) ||
        die "cargo pgrx package failed; see $run_dir/build.log"
fi
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)/extension
so=$pkg$libdir/gym_booking.so
pkg_share=$pkg$sharedir
if [ -n "$prebuilt" ] && [ -f "$pkg/lib/gym_booking.so" ]; then
    # a flat package: lib/ and extension/
    so=$pkg/lib/gym_booking.so
    pkg_share=$pkg/extension
fi
[ -f "$so" ] || die "no release build at $so" "Run without --no-build, or give --pkg a package directory."
[ -f "$pkg_share/gym_booking.control" ] || die "no gym_booking.control in $pkg_share"
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$pkg_share/gym_booking.control" | head -1)
kv sql_matches "yes (this build's, in the benchmark's own copy of PostgreSQL)"
kv version "$version"
if [ -n "$prebuilt" ]; then kv pkg "$pkg (prebuilt)"; else kv pkg "$pkg (cargo pgrx package, this run)"; fi
kv pkg_note "${BENCH_PKG_NOTE:-}"
kv library_bytes "$(stat -c %s "$so")"
# How the library was compiled: cargo's dev profile keeps overflow checks (their panic messages)
# and debug info; the release profile (cargo pgrx package) has neither. A dev build's Rust code is
# unoptimized: its figures say little about a release's.
if command -v readelf >/dev/null 2>&1; then
    if grep -aq 'attempt to add with overflow' "$so"; then
        kv library_profile "dev (unoptimized, overflow checks, debug info)"
    elif readelf -S "$so" 2>/dev/null | grep -q '[.]debug_info'; then
        kv library_profile "optimized, with debug info"
    else
        kv library_profile "release (optimized, no debug info)"
    fi
fi

# 2. the cluster -----------------------------------------------------------------------------
dir="${BENCH_STATE_DIR:-$(state_dir)}/$NAME"
mkdir -p "$(dirname "$dir")"
is_root && chown "$PG_OS_USER" "$(dirname "$dir")"
# The cluster holds gigabytes (a million bookings, their logs, a private PostgreSQL): gone
# after the run unless --keep (a machine that benchmarks often would fill its disk).
cleanup() {
    if [ -z "$keep" ]; then
        cluster_stop "$dir"
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
cluster_stop "$dir"
rm -rf "$dir"
# PostgreSQL 15 reads an extension's control and SQL files only from its share directory, and
# finds that directory (and its libraries) relative to the running binary. So the cluster runs a
# private copy of the installed PostgreSQL (about 100 MB) holding this build's library, control
# and SQL files: the system's PostgreSQL, and any other cluster using it, is left alone.
pg_tree=$dir/pg
rel_bin=${PG_BIN#/usr/}
mkdir -p "$pg_tree/$(dirname "$rel_bin")" "$pg_tree/${libdir#/usr/}" "$pg_tree/$(dirname "${sharedir#/usr/}")"
cp -a "$PG_BIN" "$pg_tree/$(dirname "$rel_bin")/"
cp -a "$libdir/." "$pg_tree/${libdir#/usr/}/"
cp -a "$(dirname "$sharedir")/." "$pg_tree/$(dirname "${sharedir#/usr/}")/"
cp "$so" "$pg_tree/${libdir#/usr/}/gym_booking.so"
rm -f "$pg_tree/${sharedir#/usr/}"/gym_booking*
cp "$pkg_share"/gym_booking* "$pg_tree/${sharedir#/usr/}/"
PG_BIN=$pg_tree/$rel_bin
[ "$("$PG_BIN/pg_config" --sharedir)" = "$pg_tree/$(dirname "${sharedir#/usr/}")" ] ||
    die "the copy of PostgreSQL in $pg_tree does not read its own share directory"
is_root && chown -R "$PG_OS_USER" "$dir"
settings=(
    shared_buffers=1GB
    work_mem=16MB
    maintenance_work_mem=512MB
    effective_cache_size=8GB
    max_connections=60
    max_wal_size=8GB
    checkpoint_timeout=30min
    shared_preload_libraries=pg_stat_statements
    pg_stat_statements.track=none
    pg_stat_statements.max=1000
    track_io_timing=on
)
opts=
for s in "${settings[@]}"; do opts+=" -c $s"; done
say "starting the benchmark cluster on port $PORT (data in $dir)"
cluster_start "$dir" "$PORT" "$opts"
export PGHOST=$dir/socket PGPORT=$PORT PGUSER=postgres
DB=gym_bench
psql_() { "$PSQL_BIN" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_ -d postgres -c "CREATE DATABASE $DB"
psql_ -d $DB -c "SET client_min_messages = warning" -c "CREATE EXTENSION gym_booking CASCADE" \
    -c "CREATE EXTENSION pg_stat_statements"
# the server must have loaded the release library, not the system's: look at a backend's memory map
mapped=$(psql_ -d $DB -At 2>/dev/null <<'SQL' | tail -1
SELECT gym_booking.version();
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! grep -o '/[^ ]*gym_booking[.]so' /proc/$BACKEND_PID/maps | sort -u | head -1
SQL
)
if [ -n "$mapped" ] && [ "${mapped:0:1}" = / ]; then
    [ "$mapped" = "$pg_tree/${libdir#/usr/}/gym_booking.so" ] ||
        die "the server loaded $mapped, not the release build in $pg_tree"
else
    mapped="$pg_tree/${libdir#/usr/}/gym_booking.so (not verified: no backend memory map readable)"
fi
kv library "$mapped"
kv library_built "$(date -u -r "$so" '+%Y-%m-%d %H:%M UTC')"
kv extversion "$(psql_ -d $DB -Atc "SELECT extversion FROM pg_extension WHERE extname = 'gym_booking'")"

# 3. data --------------------------------------------------------------------------------------
say "loading $BOOKINGS bookings, $((TRAINERS * PER_TRAINER)) slots, $ATHLETES athletes"
t0=$(date +%s.%N)
psql_ -d $DB -v trainers=$TRAINERS -v per_trainer=$PER_TRAINER -v athletes=$ATHLETES \
    -v bookings=$BOOKINGS -c "SET client_min_messages = warning" -f "$BENCH/sql/load.sql"
psql_ -d $DB -c "VACUUM ANALYZE"
t1=$(date +%s.%N)
psql_ -d $DB -f "$BENCH/sql/floor.sql"
psql_ -d $DB -c "CHECKPOINT"
t2=$(date +%s.%N)
kv load_secs "$(echo "$t1 - $t0" | bc)"
kv floor_secs "$(echo "$t2 - $t1" | bc)"

KT=$((TRAINERS * PER_TRAINER))
FUT=$((KT * 3 / 10))
DUE=$(psql_ -d $DB -Atc "SELECT count(*) FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                          WHERE b.status = 'reserved' AND s.end_at <= now()")
COMPLETE_TX=10
BATCH=$(((DUE + CLIENTS * COMPLETE_TX - 1) / (CLIENTS * COMPLETE_TX)))   # 160 calls complete them all
SPREAD_TX=$((3 * KT / 10 / CLIENTS))   # 3 bookings per spread slot on average: never full (capacity 20)
vars=(
    -D clients=$CLIENTS -D trainers=$TRAINERS -D athletes=$ATHLETES -D spread_athletes=$SPREAD_ATHLETES
    -D spread0=$((KT * 8 / 10)) -D spreadn=$((KT / 10)) -D hot0=$((KT * 9 / 10)) -D hotn=$((KT / 10))
    -D fut0=$((KT / 2)) -D fut=$FUT -D base=$((KT * 8 / 10)) -D days=$((FUT / TRAINERS / 3))
    -D batch=$BATCH
    # cancel + re-book draws a reserved future booking n = i * base + j; i below this (load.sql's layout)
    -D positions=$(( BOOKINGS / (KT * 8 / 10) < 5 ? BOOKINGS / (KT * 8 / 10) : 5 ))
)
for v in TRAINERS PER_TRAINER ATHLETES BOOKINGS SPREAD_ATHLETES SECS ROUNDS CLIENTS THREADS DUE BATCH SPREAD_TX COMPLETE_TX; do
    kv "${v,,}" "${!v}"
done
psql_ -d $DB -Atc "SELECT 'slots=' || (SELECT count(*) FROM gym_booking.slots),
                          'bookings=' || (SELECT count(*) FROM gym_booking.bookings),
                          'activity_logs=' || (SELECT count(*) FROM gym_booking.activity_logs),
                          'history=' || (SELECT count(*) FROM gym_booking.booking_status_history),
                          'db_size=' || pg_size_pretty(pg_database_size(current_database()))" |
    tr '|' '\n' >>"$meta"

# the machine and the settings
kv cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
kv cores "$(nproc)"
kv mem "$(free -g | awk '/^Mem:/ {print $2 " GB"}')"
kv kernel "$(uname -sr)"
kv pg_version "$(psql_ -d $DB -Atc 'SHOW server_version')"
kv pgbench "$("$PGBENCH" --version)"
kv git "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src sql Cargo.toml 2>/dev/null || echo ' (src/sql changed since)')"
kv loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
kv started "$(date -u '+%Y-%m-%d %H:%M UTC')"
psql_ -d $DB -Atc "SELECT name || '=' || current_setting(name) FROM pg_settings
                    WHERE name IN ('shared_buffers', 'work_mem', 'synchronous_commit', 'fsync', 'wal_level',
                                   'max_wal_size', 'checkpoint_timeout', 'jit', 'random_page_cost',
                                   'effective_cache_size', 'autovacuum', 'wal_sync_method', 'plan_cache_mode')
                    ORDER BY name" >"$run_dir/settings.txt"

# 4. EXPLAIN --------------------------------------------------------------------------------------
say "EXPLAIN ANALYZE of the hot queries"
j=7                                    # booking n = j (i = 0): a future reserved booking
athlete_n=$((1 + (131 * j) % ATHLETES))
uuid() { printf '00000000-0000-4000-%s-%012d' "$1" "$2"; }
times=$(psql_ -d $DB -F' ' -Atc "
    SELECT format('week_from=%L week_to=%L day_from=%L day_to=%L', h + interval '1 day', h + interval '8 days',
                  h + interval '3 days', h + interval '4 days')
      FROM bench.params")
eval "$times"
psql_ -d $DB -v athlete="$(uuid 8001 $athlete_n)" -v trainer="$(uuid 8000 5)" \
    -v slot="$(uuid 9000 $((KT * 8 / 10 + 5)))" -v booking="$(uuid a000 $j)" \
    -v week_from="$week_from" -v week_to="$week_to" -v day_from="$day_from" -v day_to="$day_to" \
    -v batch=$BATCH -f "$BENCH/sql/explain.sql" 2>"$run_dir/explain.txt" >/dev/null ||
    die "the EXPLAIN script failed; see $run_dir/explain.txt"

# 5. the scenarios ----------------------------------------------------------------------------------
: >"$run_dir/runs.tsv"
aborted=0
# run NAME ROUND [pgbench options]: round ROUND of bench/pgbench/NAME.sql (NAME@VARIANT: the same
# script, logged apart); output and transaction log kept under logs/NAME/rROUND/. The one-client call-alone run of available_slots connects with
# role = authenticated (no envelope to set it).
run() {
    local name=$1 round=$2
    shift 2
    local d=$run_dir/logs/$name/r$round t0 t1
    local env=()
    case $name in *_1c.ext) env=(PGOPTIONS="-c role=authenticated") ;; esac
    say "run $name, round $round ($(elapsed)s in)"
    mkdir -p "$d"
    # Transaction ids assigned during the run: the next id to be handed out, before and after
    # (read from a snapshot, which assigns none). A read scenario must leave it where it was.
    local next_xid="SELECT txid_snapshot_xmax(txid_current_snapshot())" x0
    # the hot waitlist scenario: its slots' places, waiting athletes and promotions, before and after
    local wl_side=
    case $name in
        hot_waitlist.ext*) wl_side=gym_booking ;;
        hot_waitlist.floor*) wl_side=bench_floor ;;
        hot_waitlist.plpgsql*) wl_side=bench_plpgsql ;;
    esac
    [ -z "$wl_side" ] || psql_ -d $DB -F' ' -Atc "SELECT * FROM bench.wl_state('$wl_side')" >"$d/wl_before"
    x0=$(psql_ -d $DB -Atc "$next_xid")
    t0=$(date +%s.%N)
    env "${env[@]}" "$PGBENCH" -n -M prepared -r -l --log-prefix="$d/tx" "${vars[@]}" \
        -f "$BENCH/pgbench/${name%@*}.sql" "$@" $DB >"$d/pgbench.out" 2>&1 || true
    t1=$(date +%s.%N)
    echo $(($(psql_ -d $DB -Atc "$next_xid") - x0)) >"$d/xids"
    [ -z "$wl_side" ] || psql_ -d $DB -F' ' -Atc "SELECT * FROM bench.wl_state('$wl_side')" >"$d/wl_after"
    if grep -qE 'aborted|error' "$d/pgbench.out"; then
        aborted=$((aborted + 1))
        sed -n '1,5p' "$d/pgbench.out" >&2
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$round" "$(echo "$t1 - $t0" | bc)" "$*" >>"$run_dir/runs.tsv"
}
# alternate NAME... -- [pgbench options]: $ROUNDS rounds, each running every NAME once, in turn,
# so the extension and its floor share whatever else the machine was doing at the time
# wanted NAME: whether the scenario NAME (spread.ext -> spread) is to run (--only)
wanted() { [ -z "$only" ] || [[ $only == *" ${1%%.*} "* ]]; }
alternate() {
    local names=()
    while [ "$1" != -- ]; do
        if wanted "$1"; then names+=("$1"); fi
        shift
    done
    shift
    local r n
    for r in $(seq 1 "$ROUNDS"); do
        for n in "${names[@]}"; do run "$n" "$r" "$@"; done
    done
}
atleast1() { if [ "$1" -lt 1 ]; then echo 1; else echo "$1"; fi; }
T=(-c "$CLIENTS" -j "$THREADS" -T "$(atleast1 $((SECS / ROUNDS)))")
# reads first, on the data exactly as loaded
alternate envelope.ext -- "${T[@]}"
alternate avail_week.ext avail_week.floor -- "${T[@]}"
alternate avail_day.ext avail_day.floor -- "${T[@]}"
alternate my_bookings.ext my_bookings.norls my_bookings.floor -- "${T[@]}"
alternate table_read.ext table_read.floor -- "${T[@]}"
# the latency of available_slots alone, one client: the call as one statement, so the median is
# the call's and not the envelope's or the queue's
alternate avail_week_1c.ext avail_week_1c.floor -- -c 1 -j 1 -T "$(atleast1 $(((SECS + 2) / 3 / ROUNDS)))"
# writes
alternate spread.ext spread.floor -- -c "$CLIENTS" -j "$THREADS" -t "$(atleast1 $((SPREAD_TX / ROUNDS)))"
# the same bookings one at a time: the cost of a request without 16 clients queueing for 2 cores
alternate spread.ext@1c spread.floor@1c -- -c 1 -j 1 -t "$(atleast1 $((SPREAD_TX / ROUNDS)))"
alternate hot.ext hot.floor -- "${T[@]}"
alternate cancel_rebook.ext cancel_rebook.floor -- "${T[@]}"

# 6. profile of the write and read paths: short runs with statement and function tracking ---------
say "profiling (pg_stat_statements track=all, track_functions=all)"
P=(-c "$CLIENTS" -j "$THREADS" -T $(((SECS + 5) / 6)))
profile() {
    local script=$1
    psql_ -d $DB -qAtc "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset();" >/dev/null
    PGOPTIONS="-c pg_stat_statements.track=all -c track_functions=all" \
        "$PGBENCH" -n -M prepared "${vars[@]}" -f "$BENCH/pgbench/$script.sql" "${P[@]}" $DB \
        >"$run_dir/profile.$script.pgbench.out" 2>&1 || true
    psql_ -d $DB -F $'\t' -Atc "
        SELECT 'stmt', calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 4), toplevel,
               left(regexp_replace(query, '\s+', ' ', 'g'), 160)
          FROM pg_stat_statements WHERE calls > 1 ORDER BY total_exec_time DESC LIMIT 14" >"$run_dir/profile.$script.tsv"
    psql_ -d $DB -F $'\t' -Atc "
        SELECT 'func', calls, round(total_time::numeric, 1), round(self_time::numeric, 1), funcname
          FROM pg_stat_user_functions WHERE calls > 0 ORDER BY total_time DESC LIMIT 12" >>"$run_dir/profile.$script.tsv"
}
for script in spread.ext cancel_rebook.ext my_bookings.ext avail_week.ext; do
    wanted $script || continue
    profile $script
done

# 6b. where a booking's CPU goes: call stacks of the backends (perf, when it is there and allowed),
# during a booking run, summarised by bench/perf_stacks.py (the report's "CPU profile")
if [ -n "$perf" ] && wanted spread && command -v perf >/dev/null 2>&1; then
    say "sampling call stacks with perf during a booking run"
    "$PGBENCH" -n -M prepared "${vars[@]}" -f "$BENCH/pgbench/spread.ext.sql" -c "$CLIENTS" -j "$THREADS" \
        -T $((PERF_SECS + 3)) $DB >"$run_dir/perf.pgbench.out" 2>&1 &
    bench_pid=$!
    sleep 2
    backends=$(pgrep -P "$(head -1 "$dir/data/postmaster.pid")" | paste -sd, -)
    if perf record -q -F 999 --call-graph dwarf,16384 -p "$backends" -o "$run_dir/perf.data" \
        -- sleep "$PERF_SECS" >"$run_dir/perf.log" 2>&1; then
        perf script -i "$run_dir/perf.data" -F ip,sym 2>/dev/null >"$run_dir/perf.stacks" || true
        "$PYTHON" "$BENCH/perf_stacks.py" "$run_dir/perf.stacks" >"$run_dir/perf.tsv" || true
    else
        say "perf record failed (see $run_dir/perf.log); no CPU profile in the report"
    fi
    rm -f "$run_dir/perf.data" "$run_dir/perf.stacks"
    wait "$bench_pid" || true
fi

# 6c. where the clients wait: the server's wait events, sampled every 0.1 s (pg_stat_activity) during
# a booking run on each side (a separate run: the sampling itself takes CPU)
# waits NAME [pgbench options]: bench/pgbench/NAME.sql; counts in waits.NAME.tsv (count, samples, state)
waits() {
    local script=$1 pid n=0
    shift
    "$PGBENCH" -n -M prepared "${vars[@]}" -f "$BENCH/pgbench/$script.sql" -c "$CLIENTS" -j "$THREADS" "$@" $DB \
        >"$run_dir/waits.$script.pgbench.out" 2>&1 &
    pid=$!
    sleep 1
    : >"$run_dir/waits.$script.raw"
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 200 ]; do
        psql_ -d $DB -Atc "SELECT CASE WHEN state = 'idle' THEN 'idle: between requests (pgbench)'
                                        WHEN wait_event IS NULL THEN 'running (CPU)'
                                        ELSE wait_event_type || ': ' || wait_event END
                             FROM pg_stat_activity
                            WHERE datname = current_database() AND backend_type = 'client backend'
                              AND pid <> pg_backend_pid()" >>"$run_dir/waits.$script.raw" 2>/dev/null || true
        n=$((n + 1))
        sleep 0.1
    done
    wait "$pid" || true
    sort "$run_dir/waits.$script.raw" | uniq -c | sort -rn |
        awk -v n=$n '{c = $1; $1 = ""; sub(/^ /, ""); printf "%s\t%s\t%s\n", c, n, $0}' >"$run_dir/waits.$script.tsv"
    rm -f "$run_dir/waits.$script.raw"
}
if wanted spread; then
    # on the upper half of the hot range, which the hot-booking scenario did not reach: timed runs
    # of a few seconds fill no slot there
    say "sampling wait events during booking runs"
    W=(-D spread0=$((KT * 9 / 10 + KT / 20)) -D spreadn=$((KT / 20)) -T $((PERF_SECS < 4 ? 2 : 4)))
    waits spread.ext "${W[@]}"
    waits spread.floor "${W[@]}"
fi

# 7. complete_past_bookings, last: it changes the data the other scenarios read -------------------
alternate complete.ext complete.floor -- -c "$CLIENTS" -j "$THREADS" -t "$(atleast1 $((COMPLETE_TX / ROUNDS)))"

# 7b. hot-slot cancellation with waitlist (issue 12), on a release with waitlists: full slots with
# athletes waiting, made for it (after every other scenario, so theirs ran on the data as loaded)
has_waitlists=$(psql_ -d $DB -Atc "SELECT to_regclass('gym_booking.waitlist_entries') IS NOT NULL")
kv has_waitlists "$has_waitlists"
kv wl_slots "$WL_SLOTS"
kv wl_capacity "$WL_CAPACITY"
kv wl_waiting "$WL_WAITING"
if wanted hot_waitlist && [ "$has_waitlists" = t ]; then
    say "hot-slot waitlist data: $WL_SLOTS full slots of $WL_CAPACITY places, $WL_WAITING athletes waiting in each"
    psql_ -d $DB -v wl_slots="$WL_SLOTS" -v wl_capacity="$WL_CAPACITY" -v wl_waiting="$WL_WAITING" \
        -f "$BENCH/sql/waitlist.sql" >/dev/null
    psql_ -d $DB -c "VACUUM ANALYZE gym_booking.waitlist_entries, bench_floor.waitlist_entries" -c "CHECKPOINT"
    psql_ -d $DB -f "$BENCH/sql/explain_waitlist.sql" 2>"$run_dir/explain_waitlist.txt" >/dev/null ||
        say "the waitlist EXPLAIN script failed; see $run_dir/explain_waitlist.txt"
    alternate hot_waitlist.ext hot_waitlist.floor -- "${T[@]}"
    for side in gym_booking bench_floor; do
        kv "wl_state_$side" "$(psql_ -d $DB -F' ' -Atc "SELECT * FROM bench.wl_state('$side')")"
    done
    profile hot_waitlist.ext
    waits hot_waitlist.ext -T $((PERF_SECS + 3))
    waits hot_waitlist.floor -T $((PERF_SECS + 3))
elif wanted hot_waitlist; then
    say "no waitlists in this release ($version): the hot waitlist scenario is skipped"
fi

# 7c. the attendance reports (0.2.2), on a release with attendance: one trainer's month (as the trainer)
# and the studio's month (as an app admin) of slot_report, trainer_report and athlete_report over the
# loaded history (load.sql checked its completed bookings in), one client at a time (a report is one
# person's request: its latency is the figure), each beside its floor (the same figures in plain SQL);
# EXPLAIN ANALYZE of each report first (bench/sql/explain_report.sql), from which the report tells whether
# every table is reached by index (bench/report_attendance.py)
has_attendance=$(psql_ -d $DB -Atc "SELECT to_regclass('gym_booking.attendance') IS NOT NULL")
kv has_attendance "$has_attendance"
if { wanted report_trainer || wanted report_studio; } && [ "$has_attendance" = t ]; then
    eval "$(psql_ -d $DB -F' ' -Atc "SELECT format('month_from=%s month_to=%s', (h - interval '31 days')::date,
                                                  (h - interval '2 days')::date) FROM bench.params")"
    kv report_month "$month_from..$month_to"
    kv report_trainer "$(uuid 8000 5)"
    psql_ -d $DB -F' ' -Atc "
        SELECT 'report_marks=' || (SELECT count(*) FROM gym_booking.attendance),
               'report_month_slots=' || (SELECT count(*) FROM gym_booking.slots
                                          WHERE start_at >= '$month_from'::date AND start_at < '$month_to'::date + 1),
               'report_month_bookings=' || (SELECT count(*) FROM gym_booking.bookings b JOIN gym_booking.slots s ON s.id = b.slot_id
                                             WHERE s.start_at >= '$month_from'::date AND s.start_at < '$month_to'::date + 1)" |
        tr ' ' '\n' >>"$meta"
    say "attendance reports: EXPLAIN ANALYZE, then one trainer's month and the studio's month ($month_from..$month_to)"
    psql_ -d $DB -v trainer="$(uuid 8000 5)" -v admin="$(uuid 8000 0)" -v month_from="$month_from" \
        -v month_to="$month_to" -f "$BENCH/sql/explain_report.sql" 2>"$run_dir/explain_report.txt" >/dev/null ||
        say "the report EXPLAIN script failed; see $run_dir/explain_report.txt"
    RT=(-c 1 -j 1 -T "$(atleast1 $((SECS / ROUNDS)))" -D month_from="$month_from" -D month_to="$month_to")
    alternate report_trainer.ext report_trainer.floor -- "${RT[@]}"
    alternate report_studio.ext report_studio.floor -- "${RT[@]}"
elif wanted report_trainer || wanted report_studio; then
    say "no attendance in this release ($version): the report-query scenarios are skipped"
fi

# 8. studio shapes and history growth (issue 10): databases of their own -----------------------
source "$BENCH/shapes.sh"

# checks
say "checking the outcome"
due_sql="SELECT count(*) FROM %s.bookings b JOIN %s.slots s ON s.id = b.slot_id WHERE b.status = 'reserved' AND s.end_at <= now()"
over_sql="SELECT count(*) FROM (SELECT b.slot_id FROM %s.bookings b JOIN %s.slots s ON s.id = b.slot_id
           WHERE b.status = 'reserved' GROUP BY b.slot_id, s.capacity HAVING count(*) > s.capacity) x"
for schema in gym_booking bench_floor; do
    # shellcheck disable=SC2059
    kv "due_left_$schema" "$(psql_ -d $DB -Atc "$(printf "$due_sql" $schema $schema)")"
    # shellcheck disable=SC2059
    kv "overbooked_$schema" "$(psql_ -d $DB -Atc "$(printf "$over_sql" $schema $schema)")"
done
kv completed_history "$(psql_ -d $DB -Atc "SELECT count(*) FROM gym_booking.booking_status_history WHERE current_status = 'completed' AND auto_processed AND changed_at > (SELECT h FROM bench.params)")"
kv aborted_runs "$aborted"
kv loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
kv runtime_secs "$(elapsed)"

# 9. the report ---------------------------------------------------------------------------------
say "writing the report to $out_dir"
"$PYTHON" "$BENCH/report.py" "$run_dir" "$out_dir" ${smoke:+--smoke} ${compare:+--compare "$compare"}
status=$?
say "done in $(elapsed)s: $out_dir/benchmarks.md"
exit $status
