#!/bin/sh
# Integration tests (pytest) for homemail: real peers on loopback, the
# scripted peer, and the built programs under $HM_BUILDDIR.
#
# Run by `make check` (AM_TESTS_ENVIRONMENT sets HM_SRCDIR, HM_BUILDDIR,
# PYTHON3), or by hand from a build dir:  ../tests/integration/run.sh [-k EXPR]
# Extra arguments go to pytest.
#
# Writes nothing into $HM_SRCDIR (distcheck makes it read-only): no
# bytecode, no pytest cache; the JUnit report goes to the build dir.
here=$(cd "$(dirname "$0")" && pwd)
: "${HM_SRCDIR:=$(cd "$here/../.." && pwd)}"
if [ -z "$HM_BUILDDIR" ]; then
	if [ -x "$PWD/tests/tools/hm-tlsprobe" ]; then
		HM_BUILDDIR=$PWD
	else
		HM_BUILDDIR=$HM_SRCDIR/build
	fi
fi
PYTHONDONTWRITEBYTECODE=1
export HM_SRCDIR HM_BUILDDIR PYTHONDONTWRITEBYTECODE

mkdir -p "$HM_BUILDDIR/tests/integration" || exit 99
"${PYTHON3:-/usr/bin/python3}" -m pytest -p no:cacheprovider -q -rfE \
	--junitxml="$HM_BUILDDIR/tests/integration/junit.xml" \
	"$HM_SRCDIR/tests/integration" "$@"
rc=$?
# 5 = no tests collected: an empty suite must not pass.
[ "$rc" -eq 5 ] && { echo "run.sh: pytest collected no tests" >&2; exit 1; }
exit "$rc"
