#!/bin/sh
# Installs the `amber` command: a small launcher script that runs Amber's cli.ts with the pinned
# Deno (the version in tools/deno/package.json, which Amber is built and tested with), by its
# absolute path, never whichever `deno` is first on PATH (what `deno install` writes does that).
#
#   sh tools/install.sh [--root DIR]                                   # from a built checkout
#   curl -fsSL BASE/tools/install.sh | sh -s -- --url BASE [--root DIR] [--deno PATH] [--build-dir DIR]
#
# --root DIR       the launcher goes to DIR/bin/amber (default: $HOME/.local)
# --url BASE       run cli.ts from BASE (where the checkout is served) instead of this checkout
# --deno PATH      the Deno to run it with; it must be the pinned version (default: the
#                  checkout's tools/deno, else, with --url, the pinned version fetched with npm
#                  into DIR/lib/amber)
# --build-dir DIR  with --url: Amber's built C parts (AMBER_BUILD_DIR; default: the checkout's build/)
set -eu

die() { echo "install.sh: $*" >&2; exit 1; }
# A path or URL quoted for the launcher: inside single quotes, each ' written as '\''.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL "$1"
  elif command -v wget >/dev/null 2>&1; then wget -qO- "$1"
  else die "cannot fetch '$1': neither curl nor wget is installed"; fi
}
# The version pinned in a tools/deno/package.json read on stdin.
pinned_of() { sed -n 's/.*"deno": *"\([0-9][0-9.]*\)".*/\1/p' | head -n 1; }

ROOT="${HOME:-/root}/.local" URL="" DENO="" BUILD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a folder}"; shift 2 ;;
    --url) URL="${2:?--url needs the base URL}"; shift 2 ;;
    --deno) DENO="${2:?--deno needs a path}"; shift 2 ;;
    --build-dir) BUILD="${2:?--build-dir needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see the top of tools/install.sh)" ;;
  esac
done
URL="${URL%/}"

# The checkout this script is in, if it runs from a file of one (not from a pipe).
CHECKOUT=""
case "$0" in
  */install.sh) CHECKOUT="$(cd "$(dirname "$0")/.." && pwd)"
    [ -f "$CHECKOUT/cli.ts" ] || CHECKOUT="" ;;
esac
[ -n "$CHECKOUT" ] || [ -n "$URL" ] || die "run it from a checkout (sh tools/install.sh), or give --url"

if [ -n "$CHECKOUT" ]; then
  PINNED="$(pinned_of < "$CHECKOUT/tools/deno/package.json")"
else
  PINNED="$(fetch "$URL/tools/deno/package.json" | pinned_of)"
fi
[ -n "$PINNED" ] || die "cannot tell the pinned Deno version from tools/deno/package.json"

if [ -z "$DENO" ] && [ -n "$CHECKOUT" ]; then
  DENO="$CHECKOUT/tools/deno/node_modules/deno/deno"
  [ -x "$DENO" ] || die "the pinned Deno is not in $CHECKOUT/tools/deno: run 'make' first"
elif [ -z "$DENO" ]; then
  command -v npm >/dev/null 2>&1 || die "the pinned Deno $PINNED is needed: install npm, or give --deno PATH"
  mkdir -p "$ROOT/lib/amber"
  npm install --prefix "$ROOT/lib/amber" --no-audit --no-fund --loglevel=error "deno@$PINNED" >&2
  DENO="$ROOT/lib/amber/node_modules/deno/deno"
fi
[ -x "$DENO" ] || die "'$DENO' is not an executable"
DENO="$(cd "$(dirname "$DENO")" && pwd)/$(basename "$DENO")"
HAVE="$("$DENO" --version | sed -n '1s/^deno \([0-9][0-9.]*\).*/\1/p')"
[ "$HAVE" = "$PINNED" ] || die "'$DENO' is Deno ${HAVE:-of unknown version}; Amber pins Deno $PINNED"

if [ -n "$URL" ]; then
  [ -n "$BUILD" ] || { [ -n "$CHECKOUT" ] && BUILD="$CHECKOUT/build"; } || true
  [ -z "$BUILD" ] || BUILD="$(cd "$BUILD" && pwd)" || die "no folder '$BUILD'"
  SOURCE="$URL/cli.ts"
  RUN="run -A --quiet --no-config"
else
  SOURCE="$CHECKOUT/cli.ts"
  RUN="run -A --quiet --config $(quote "$CHECKOUT/deno.json")"
fi

# Fetched now, so that the first `amber` is quick and a problem shows here.
if [ -n "$URL" ]; then "$DENO" cache --no-config "$SOURCE" >&2
else "$DENO" cache --config "$CHECKOUT/deno.json" "$SOURCE" >&2; fi

mkdir -p "$ROOT/bin"
TMP="$ROOT/bin/.amber.$$"
{
  echo "#!/bin/sh"
  echo "# amber: written by Amber's tools/install.sh; runs cli.ts with the pinned Deno $PINNED."
  [ -z "$BUILD" ] || echo "export AMBER_BUILD_DIR=\"\${AMBER_BUILD_DIR:-$(printf '%s' "$BUILD" | sed 's/[\\"$`]/\\&/g')}\""
  echo "exec $(quote "$DENO") $RUN $(quote "$SOURCE") \"\$@\""
} > "$TMP"
chmod 755 "$TMP"
mv -f "$TMP" "$ROOT/bin/amber"
echo "Installed $ROOT/bin/amber (Deno $PINNED at $DENO)"
case ":${PATH:-}:" in
  *":$ROOT/bin:"*) ;;
  *) echo "Add $ROOT/bin to PATH: export PATH=\"$ROOT/bin:\$PATH\"" ;;
esac
