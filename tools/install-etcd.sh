#!/bin/sh
# Debian packages that the multi-computer tests and benchmark need: etcd (the VNE registry
# shared between computers; the tests start their own, no service is enabled) and curl (to make
# requests from inside the test's network namespaces). Called by `make deps`.
set -e
missing=""
command -v etcd >/dev/null 2>&1 || missing="$missing etcd-server"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
[ -z "$missing" ] && exit 0
apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
