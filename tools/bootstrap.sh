#!/bin/sh
# Set-up for a fresh Debian 12 machine, as root: installs what building Amber needs when it is
# missing (make, gcc, npm; a machine with Node.js from elsewhere keeps its own npm), then runs
# make with the given targets (`sh tools/bootstrap.sh demo`). Everything else, Deno included,
# the Makefile fetches. Without apt-get (a Linux other than Debian or Ubuntu) it installs
# nothing: it lists what is missing and stops.
set -e
cd "$(dirname "$0")/.."
missing=""
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ] && ! command -v apt-get >/dev/null 2>&1; then
  # The tests' packages are the ones the Makefile's deps target and install-etcd.sh check for.
  tests=$(sed -n 's/.*missing="\$\$*missing \([^"]*\)".*/\1/p' Makefile tools/install-etcd.sh |
    tr '\n' ' ')
  cat >&2 <<END
tools/bootstrap.sh: apt-get was not found, so this is not Debian or Ubuntu and nothing was
installed. Install these with your package manager (Debian names; yours may differ), then run
this script again:
  to build Amber:    $missing
  to run the tests:  $tests
(the tests need the static C library too: libc.a, in glibc-static on Fedora)
END
  exit 1
fi
if [ -n "$missing" ]; then
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
exec make "$@"
