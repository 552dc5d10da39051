#!/usr/bin/env bash
# Regenerate the cross-architecture ELF fixtures in testdata/fixtures/ from
# the sources in testdata/src/.
#
#   bash testdata/build-fixtures.sh            # all architectures
#   bash testdata/build-fixtures.sh aarch64 s390x   # a subset
#
# Needs (Debian 12): gcc, musl-tools, binutils, python3 and
#   gcc-{aarch64,i686,arm,riscv64,powerpc64,s390x}-linux-gnu(eabihf)
# Output is deterministic for a given toolchain (no build-id, no debug info,
# sources compiled by relative name in a scratch directory).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/src
out=$here/fixtures

ALL_ARCHES=(x86_64 x86_64-musl i386 aarch64 armhf riscv64 ppc64 s390x)

# arch -> "CC STRIP EXTRA_CFLAGS"
toolchain() {
  case $1 in
    x86_64)      echo "gcc strip" ;;
    x86_64-musl) echo "musl-gcc strip" ;;
    i386)        echo "i686-linux-gnu-gcc i686-linux-gnu-strip" ;;
    aarch64)     echo "aarch64-linux-gnu-gcc aarch64-linux-gnu-strip" ;;
    armhf)       echo "arm-linux-gnueabihf-gcc arm-linux-gnueabihf-strip" ;;
    riscv64)     echo "riscv64-linux-gnu-gcc riscv64-linux-gnu-strip" ;;
    # Big-endian, ELFv1 (function descriptors in .opd); make the ABI explicit.
    ppc64)       echo "powerpc64-linux-gnu-gcc powerpc64-linux-gnu-strip -mabi=elfv1" ;;
    s390x)       echo "s390x-linux-gnu-gcc s390x-linux-gnu-strip" ;;
    *) echo "unknown arch: $1" >&2; return 1 ;;
  esac
}

CFLAGS=(-O2 -g0)
# max-page-size=4096 keeps aarch64/ppc64 files small (their default is 64 KiB,
# which pads every segment); it is a no-op on the other targets.
LDFLAGS=(-Wl,--build-id=none -Wl,-z,max-page-size=4096)

if [ $# -gt 0 ]; then arches=("$@"); else arches=("${ALL_ARCHES[@]}"); fi

for a in "${arches[@]}"; do
  toolchain "$a" >/dev/null || exit 1
  read -r cc strip extra <<<"$(toolchain "$a")"
  for tool in "$cc" "$strip"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (needed for $a)" >&2; exit 1; }
  done
done
command -v python3 >/dev/null || { echo "missing python3" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Remove the section header table: zero e_shoff/e_shnum/e_shstrndx and cut the
# file after the last byte covered by a program header (drops .symtab,
# .strtab, .shstrtab, .comment and the section headers; loadable bytes are
# unchanged), so a reader has to use PT_DYNAMIC and friends.
strip_sections() {
  python3 - "$1" "$2" <<'PY'
import struct, sys
src, dst = sys.argv[1], sys.argv[2]
b = bytearray(open(src, 'rb').read())
assert b[:4] == b'\x7fELF'
is64 = b[4] == 2
e = '<' if b[5] == 1 else '>'
if is64:
    phoff, = struct.unpack_from(e + 'Q', b, 0x20)
    phentsize, phnum = struct.unpack_from(e + 'HH', b, 0x36)
    struct.pack_into(e + 'Q', b, 0x28, 0)          # e_shoff
    struct.pack_into(e + 'HH', b, 0x3C, 0, 0)      # e_shnum, e_shstrndx
else:
    phoff, = struct.unpack_from(e + 'I', b, 0x1C)
    phentsize, phnum = struct.unpack_from(e + 'HH', b, 0x2A)
    struct.pack_into(e + 'I', b, 0x20, 0)
    struct.pack_into(e + 'HH', b, 0x30, 0, 0)
end = phoff + phentsize * phnum
for i in range(phnum):
    o = phoff + i * phentsize
    if is64:
        _, _, off, _, _, filesz = struct.unpack_from(e + 'IIQQQQ', b, o)
    else:
        _, off, _, _, filesz = struct.unpack_from(e + 'IIIII', b, o)
    end = max(end, off + filesz)
open(dst, 'wb').write(bytes(b[:end]))
PY
}

build_arch() {
  local a=$1 cc strip extra
  read -r cc strip extra <<<"$(toolchain "$a")"
  local extra_flags=()
  [ -n "${extra:-}" ] && read -r -a extra_flags <<<"$extra"

  local w=$work/$a d=$out/$a
  mkdir -p "$w"
  rm -rf "$d"
  mkdir -p "$d"
  cp "$src/libvers.c" "$src/libvers.map" "$src/prog.c" "$w/"

  (
    cd "$w"
    "$cc" "${CFLAGS[@]}" "${extra_flags[@]}" -fPIC -shared \
      -Wl,--version-script=libvers.map -Wl,-soname,libvers.so.1 \
      "${LDFLAGS[@]}" -o libvers.so.1 libvers.c
    ln -sf libvers.so.1 libvers.so

    local common=("${CFLAGS[@]}" "${extra_flags[@]}" "${LDFLAGS[@]}")
    local link=(-L. -lvers -Wl,-rpath,'$ORIGIN')
    "$cc" "${common[@]}" -o prog prog.c "${link[@]}" -Wl,--enable-new-dtags
    "$cc" "${common[@]}" -o prog-rpath prog.c "${link[@]}" -Wl,--disable-new-dtags
    "$cc" "${common[@]}" -no-pie -o prog-nopie prog.c "${link[@]}" -Wl,--enable-new-dtags

    # The linker's default 64 KiB pages, where the architecture has them: the rewriter
    # must keep p_align at 64 KiB for these.
    case $a in aarch64|ppc64)
      "$cc" "${CFLAGS[@]}" "${extra_flags[@]}" -Wl,--build-id=none -Wl,-z,max-page-size=65536 \
        -o prog-64k prog.c "${link[@]}" -Wl,--enable-new-dtags ;;
    esac

    "$strip" -s -o libvers-stripped.so.1 libvers.so.1
  )

  cp "$w/libvers.so.1" "$w/libvers-stripped.so.1" "$w/prog" "$w/prog-rpath" \
     "$w/prog-nopie" "$d/"
  [ -f "$w/prog-64k" ] && cp "$w/prog-64k" "$d/"
  if [ "$a" = x86_64 ]; then
    strip_sections "$d/libvers.so.1" "$d/libvers-nosections.so.1"
  fi
  chmod 0755 "$d"/*
  echo "built $a"
}

# ---- sanity checks on the generated files (readelf is target-independent) --
fail=0
check() { # file description grep-pattern
  if ! grep -Eq -- "$3" <<<"$dump"; then
    echo "CHECK FAILED: $1: $2" >&2
    fail=1
  fi
}

check_arch() {
  local a=$1 d=$out/$1 f dump
  for f in libvers.so.1 libvers-stripped.so.1; do
    dump=$(readelf -W --dyn-syms -d -V "$d/$f")
    check "$a/$f" soname 'SONAME.*\[libvers\.so\.1\]'
    check "$a/$f" 'verdef VERS_1.0' 'Name: VERS_1\.0'
    check "$a/$f" 'verdef VERS_2.0' 'Name: VERS_2\.0'
    check "$a/$f" 'VERS_2.0 parent' 'Parent 1: VERS_1\.0'
    check "$a/$f" 'hidden vers_compute@VERS_1.0' ' vers_compute@VERS_1\.0$'
    check "$a/$f" 'default vers_compute@@VERS_2.0' ' vers_compute@@VERS_2\.0$'
    check "$a/$f" 'TLS vers_tls' 'TLS +GLOBAL +DEFAULT .* vers_tls@@VERS_1\.0$'
    check "$a/$f" 'protected vers_protected' 'PROTECTED .* vers_protected@@VERS_1\.0$'
    check "$a/$f" 'weak vers_weak' 'WEAK +DEFAULT .* vers_weak@@VERS_1\.0$'
    check "$a/$f" 'object vers_counter' 'OBJECT +GLOBAL .* vers_counter@@VERS_1\.0$'
    check "$a/$f" 'object vers_table' 'OBJECT +GLOBAL .* vers_table@@VERS_1\.0$'
    if [ "$a" != x86_64-musl ]; then
      check "$a/$f" 'libc import' 'UND (puts|strlen)@GLIBC_'
    fi
  done
  dump=$(readelf -W -S "$d/libvers-stripped.so.1")
  if grep -Eq '\.symtab' <<<"$dump"; then
    echo "CHECK FAILED: $a/libvers-stripped.so.1 still has .symtab" >&2; fail=1
  fi
  dump=$(readelf -W -S "$d/libvers.so.1")
  check "$a/libvers.so.1" '.symtab kept' '\.symtab'

  for f in prog prog-rpath prog-nopie; do
    dump=$(readelf -W --dyn-syms -d -V "$d/$f")
    check "$a/$f" 'NEEDED libvers' 'NEEDED.*\[libvers\.so\.1\]'
    check "$a/$f" 'NEEDED libc' 'NEEDED.*\[libc\.so'
    if [ "$f" = prog-rpath ]; then
      check "$a/$f" 'RPATH $ORIGIN' '\(RPATH\).*\[\$ORIGIN\]'
    else
      check "$a/$f" 'RUNPATH $ORIGIN' '\(RUNPATH\).*\[\$ORIGIN\]'
    fi
    check "$a/$f" 'ref vers_compute@VERS_2.0' 'UND vers_compute@VERS_2\.0'
    check "$a/$f" 'ref vers_compute@VERS_1.0' 'UND vers_compute@VERS_1\.0'
    check "$a/$f" 'verneed VERS_2.0' 'Name: VERS_2\.0'
    if [ "$a" != x86_64-musl ]; then
      check "$a/$f" 'GLIBC_* ref' '@GLIBC_[0-9.]+'
    fi
  done
  if [ "$a" = x86_64 ]; then
    dump=$(readelf -W -h -d --dyn-syms "$d/libvers-nosections.so.1" 2>&1)
    check "$a/libvers-nosections.so.1" 'e_shnum=0' 'Number of section headers: +0$'
    check "$a/libvers-nosections.so.1" 'dynamic via phdrs' 'SONAME.*\[libvers\.so\.1\]'
  fi
  if [ "$a" = ppc64 ]; then
    dump=$(readelf -W -h -S "$d/libvers.so.1")
    check "$a/libvers.so.1" 'ELFv1 e_flags' 'Flags: +0x1, abiv1'
    check "$a/libvers.so.1" 'big endian' "big endian"
    check "$a/libvers.so.1" '.opd present' '\.opd'
  fi
}

mkdir -p "$out"
for a in "${arches[@]}"; do build_arch "$a"; done
for a in "${arches[@]}"; do check_arch "$a"; done
[ "$fail" = 0 ] || { echo "fixture checks failed" >&2; exit 1; }

# Manifest of every generated file (all arches present, not just this run's).
(
  cd "$out"
  find . -type f ! -name MANIFEST.txt | sed 's|^\./||' | sort | xargs sha256sum > MANIFEST.txt
)
echo "fixtures OK; wrote $out/MANIFEST.txt"
