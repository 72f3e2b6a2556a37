# Shared by scripts/setup.sh, scripts/run.sh, scripts/test.sh and .ci/run.
# Source it; it defines paths and small helpers and changes nothing on its own.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
# The PostgreSQL server refuses to run as root: when we are root, it runs as this user.
PG_OS_USER=${PG_OS_USER:-postgres}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() {
    printf '\033[1;31merror:\033[0m %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a PostgreSQL server-side program (initdb, pg_ctl) as a user the server accepts.
as_pg() {
    if is_root; then
        sudo -u "$PG_OS_USER" -- "$@"
    else
        "$@"
    fi
}

# Where clusters live. The project's own ignored .local/ when the server's user can use
# it; otherwise (say, a checkout under /root) a private folder under /tmp.
state_dir() {
    local dir="$ROOT/.local"
    mkdir -p "$dir"
    if is_root; then
        chown "$PG_OS_USER" "$dir"
        if ! sudo -u "$PG_OS_USER" test -w "$dir" 2>/dev/null; then
            dir="/tmp/gym_booking-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
            mkdir -p "$dir"
            chown "$PG_OS_USER" "$dir"
            chmod 700 "$dir"
        fi
    fi
    printf '%s\n' "$dir"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# cluster_start DIR PORT [SERVER OPTIONS]: a throwaway cluster in DIR/data, listening on
# 127.0.0.1:PORT and on a socket in DIR/socket. Reuses the cluster when it is there already.
cluster_start() {
    local dir port=$2 extra=${3:-}
    dir=$(realpath -m "$1")
    local data="$dir/data" sock="$dir/socket" log="$dir/server.log"
    if [ -f "$data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        local running_port
        running_port=$(sed -n 4p "$data/postmaster.pid")
        [ "$running_port" = "$port" ] ||
            die "the cluster in $data already runs on port $running_port, not $port." \
                "Stop it first: $PG_BIN/pg_ctl -D $data stop (as $PG_OS_USER when you are root)."
        return 0
    fi
    if port_in_use "$port"; then
        die "port $port on 127.0.0.1 is already taken by another program." \
            "Pick a free one, e.g.: ${PORT_VAR:-GYM_BOOKING_PORT}=$((port + 10)) bash ${0#"$ROOT"/}"
    fi
    mkdir -p "$dir" "$sock"
    if is_root; then chown -R "$PG_OS_USER" "$dir"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            die "initdb failed; see $dir/initdb.log"
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
        -o "-p $port -k $sock -c listen_addresses=127.0.0.1 $extra" start >/dev/null ||
        die "the server did not start; see $log"
}

cluster_stop() {
    local data
    data="$(realpath -m "$1")/data"
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}
