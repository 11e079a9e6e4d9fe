#!/usr/bin/env bash
# CI: rebuilds the eBPF side into a temp dir and fails when bpf/layout.h or any committed object
# differs from what its sources build to (someone edited a source or layout.ts without
# `npm run build:bpf`, or a toolchain other than the pinned one built the objects).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

bash "$repo/scripts/build-bpf.sh" "$tmp"

cd "$repo"
status=0
for built in "$tmp"/bpf/layout.h "$tmp"/bpf/*.bpf.o "$tmp"/test/fixtures/bpf/*.bpf.o; do
  rel="${built#"$tmp"/}"
  if [ ! -f "$rel" ]; then
    echo "check-bpf: $rel is not committed (run npm run build:bpf)" >&2
    status=1
  elif ! cmp -s "$built" "$rel"; then
    echo "check-bpf: $rel differs from what its sources build to (run npm run build:bpf)" >&2
    status=1
  fi
done
for committed in bpf/*.bpf.o test/fixtures/bpf/*.bpf.o; do
  [ -f "$tmp/$committed" ] || { echo "check-bpf: $committed has no source" >&2; status=1; }
done
if [ "$status" -ne 0 ] && ! cmp -s "$tmp/bpf/TOOLCHAIN" bpf/TOOLCHAIN; then
  echo "check-bpf: note: the toolchain differs from the one recorded in bpf/TOOLCHAIN:" >&2
  diff bpf/TOOLCHAIN "$tmp/bpf/TOOLCHAIN" >&2 || true
fi
[ "$status" -eq 0 ] && echo "check-bpf: objects match their sources" >&2
exit "$status"
