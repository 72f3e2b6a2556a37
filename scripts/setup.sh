#!/usr/bin/env bash
# Installs what building and testing gym_booking needs, and only what is missing:
#   - Debian packages: the PostgreSQL 15 server headers (at the installed server's version,
#     so apt does not upgrade the server), clang/libclang for pgrx's bindgen, sudo, and
#     sqlsmith (the fuzz tier of the test command);
#   - cargo-pgrx at exactly the pgrx version pinned in Cargo.toml (--locked);
#   - `cargo pgrx init` pointed at the system PostgreSQL 15 (never a download).
# Safe to run again: each step checks first.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ -x "$PG_BIN/postgres" ] ||
    die "PostgreSQL $PG_MAJOR is not installed (no $PG_BIN/postgres)." \
        "Install it first: apt-get install postgresql-$PG_MAJOR"

apt_install() {
    if is_root; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
    elif command -v sudo >/dev/null; then
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
    else
        return 1
    fi
}

apt_updated=
apt_update_once() {
    [ -n "$apt_updated" ] && return 0
    apt_updated=1
    if is_root; then apt-get update -q >/dev/null; else sudo apt-get update -q >/dev/null; fi
}

missing=()
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
# sqlsmith: the test command's fuzz tier.
for pkg in clang libclang-dev pkg-config sqlsmith; do is_installed "$pkg" || missing+=("$pkg"); done
if is_root; then is_installed sudo || missing+=(sudo); fi
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    { apt_update_once && apt_install "${missing[@]}"; } ||
        die "could not install ${missing[*]}." "Install them yourself: sudo apt-get install ${missing[*]}"
fi

dev_pkg=postgresql-server-dev-$PG_MAJOR
if ! is_installed "$dev_pkg"; then
    server_version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null || true)
    say "installing $dev_pkg${server_version:+ $server_version} (server headers, for pgrx)"
    apt_update_once || true
    if ! { [ -n "$server_version" ] && apt_install "$dev_pkg=$server_version"; }; then
        # That exact version is gone from the archive: headers of another minor release of
        # the same major are ABI-compatible, and installing them leaves the server alone.
        say "$dev_pkg $server_version is not available; installing the archive's $dev_pkg"
        apt_install "$dev_pkg" ||
            die "PostgreSQL $PG_MAJOR development headers are missing and could not be installed." \
                "pgrx compiles against them. Install them: sudo apt-get install $dev_pkg"
    fi
fi
server_h="$("$PG_CONFIG" --includedir-server)/postgres.h"
[ -f "$server_h" ] ||
    die "PostgreSQL $PG_MAJOR development headers are missing ($server_h not found)." \
        "pgrx compiles against them. Install them: sudo apt-get install $dev_pkg"
[ -f "$("$PG_CONFIG" --sharedir)/extension/citext.control" ] ||
    die "the citext extension is not installed; gym_booking requires it." \
        "Install PostgreSQL's contrib modules: sudo apt-get install postgresql-contrib"

pgrx_version=$(sed -n 's/^pgrx = "=\([0-9.]*\)"/\1/p' "$ROOT/Cargo.toml")
[ -n "$pgrx_version" ] || die "could not read the pinned pgrx version from Cargo.toml"
if [ "$(cargo pgrx --version 2>/dev/null | awk '{print $2}')" != "$pgrx_version" ]; then
    say "installing cargo-pgrx $pgrx_version (takes a few minutes, once)"
    cargo install cargo-pgrx --version "$pgrx_version" --locked --force >/dev/null
fi

pgrx_config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
if ! grep -qs "^pg$PG_MAJOR = \"$PG_CONFIG\"" "$pgrx_config"; then
    say "pointing pgrx at the system PostgreSQL $PG_MAJOR"
    cargo pgrx init "--pg$PG_MAJOR" "$PG_CONFIG" >/dev/null
fi
