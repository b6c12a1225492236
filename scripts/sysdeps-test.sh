#!/bin/sh
# sysdeps-test.sh: the paths of sysdeps.sh (make's check of the system
# packages) with a fake compiler and a fake apt-get: present, missing as a
# user (the one command, nothing installed), missing as root (installed),
# and no apt-get. Installs nothing. Exit 0 when every case holds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# A compiler that works once $tmp/installed exists (the fake apt-get makes it).
cat >"$tmp/cc" <<EOS
#!/bin/sh
[ -e "$tmp/installed" ] || exit 1
for a; do case \$a in -o) out=1 ;; *) [ "\${out:-}" = 1 ] && : >"\$a" && out= ;; esac; done
exit 0
EOS
cat >"$tmp/apt-get" <<EOS
#!/bin/sh
echo "\$*" >>"$tmp/apt.log"
case "\$1" in install) : >"$tmp/installed" ;; esac
exit 0
EOS
mkdir "$tmp/bin"
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/sqlite3" # present unless a case names another shell
chmod +x "$tmp/cc" "$tmp/apt-get" "$tmp/bin/sqlite3"

# check NAME WANT_CODE WANT_STDERR_SUBSTRING WANT_APT_LOG [env...]
check() {
	name=$1 want=$2 msg=$3 apt=$4
	shift 4
	rm -f "$tmp/apt.log" "$tmp/installed"
	[ "${PRESENT:-}" = 1 ] && : >"$tmp/installed"
	env CC="$tmp/cc" SYSDEPS_APT_GET="$tmp/apt-get" SYSDEPS_SQLITE3="$tmp/bin/sqlite3" "$@" sh "$here/sysdeps.sh" >"$tmp/out" 2>"$tmp/err"
	code=$?
	log=$(cat "$tmp/apt.log" 2>/dev/null | tr '\n' ';')
	bad=0
	[ "$code" = "$want" ] || bad=1
	[ "$log" = "$apt" ] || bad=1
	if [ -n "$msg" ] && ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$msg"; then bad=1; fi
	if [ $bad = 1 ]; then
		echo "FAIL $name: exit $code (want $want), apt-get calls '$log' (want '$apt')"
		sed 's/^/  /' "$tmp/out" "$tmp/err"
		fail=1
	else
		echo "ok   $name"
	fi
}

PRESENT=1 check "present" 0 "" "" SYSDEPS_UID=1000
PRESENT= check "missing, a user" 2 "    sudo apt-get install -y libopenblas-dev" "" SYSDEPS_UID=1000
PRESENT= check "missing, root" 0 "installing the system packages cliplab needs: libopenblas-dev" \
	"update -qq;install -y -qq --no-install-recommends libopenblas-dev;" SYSDEPS_UID=0
PRESENT= check "missing, no apt-get" 2 "install them with your system's packages" "" SYSDEPS_UID=1000 SYSDEPS_APT_GET="$tmp/none"
PRESENT= check "missing compiler" 2 "sudo apt-get install -y gcc libopenblas-dev" "" SYSDEPS_UID=1000 CC="$tmp/no-cc"
PRESENT= check "missing with sqlite3, a user" 2 "    sudo apt-get install -y libopenblas-dev sqlite3" "" SYSDEPS_UID=1000 SYSDEPS_SQLITE3=no-sqlite3
PRESENT=1 check "sqlite3 missing, a user" 0 "note: the sqlite3 shell" "" SYSDEPS_UID=1000 SYSDEPS_SQLITE3=no-sqlite3
PRESENT=1 check "sqlite3 missing, root" 0 "installing the system packages cliplab needs: sqlite3" \
	"update -qq;install -y -qq --no-install-recommends sqlite3;" SYSDEPS_UID=0 SYSDEPS_SQLITE3=no-sqlite3
exit $fail
