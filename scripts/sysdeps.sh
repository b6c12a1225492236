#!/bin/sh
# sysdeps.sh: make's first step before compiling (make build, demo, test,
# bench). The build needs a C compiler and OpenBLAS's cblas.h and
# libopenblas (Debian: gcc, libopenblas-dev); the README queries demo.db
# with the sqlite3 shell (Debian: sqlite3). Run as root where apt-get is, it
# installs whichever of them is missing. Otherwise, when the build's are
# missing, it stops before anything is compiled with the one command to
# run; a missing sqlite3 alone is a note.
#
# Environment: CC (default gcc), as cgo uses it. For the tests in
# sysdeps-test.sh: SYSDEPS_APT_GET (default apt-get) is what installs,
# SYSDEPS_UID (default id -u) who runs, SYSDEPS_SQLITE3 the shell looked for.
set -eu
CC=${CC:-gcc}
APT_GET=${SYSDEPS_APT_GET:-apt-get}
uid=${SYSDEPS_UID:-$(id -u)}
SQLITE3=${SYSDEPS_SQLITE3:-sqlite3}

# have_blas: a program calling cblas_sgemm compiles and links with -lopenblas.
have_blas() {
	tmp=$(mktemp -d)
	printf '#include <cblas.h>\nint main(void) { float a = 1; cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1, &a, 1, &a, 1, 0, &a, 1); return 0; }\n' >"$tmp/t.c"
	ok=0
	"$CC" "$tmp/t.c" -o "$tmp/t" -lopenblas >/dev/null 2>&1 || ok=1
	rm -rf "$tmp"
	return $ok
}

missing=""
command -v "$CC" >/dev/null 2>&1 || missing="gcc"
have_blas || missing="$missing libopenblas-dev"
missing=${missing# }
extra=""
command -v "$SQLITE3" >/dev/null 2>&1 || extra="sqlite3"

pkgs=$(echo $missing $extra)
if [ -z "$pkgs" ]; then
	exit 0
fi
if [ "$uid" = 0 ] && command -v "$APT_GET" >/dev/null 2>&1; then
	echo "make: installing the system packages cliplab needs: $pkgs"
	"$APT_GET" update -qq
	DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq --no-install-recommends $pkgs
	if ! command -v "$CC" >/dev/null 2>&1 || ! have_blas; then
		echo "make: $pkgs installed, but $CC still cannot build with cblas.h and -lopenblas" >&2
		exit 1
	fi
	exit 0
fi
if [ -z "$missing" ]; then
	echo "make: note: the sqlite3 shell (to query the database as the README does) is not installed: apt-get install sqlite3" >&2
	exit 0
fi

if command -v "$APT_GET" >/dev/null 2>&1; then
	cmd="sudo apt-get install -y $pkgs"
	[ "$uid" = 0 ] && cmd="apt-get install -y $pkgs"
	printf 'make: missing system packages: %s (the build needs %s). Run:\n\n    %s\n\nthen the same make command again.\n' "$missing" "a C compiler and OpenBLAS's cblas.h and libopenblas" "$cmd" >&2
else
	printf 'make: the build needs a C compiler (%s) and OpenBLAS'"'"'s cblas.h and libopenblas, which it cannot find; install them with your system'"'"'s packages (Debian: apt-get install -y %s), then the same make command again.\n' "$CC" "$pkgs" >&2
fi
exit 2
