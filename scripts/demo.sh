#!/usr/bin/env bash
# `npm run demo`: the reader on the built-in fixtures and on this system's own files.
set -euo pipefail
cd "$(dirname "$0")/.."
abilink() { node bin/abilink "$@"; }

echo "== abilink inspect: a versioned shared library (committed fixture, ppc64 big-endian)"
abilink inspect testdata/fixtures/ppc64/libvers.so.1
echo
echo "== abilink inspect --json: this system's ls (first lines)"
abilink inspect --json "$(command -v ls)" | head -n 25
echo "   ..."
echo
echo "== abilink scan: every committed fixture, eight architectures"
abilink scan testdata/fixtures
echo
echo "== abilink scan --json over /usr/lib (first 3 of $(abilink scan --json /usr/lib 2>/dev/null | wc -l) ELF files)"
abilink scan --json /usr/lib 2>/dev/null | head -n 3
