#!/usr/bin/env bash
# Builds the CNI shim (native/build/sluice-shim) with the machine's C compiler; run by `npm install`.
# Without a C compiler it skips with a warning: sluice then works without the shim (`sluice install`
# puts the standalone plugin's launcher in its place, and every CNI call starts Node).
# SLUICE_REQUIRE_NATIVE=1 turns a skipped or failed build into an error (CI).
set -uo pipefail
here="${BASH_SOURCE[0]%/*}"; [ "$here" = "${BASH_SOURCE[0]}" ] && here=.
cd "$here/../native" || exit 1

compiler="${CC:-}"
if [ -z "$compiler" ]; then
  for c in cc gcc clang; do
    if command -v "$c" >/dev/null 2>&1; then compiler="$c"; break; fi
  done
fi
if [ -z "$compiler" ] || ! command -v "${compiler%% *}" >/dev/null 2>&1; then
  echo "sluice: warning: no C compiler found: the CNI shim is not built (sluice install will use the standalone plugin)" >&2
  [ "${SLUICE_REQUIRE_NATIVE:-0}" = 1 ] && exit 1
  exit 0
fi

if command -v make >/dev/null 2>&1; then
  make --no-print-directory CC="$compiler" ${SLUICE_PLUGIN_PATH:+PLUGIN="$SLUICE_PLUGIN_PATH"}
  rc=$?
else
  mkdir -p build
  { "$compiler" -O2 -std=c11 -static -o build/sluice-shim sluice-shim.c 2>/dev/null || "$compiler" -O2 -std=c11 -o build/sluice-shim sluice-shim.c; } && echo "built build/sluice-shim"
  rc=$?
fi
if [ $rc -ne 0 ]; then
  echo "sluice: warning: building the CNI shim failed (see above): sluice install will use the standalone plugin" >&2
  [ "${SLUICE_REQUIRE_NATIVE:-0}" = 1 ] && exit 1
  exit 0
fi
