#!/bin/sh
# Debian packages that the multi-computer tests and benchmark need: etcd (the VNE registry
# shared between computers; the tests start their own, no service is enabled), curl (to make
# requests from inside the test's network namespaces) and etcdctl (the etcd-under-Amber test's
# client). Called by `make deps`.
set -e
missing=""
command -v etcd >/dev/null 2>&1 || missing="$missing etcd-server"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v etcdctl >/dev/null 2>&1 || missing="$missing etcd-client"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing for the multi-computer tests (Debian package names):$missing" >&2
  echo "apt-get was not found: install them with your package manager" >&2
  exit 1
fi
apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
