#!/usr/bin/env bash
# Paired A/B of two builds of the library, for work on a hot path (issue 12): a difference of
# 2-5% is below what two whole benchmark runs minutes apart can tell (the machine's own drift),
# but measurable when both builds run side by side in one cluster, on the same data, in runs
# that alternate.
#
#   bash bench/run.sh --keep [--only "spread cancel_rebook"]     # once: a cluster with the data
#   bash bench/ab.sh BASE_PKG CANDIDATE_PKG [ROUNDS]             # then as often as needed
#
# BASE_PKG, CANDIDATE_PKG: `cargo pgrx package` trees (…/usr/lib/postgresql/15/lib/gym_booking.so),
# of the same schema version (a library-only change: both run on the kept cluster's schema).
# How: each build's library is copied into the kept cluster's private tree under its own name,
# and two copies of the benchmark database point their functions at one each (pg_proc.probin),
# so the cluster's own library and database stay as they were. Each round runs every scenario's
# extension script on both builds, the order flipping from round to round, after deleting the
# bookings the last round made; and the copies swap builds from round to round (below). Reported: each side's throughput per round, and per scenario
# the median over rounds of candidate ÷ base (a ratio of runs seconds apart, so the machine's
# drift cancels).
#
# Disk: the two copies take as much again as the benchmark database each (about 5 GB at the
# full size); they stay for a look afterwards, and go with the cluster (rm -rf its directory
# once stopped) or with DROP DATABASE gym_ab_1, gym_ab_2.
# Environment: AB_SCENARIOS (default "spread cancel_rebook hot"), AB_SECS (seconds per run, 12),
# AB_CLIENTS (16), AB_CANDIDATE_SQL (a file psql runs in the candidate's database once it is
# copied: a schema-level change tried before it is written as an upgrade, e.g. an index dropped
# or an API function's body; then both PKGs may be the same build, and the copies do not swap:
# run an A/A with the SQL on neither side to see how far apart the two copies are), AB_BASE_SQL (the same for
# the base: what keeps the two fair, e.g. a REINDEX of what the candidate builds afresh), BENCH_NAME /
# BENCH_STATE_DIR / BENCH_PORT (the kept cluster, as bench/run.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

[ $# -ge 2 ] || die "usage: $0 BASE_PKG CANDIDATE_PKG [ROUNDS]"
base_pkg=$1 candidate_pkg=$2 rounds=${3:-6}
scenarios=${AB_SCENARIOS:-spread cancel_rebook hot}
secs=${AB_SECS:-12} clients=${AB_CLIENTS:-16}
dir="${BENCH_STATE_DIR:-$(state_dir)}/${BENCH_NAME:-bench}"
port=${BENCH_PORT:-28870}
libdir="$dir/pg/lib/postgresql/15/lib"
[ -d "$libdir" ] && [ -S "$dir/socket/.s.PGSQL.$port" ] ||
    die "no kept benchmark cluster in $dir (port $port)" "Run bash bench/run.sh --keep first."
export PGHOST=$dir/socket PGPORT=$port PGUSER=postgres
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# The two builds' libraries, as gym_booking_ab_base and gym_booking_ab_candidate.
for side in base candidate; do
    pkg_var=${side}_pkg
    so="${!pkg_var}/usr/lib/postgresql/15/lib/gym_booking.so"
    [ -f "$so" ] || die "no library in ${!pkg_var} ($so)"
    install -m 755 "$so" "$libdir/gym_booking_ab_$side.so"
done
# point DB SIDE: the functions of database DB load the library of SIDE (from the next connection)
point() {
    psql_ -d "$1" -c "UPDATE pg_catalog.pg_proc SET probin = 'gym_booking_ab_$2'
                       WHERE probin IN ('gym_booking', '\$libdir/gym_booking',
                                        'gym_booking_ab_base', 'gym_booking_ab_candidate')"
}
# Two copies of the database. Two copies made one after the other are not equally fast (an A/A
# run, one build on both, measured the second about 2% slower): so, unless a side has SQL of its
# own (its copy is then its own), the copies swap builds every round and the difference between
# them cancels out in the median.
for n in 1 2; do
    psql_ -d postgres -c "DROP DATABASE IF EXISTS gym_ab_$n" -c "CREATE DATABASE gym_ab_$n TEMPLATE gym_bench"
done
swap=1
for side in base candidate; do
    sql_var=AB_${side^^}_SQL
    [ -z "${!sql_var:-}" ] || swap=
done
# db_of SIDE ROUND: the copy that runs SIDE's build in ROUND
db_of() {
    local n=1
    [ "$1" = candidate ] && n=2
    [ -n "$swap" ] && [ $(($2 % 2)) = 0 ] && n=$((3 - n))
    echo "gym_ab_$n"
}
for side in base candidate; do
    sql_var=AB_${side^^}_SQL
    [ -z "${!sql_var:-}" ] || psql_ -d "$(db_of "$side" 1)" -f "${!sql_var}"
done

# The data's shape, as bench/run.sh has it (its defaults: 100 trainers x 1000 slots).
KT=$(psql_ -d gym_bench -Atc "SELECT count(*) FROM gym_booking.slots")
TRAINERS=$(psql_ -d gym_bench -Atc "SELECT count(DISTINCT trainer_id) FROM gym_booking.slots")
ATHLETES=$(psql_ -d gym_bench -Atc "SELECT count(*) FROM gym_booking.users WHERE role = 'athlete'")
BOOKINGS=$(psql_ -d gym_bench -Atc "SELECT count(*) FROM gym_booking.bookings")
FUT=$((KT * 3 / 10))
vars=(
    -D clients=$clients -D trainers=$TRAINERS -D athletes=$ATHLETES -D spread_athletes=1000
    -D spread0=$((KT * 8 / 10)) -D spreadn=$((KT / 10)) -D hot0=$((KT * 9 / 10)) -D hotn=$((KT / 10))
    -D fut0=$((KT / 2)) -D fut=$FUT -D base=$((KT * 8 / 10)) -D days=$((FUT / TRAINERS / 3)) -D batch=1
    -D positions=$((BOOKINGS / (KT * 8 / 10) < 5 ? BOOKINGS / (KT * 8 / 10) : 5))
)

# The bookings a round made go (the load's have ids of its own pattern), so that every round
# books into slots as empty as the first's.
clean() {
    psql_ -d "$1" -c "SET session_replication_role = replica" \
        -c "DELETE FROM gym_booking.bookings WHERE id::text NOT LIKE '00000000-0000-4000-a000-%'" \
        -c "VACUUM gym_booking.bookings"
}
tps() {
    local out
    out=$("$PG_BIN/pgbench" -n -M prepared "${vars[@]}" -c "$clients" -j 2 -T "$secs" \
        -f "$ROOT/bench/pgbench/$2.ext.sql" "$1" 2>&1) || true
    grep -qE 'aborted|error' <<<"$out" && die "pgbench failed on $1 ($2)" "$(head -5 <<<"$out")"
    sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out"
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for r in $(seq 1 "$rounds"); do
    order="base candidate"
    [ $((r % 2)) = 1 ] || order="candidate base"
    for side in $order; do
        point "$(db_of "$side" "$r")" "$side"
        clean "$(db_of "$side" "$r")"
    done
    for s in $scenarios; do
        for side in $order; do
            t=$(tps "$(db_of "$side" "$r")" "$s")
            printf '%s\t%s\t%s\t%s\n' "$s" "$r" "$side" "$t" | tee -a "$results"
        done
    done
done

echo
echo "candidate / base, per scenario (median of the rounds' ratios; each round's in brackets)"
python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    s, r, side, t = line.split()
    runs[(s, r)][side] = float(t)
by = collections.defaultdict(list)
for (s, r), v in runs.items():
    by[s].append(v["candidate"] / v["base"])
for s, ratios in by.items():
    print(f"{s:15s} {statistics.median(ratios):.3f}  [{' '.join(f'{x:.3f}' for x in ratios)}]")
PY
