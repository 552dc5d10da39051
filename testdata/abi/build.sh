#!/usr/bin/env bash
# Build the ABI diff test pairs and the hash-stability variants.
#
#   bash testdata/abi/build.sh OUTDIR
#
# For every case directory <case>/ next to this script:
#   OUTDIR/<case>/old.so and OUTDIR/<case>/new.so
# Sources per side S (old|new): S.c or S.cc if present, else lib.c / lib.cc
# (compiled with -DNEW for the new side). Version script: S.map, else lib.map,
# if present. Extra compiler/linker flags: S.flags (one line), if present,
# appended after the common flags (so -Wl,-soname there overrides the default).
# .cc sources are built with g++.
#
# stable/lib.c + stable/lib.map are built into OUTDIR/stable/ as gcc-O0.so,
# gcc-O2.so, gcc-O2-g.so, gcc-O2-buildid-a.so, gcc-O2-buildid-b.so,
# clang-O2.so, clang-O0.so (skipped, and said so, if clang is not installed:
# Debian package `clang`) and changed-align.so; plus
# OUTDIR/stable/observed-align.json (observe-align.py, if python3 is present).
#
# Environment: CC (default gcc), CXX (default g++), CLANG (default clang).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

CC=${CC:-gcc}
CXX=${CXX:-g++}
CLANG=${CLANG:-clang}
common=(-shared -fPIC -O2 -Wl,-soname,libcase.so.1)

pids=()
run() { # run CMD... in the background, output to a log that is shown on failure
  local log
  log=$(mktemp "$out/.log.XXXXXX")
  ( "$@" >"$log" 2>&1 || { echo "build.sh: failed: $*" >&2; cat "$log" >&2; exit 1; }; rm -f "$log" ) &
  pids+=($!)
}

build_side() { # case_dir side
  local dir=$1 side=$2 name src compiler map flags=() defs=()
  name=$(basename "$dir")
  if [ -f "$dir/$side.c" ]; then src=$dir/$side.c; compiler=$CC
  elif [ -f "$dir/$side.cc" ]; then src=$dir/$side.cc; compiler=$CXX
  elif [ -f "$dir/lib.c" ]; then src=$dir/lib.c; compiler=$CC
  elif [ -f "$dir/lib.cc" ]; then src=$dir/lib.cc; compiler=$CXX
  else echo "build.sh: $name: no source for $side" >&2; exit 1
  fi
  case $src in */lib.c|*/lib.cc) [ "$side" = new ] && defs=(-DNEW) ;; esac
  map=
  if [ -f "$dir/$side.map" ]; then map=$dir/$side.map
  elif [ -f "$dir/lib.map" ]; then map=$dir/lib.map
  fi
  if [ -f "$dir/$side.flags" ]; then read -r -a flags <"$dir/$side.flags"; fi
  run "$compiler" "${common[@]}" ${map:+"-Wl,--version-script=$map"} \
    "${defs[@]}" "${flags[@]}" -o "$out/$name/$side.so" "$src"
}

ncases=0
for dir in "$here"/*/; do
  dir=${dir%/}
  [ "$(basename "$dir")" = stable ] && continue
  mkdir -p "$out/$(basename "$dir")"
  build_side "$dir" old
  build_side "$dir" new
  ncases=$((ncases + 1))
done

# Hash-stability variants.
s=$here/stable
so=$out/stable
mkdir -p "$so"
vs=-Wl,--version-script=$s/lib.map
base=(-shared -fPIC -Wl,-soname,libstable.so.1 "$vs")
run "$CC" "${base[@]}" -O0 -o "$so/gcc-O0.so" "$s/lib.c"
run "$CC" "${base[@]}" -O2 -o "$so/gcc-O2.so" "$s/lib.c"
run "$CC" "${base[@]}" -O2 -g -o "$so/gcc-O2-g.so" "$s/lib.c"
run "$CC" "${base[@]}" -O2 -Wl,--build-id=0x0123 -o "$so/gcc-O2-buildid-a.so" "$s/lib.c"
run "$CC" "${base[@]}" -O2 -Wl,--build-id=0x4567 -o "$so/gcc-O2-buildid-b.so" "$s/lib.c"
run "$CC" "${base[@]}" -O2 -DCHANGED_ALIGN -o "$so/changed-align.so" "$s/lib.c"
clang_note=
if command -v "$CLANG" >/dev/null 2>&1; then
  run "$CLANG" "${base[@]}" -O2 -o "$so/clang-O2.so" "$s/lib.c"
  run "$CLANG" "${base[@]}" -O0 -o "$so/clang-O0.so" "$s/lib.c"
else
  rm -f "$so/clang-O2.so" "$so/clang-O0.so"
  clang_note=" (clang variants SKIPPED: '$CLANG' not found; apt-get install clang)"
fi

fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
rm -f "$out"/.log.*
[ "$fail" = 0 ] || exit 1

align_note=
if command -v python3 >/dev/null 2>&1; then
  (cd "$so" && python3 "$here/observe-align.py" *.so) >"$so/observed-align.json"
else
  align_note=" (observed-align.json SKIPPED: no python3)"
fi

nstable=$(ls "$so"/*.so | wc -l)
echo "abi testdata: $ncases case pairs and $nstable stable variants built in $out$clang_note$align_note"
