#!/usr/bin/env bash
# `npm run demo`: the reader on the built-in fixtures and on this system's own files, the
# rewriter, and a program linked against a stub.
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
echo
demo_dir=$(mktemp -d)
trap 'rm -rf "$demo_dir"' EXIT
cp testdata/fixtures/x86_64/prog testdata/fixtures/x86_64/libvers.so.1 "$demo_dir/"
echo "== abilink patch --dry-run: a longer runpath and one more NEEDED on a copy of the x86_64 fixture"
abilink patch --dry-run --add-runpath /opt/some/long/library/directory --add-needed libm.so.6 "$demo_dir/prog"
echo
echo "== abilink patch -v, then the patched program runs"
abilink patch -v --add-runpath /opt/some/long/library/directory --add-needed libm.so.6 "$demo_dir/prog"
(cd "$demo_dir" && ./prog)
echo
echo "== abilink stub: a code-free stub of libvers.so.1 (from the committed x86_64 fixture)"
mkdir -p "$demo_dir/stubs" "$demo_dir/lib"
abilink stub -v testdata/fixtures/x86_64/libvers.so.1 --out-dir "$demo_dir/stubs"
echo "   library: $(stat -c %s testdata/fixtures/x86_64/libvers.so.1) bytes; stub: $(stat -c %s "$demo_dir/stubs/libvers.so.1") bytes, no code"
if command -v gcc >/dev/null; then
  echo
  echo "== a program linked against the stub, not the library (RUNPATH: the stub directory)"
  echo "\$ gcc -o hello testdata/src/prog.c -L stubs -l:libvers.so.1 -Wl,-rpath,stubs"
  gcc -o "$demo_dir/hello" testdata/src/prog.c -L"$demo_dir/stubs" -l:libvers.so.1 -Wl,-rpath,"$demo_dir/stubs"
  echo "\$ ./hello     # the loader refuses the stub; nothing runs"
  "$demo_dir/hello" || echo "   (exit status $?)"
  cp testdata/fixtures/x86_64/libvers.so.1 "$demo_dir/lib/"
  echo "\$ abilink patch --set-runpath \$PWD/lib hello && ./hello     # pointed at a real build"
  abilink patch --set-runpath "$demo_dir/lib" "$demo_dir/hello"
  "$demo_dir/hello"
else
  echo "(gcc is not installed: install it to see a program linked against the stub)"
fi
