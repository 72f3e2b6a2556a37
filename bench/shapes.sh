# Studio shapes and history growth (issue 10), sourced by bench/run.sh once its cluster runs.
#
# For each shape (1, 3 and 100 trainers; BENCH_SHAPES) and each size (a small history, and ten
# times it): a database of its own with the extension, loaded by bench/sql/load.sql; the floor
# (bench/sql/floor.sql) and the PL/pgSQL baseline (bench/sql/plpgsql.sql) copied from it; EXPLAIN
# ANALYZE of the hot requests (bench/sql/shapes_explain.sql); then every hot request one client
# at a time (its median is the request's own cost) and booking with $CLIENTS clients, each on
# the extension, the baseline and the floor. Raw output: $run_dir/shapes/<T>t_<size>/.
# On a release with waitlists (0.2.0), the baseline has 0.2.0's rules too (bench/sql/plpgsql_week.sql),
# and the hot-slot cancellation with waitlist (bench/sql/waitlist.sql) runs one client at a time and
# with $CLIENTS clients on every side.
# Environment: BENCH_SHAPES ("1 3 100"), BENCH_SHAPE_SECS (seconds per run; 3, smoke 1).

shapes_dir=$run_dir/shapes
mkdir -p "$shapes_dir"
if [ -n "$smoke" ]; then
    SH_SLOTS=2000 SH_BOOKINGS=6000 SH_ATHLETES=320 SH_SECS=${BENCH_SHAPE_SECS:-1}
else
    SH_SLOTS=10000 SH_BOOKINGS=50000 SH_ATHLETES=2000 SH_SECS=${BENCH_SHAPE_SECS:-3}
fi
SHAPES=${BENCH_SHAPES:-1 3 100}
SH_SCENARIOS="spread cancel_rebook my_bookings table_read trainer_week"
[ "${has_waitlists:-f}" = t ] && SH_SCENARIOS+=" hot_waitlist"
kv shape_small_slots "$SH_SLOTS"
kv shape_small_bookings "$SH_BOOKINGS"
kv shape_athletes "$SH_ATHLETES"
kv shape_secs "$SH_SECS"
kv shapes "$SHAPES"

# shape_run DIR OUT SCRIPT [pgbench options]: bench/pgbench/SCRIPT.sql, output in DIR/OUT/r1
shape_run() {
    local d=$1/$2 script=$BENCH/pgbench/$3.sql
    shift 3
    mkdir -p "$d/r1"
    local wl_side=
    case $script in
        */hot_waitlist.ext.sql) wl_side=gym_booking ;;
        */hot_waitlist.floor.sql) wl_side=bench_floor ;;
        */hot_waitlist.plpgsql.sql) wl_side=bench_plpgsql ;;
    esac
    [ -z "$wl_side" ] || psql_ -d "$sh_db" -F' ' -Atc "SELECT * FROM bench.wl_state('$wl_side')" >"$d/r1/wl_before"
    "$PGBENCH" -n -M prepared -r -l --log-prefix="$d/r1/tx" "${sh_vars[@]}" -f "$script" "$@" "$sh_db" \
        >"$d/r1/pgbench.out" 2>&1 || true
    [ -z "$wl_side" ] || psql_ -d "$sh_db" -F' ' -Atc "SELECT * FROM bench.wl_state('$wl_side')" >"$d/r1/wl_after"
    if grep -qE 'aborted|error' "$d/r1/pgbench.out"; then
        aborted=$((aborted + 1))
        sed -n '1,5p' "$d/r1/pgbench.out" >&2
    fi
}

for T in $SHAPES; do
    for size in small large; do
        mult=1
        [ "$size" = large ] && mult=10
        per_trainer=$((SH_SLOTS * mult / T))
        bookings=$((SH_BOOKINGS * mult))
        # more history is more sessions and more people, each with about as many bookings: so an
        # athlete's own list (my_bookings, GET /bookings) is as long at both sizes
        athletes=$((SH_ATHLETES * mult))
        kt=$((T * per_trainer))
        d=$shapes_dir/${T}t_$size
        sh_db=gym_shape_${T}t_$size
        mkdir -p "$d"
        say "shape: $T trainer(s), $kt slots, $bookings bookings ($(elapsed)s in)"
        psql_ -d postgres -c "DROP DATABASE IF EXISTS $sh_db" -c "CREATE DATABASE $sh_db"
        psql_ -d "$sh_db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION gym_booking CASCADE"
        t0=$(date +%s.%N)
        psql_ -d "$sh_db" -v trainers="$T" -v per_trainer="$per_trainer" -v athletes="$athletes" \
            -v bookings="$bookings" -c "SET client_min_messages = warning" -f "$BENCH/sql/load.sql"
        psql_ -d "$sh_db" -f "$BENCH/sql/floor.sql" >/dev/null
        psql_ -d "$sh_db" -f "$BENCH/sql/plpgsql.sql" >/dev/null
        if [ "${has_waitlists:-f}" = t ]; then
            psql_ -d "$sh_db" -f "$BENCH/sql/plpgsql_week.sql" >/dev/null
            psql_ -d "$sh_db" -v wl_slots="$WL_SLOTS" -v wl_capacity="$WL_CAPACITY" -v wl_waiting="$WL_WAITING" \
                -f "$BENCH/sql/waitlist.sql" >/dev/null
        fi
        psql_ -d "$sh_db" -c "VACUUM ANALYZE" -c "CHECKPOINT"
        t1=$(date +%s.%N)
        {
            printf 'trainers=%s\nsize=%s\nathletes=%s\nload_secs=%s\n' "$T" "$size" "$athletes" "$(echo "$t1 - $t0" | bc)"
            psql_ -d "$sh_db" -Atc "SELECT 'slots=' || (SELECT count(*) FROM gym_booking.slots),
                  'slots_of_trainer_1=' || (SELECT count(*) FROM gym_booking.slots WHERE trainer_id = bench.user_uuid(1)),
                  'bookings=' || (SELECT count(*) FROM gym_booking.bookings),
                  'activity_logs=' || (SELECT count(*) FROM gym_booking.activity_logs),
                  'history=' || (SELECT count(*) FROM gym_booking.booking_status_history),
                  'db_size=' || pg_size_pretty(pg_database_size(current_database()))" | tr '|' '\n'
        } >"$d/meta.env"
        # booking draws from the empty slots to come (the spread and hot ranges of load.sql): room
        # for every booking the floor makes in its runs
        sh_vars=(
            -D clients="$CLIENTS" -D trainers="$T" -D athletes="$athletes"
            -D spread_athletes=$((athletes / CLIENTS * CLIENTS / 2))
            -D spread0=$((kt * 8 / 10)) -D spreadn=$((kt / 5)) -D fut0=$((kt / 2)) -D fut=$((kt * 3 / 10))
            -D base=$((kt * 8 / 10))
            -D positions=$(( bookings / (kt * 8 / 10) < 5 ? bookings / (kt * 8 / 10) : 5 ))
        )
        # EXPLAIN ANALYZE of the hot requests: athlete 7's future booking j = 7, trainer 1, a spread slot
        j=7
        psql_ -d "$sh_db" -v athlete="$(uuid 8001 $((1 + (131 * j) % athletes)))" -v trainer="$(uuid 8000 1)" \
            -v slot="$(uuid 9000 $((kt * 8 / 10 + 5)))" -v booking="$(uuid a000 $j)" \
            -f "$BENCH/sql/shapes_explain.sql" 2>"$d/explain.txt" >/dev/null ||
            say "the shapes EXPLAIN script failed; see $d/explain.txt"
        # one client at a time: each request's own cost. Booking is counted, not timed: every
        # side books into the same empty slots (20 places each), and a timed run of the floor,
        # the fastest, would fill some on a fast machine; one booking per empty slot on average.
        for s in $SH_SCENARIOS; do
            for side in ext plpgsql floor; do
                wanted "$s" || continue
                if [ "$s" = spread ]; then
                    shape_run "$d" "$s.$side" "$s.$side" -c 1 -j 1 -t $((SH_SLOTS / 5))
                else
                    shape_run "$d" "$s.$side" "$s.$side" -c 1 -j 1 -T "$SH_SECS"
                fi
            done
        done
        # booking with $CLIENTS clients: as many bookings on every side and at both sizes, 4 per empty
        # slot of the small history on average, so with the one-client run's about 5: a slot that
        # fills (20) is then a chance of about 1 in 2,000 per run, where 8 per slot made it 1 in 4
        spread_tx=$((SH_SLOTS / 5 * 4 / CLIENTS))
        for side in ext plpgsql floor; do
            wanted spread || continue
            shape_run "$d" "spread16.$side" "spread.$side" -c "$CLIENTS" -j "$THREADS" -t "$spread_tx"
        done
        # the hot waitlist with $CLIENTS clients: timed (the slots stay full, the line as long)
        for side in ext plpgsql floor; do
            [ "${has_waitlists:-f}" = t ] && wanted hot_waitlist || continue
            shape_run "$d" "hot_waitlist16.$side" "hot_waitlist.$side" -c "$CLIENTS" -j "$THREADS" -T "$SH_SECS"
        done
        if [ -z "$keep" ]; then
            psql_ -d postgres -c "DROP DATABASE $sh_db"
        fi
    done
done
