#!/usr/bin/env bash
# Builds the Debian package a DBA installs without Rust:
#
#   bash scripts/package.sh [OUT_DIR]      # default OUT_DIR: target/debian
#
# writes OUT_DIR/postgresql-15-gym-booking_<version>_<arch>.deb with, in the paths Debian's
# PostgreSQL uses (pg_config --pkglibdir, --sharedir):
#   - the release library gym_booking.so;
#   - the control file and the install script of this version;
#   - every frozen release's install script (sql/releases/) and every upgrade script, so a
#     database on any earlier release upgrades with ALTER EXTENSION gym_booking UPDATE;
#   - the licence and a README under /usr/share/doc.
# It depends on the server of the same major and on its contrib modules (citext).
# Prints the package's path as its last line.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

out_dir=$(realpath -m "${1:-$ROOT/target/debian}")
"$ROOT/scripts/setup.sh"

field() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" "$ROOT/Cargo.toml" | head -n 1; }
version=$(field version)
homepage=$(field homepage)
description=$(field description)
maintainer=$(sed -n 's/^maintainer = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
[ -n "$version" ] && [ -n "$homepage" ] && [ -n "$maintainer" ] ||
    die "Cargo.toml needs version, homepage and [package.metadata.deb] maintainer"
arch=$(dpkg --print-architecture)
name="postgresql-$PG_MAJOR-gym-booking"
pkglibdir=$("$PG_CONFIG" --pkglibdir)
extdir="$("$PG_CONFIG" --sharedir)/extension"

say "building the release library (cargo pgrx package)"
build_log="$out_dir/build.log"
mkdir -p "$out_dir"
cargo pgrx package --pg-config "$PG_CONFIG" >"$build_log" 2>&1 ||
    die "cargo pgrx package failed; see $build_log"
built="${CARGO_TARGET_DIR:-$ROOT/target}/release/gym_booking-pg$PG_MAJOR"
[ -f "$built$pkglibdir/gym_booking.so" ] || die "no library in $built$pkglibdir"

stage="$out_dir/$name"
rm -rf "$stage"
install -d "$stage/DEBIAN" "$stage$pkglibdir" "$stage$extdir" "$stage/usr/share/doc/$name"
install -m 644 "$built$pkglibdir/gym_booking.so" "$stage$pkglibdir/"
strip --strip-unneeded "$stage$pkglibdir/gym_booking.so"
install -m 644 "$built$extdir"/gym_booking* "$stage$extdir/"
# Earlier releases, frozen: a database still on one of them keeps working and upgrades.
install -m 644 "$ROOT"/sql/releases/gym_booking--*.sql "$ROOT"/sql/gym_booking--*--*.sql "$stage$extdir/"
[ -f "$stage$extdir/gym_booking--$version.sql" ] || die "no install script for $version"

cat >"$stage/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: gym_booking
Source: $homepage

Files: *
Copyright: the gym_booking developers
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this
 software and associated documentation files (the "Software"), to deal in the Software
 without restriction, including without limitation the rights to use, copy, modify, merge,
 publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
 to whom the Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
 INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
 PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
 FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
 DEALINGS IN THE SOFTWARE.
EOF
gzip -9n -c "$ROOT/README.md" >"$stage/usr/share/doc/$name/README.md.gz"

installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# postgresql-contrib-$PG_MAJOR (citext) is provided by Debian's postgresql-$PG_MAJOR itself;
# the versioned name keeps apt from pulling in another major's contrib package.
cat >"$stage/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: postgresql-$PG_MAJOR, postgresql-contrib-$PG_MAJOR
Section: database
Priority: optional
Homepage: $homepage
Description: $description
 gym_booking gives a PostgreSQL $PG_MAJOR database a booking backend for personal trainers
 and small studios: tables, the booking rules as triggers, row-level security and an API
 that apps call from SQL or through PostgREST (Supabase included).
 .
 After installing: CREATE EXTENSION gym_booking CASCADE; in each database that wants it.
 For the background completion worker, add gym_booking to shared_preload_libraries.
EOF

deb="$out_dir/${name}_${version}_${arch}.deb"
rm -f "$deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null ||
    die "dpkg-deb could not build $deb"
say "built $deb"
echo "$deb"
