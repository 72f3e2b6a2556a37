#!/usr/bin/env bash
# The package tier: the Debian package installed as a DBA installs it, tested, and removed.
#
#   tests/package/check.sh DEB PORT
#
# 1. replaces the development build in the system PostgreSQL with the package (`dpkg -i`);
# 2. starts a fresh cluster (port PORT, server preloading the library, as the README tells a
#    DBA to) and runs the SQL regression suite against it (installcheck) and the integration
#    test of the upgrade from every earlier release;
# 3. removes the package (`dpkg -r`) and checks that nothing of gym_booking is left behind.
# Servers that use the development build must be stopped first: installing replaces the library.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"

deb=$(realpath "$1") port=$2
name=$(dpkg-deb -f "$deb" Package)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
extdir="$("$PG_CONFIG" --sharedir)/extension"
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }
ours() { find "$pkglibdir" "$extdir" -maxdepth 1 -name 'gym_booking*' | sort; }

say "package: installing $(basename "$deb") in place of the development build"
# A DBA's server has only what the package brings: the development build goes first.
mapfile -t dev_files < <(ours)
[ ${#dev_files[@]} -eq 0 ] || as_root rm -f "${dev_files[@]}"
as_root dpkg -i "$deb" >/dev/null || die "dpkg -i $deb failed"
dpkg-query -W -f='${Status}\n' "$name" | grep -q 'install ok installed' ||
    die "$name is not installed after dpkg -i"
diff <(ours) <(dpkg -L "$name" | grep -E "^($pkglibdir|$extdir)/gym_booking" | sort) ||
    die "what is installed is not what the package lists"

cluster="$(state_dir)/package-cluster"
cluster_stop "$cluster"
rm -rf "$cluster"
trap 'cluster_stop "$cluster"' EXIT
cluster_start "$cluster" "$port" "-c fsync=off -c shared_preload_libraries=gym_booking"

say "package: SQL regression suite against the installed package"
pg_regress="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
regress_dir="$ROOT/tests/pg_regress"
out=$(mktemp -d)
mapfile -t regress_tests < <(cd "$regress_dir/sql" && ls ./*.sql | sed 's|^\./||; s|\.sql$||' | sort)
if ! "$pg_regress" --host="$cluster/socket" --port="$port" --user=postgres --bindir="$PG_BIN" \
    --inputdir="$regress_dir" --outputdir="$out" --dbname=gym_booking_package "${regress_tests[@]}"; then
    cat "$out/regression.diffs" 2>/dev/null
    die "the regression suite fails against the installed package (diffs above)"
fi

say "package: upgrades from every earlier release"
GYM_BOOKING_TEST_HOST="$cluster/socket" GYM_BOOKING_TEST_PORT="$port" GYM_BOOKING_PG_BIN="$PG_BIN" \
    cargo test -q -p gym_booking_integration --test upgrade ||
    die "the upgrade test fails against the installed package"

cluster_stop "$cluster"
say "package: removing it"
as_root dpkg -r "$name" >/dev/null || die "dpkg -r $name failed"
left=$(ours)
[ -z "$left" ] || die "dpkg -r left files of gym_booking behind:" "$left"
! dpkg-query -W -f='${Status}\n' "$name" 2>/dev/null | grep -q 'install ok installed' ||
    die "$name is still installed after dpkg -r"
rm -rf "$out"
echo "  package installed, tested and removed without a trace"
