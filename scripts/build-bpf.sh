#!/usr/bin/env bash
# Builds the eBPF side: bpf/layout.h from src/bpf/layout.ts, then every bpf/*.bpf.c and
# test/fixtures/bpf/*.bpf.c into a CO-RE object (BTF, no DWARF) next to its source.
#
#   scripts/build-bpf.sh            rebuild in place (the objects are committed)
#   scripts/build-bpf.sh OUTDIR     build a copy under OUTDIR (what scripts/check-bpf.sh compares)
#
# The bytes must not depend on the checkout: sources are compiled by relative path from the build
# root, DWARF is stripped (BTF stays), the compiler's ident string is left out, and the toolchain is
# pinned to Debian bookworm's clang 14. bpf/TOOLCHAIN records the versions the objects were built with.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$repo}" && cd "${1:-$repo}" && pwd)"
cd "$repo"

CLANG=clang-14
STRIP=llvm-strip-14

need_install=()
command -v "$CLANG" >/dev/null || need_install+=(clang-14)
command -v "$STRIP" >/dev/null || need_install+=(llvm-14)
[ -f /usr/include/bpf/bpf_helpers.h ] || need_install+=(libbpf-dev)
[ -f /usr/include/linux/bpf.h ] || need_install+=(linux-libc-dev)
if [ ${#need_install[@]} -gt 0 ]; then
  echo "build-bpf: installing ${need_install[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_install[@]}" >&2
fi

multiarch="$("$CLANG" -print-multiarch 2>/dev/null || true)"
[ -n "$multiarch" ] || multiarch="$(uname -m)-linux-gnu"

# 1. The shared layout header, rendered by the same TypeScript that encodes the map entries.
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
npx --no-install tsc --ignoreConfig --outDir "$gen" --rootDir src/bpf --module nodenext --moduleResolution nodenext \
  --target es2022 --strict --types node --skipLibCheck src/bpf/layout-header.ts
echo '{"type":"module"}' >"$gen/package.json"
mkdir -p "$out/bpf"
node --input-type=module -e "import { renderLayoutHeader } from '$gen/layout-header.js'; process.stdout.write(renderLayoutHeader());" \
  >"$out/bpf/layout.h.tmp"
mv "$out/bpf/layout.h.tmp" "$out/bpf/layout.h"

# 2. The objects. A copy build gets the sources too, so every build compiles the same relative paths.
sources=(bpf/*.bpf.c test/fixtures/bpf/*.bpf.c)
if [ "$out" != "$repo" ]; then
  for src in "${sources[@]}" bpf/*.h; do
    [ "$src" = bpf/layout.h ] && continue
    mkdir -p "$out/$(dirname "$src")"
    cp "$src" "$out/$src"
  done
fi

cd "$out"
for src in "${sources[@]}"; do
  obj="${src%.c}.o"
  "$CLANG" -target bpf -mcpu=v3 -O2 -g -fno-ident -Wall -Werror \
    -fdebug-prefix-map="$out"=. -fdebug-compilation-dir=. \
    -I bpf -idirafter "/usr/include/$multiarch" \
    -c "$src" -o "$obj.tmp"
  "$STRIP" -g "$obj.tmp" -o "$obj.tmp2"
  rm -f "$obj.tmp"
  mv "$obj.tmp2" "$obj"
  echo "build-bpf: $obj" >&2
done

{
  echo "# Toolchain the committed objects were built with (scripts/build-bpf.sh)."
  echo "clang: $("$CLANG" --version | head -n1)"
  echo "libbpf-dev: $(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || echo unknown)"
  echo "linux-libc-dev: $(dpkg-query -W -f='${Version}' linux-libc-dev 2>/dev/null || echo unknown)"
} >bpf/TOOLCHAIN
