#!/bin/sh
# Set-up for a fresh Debian 12 machine, as root: installs what building Amber needs when it is
# missing (make, gcc, npm; a machine with Node.js from elsewhere keeps its own npm), then runs
# make with the given targets (`sh tools/bootstrap.sh demo`). Everything else, Deno included,
# the Makefile fetches.
set -e
missing=""
command -v make >/dev/null 2>&1 || missing="$missing make"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc libc6-dev"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
cd "$(dirname "$0")/.."
exec make "$@"
