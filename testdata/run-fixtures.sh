#!/usr/bin/env bash
# Run every fixture program (natively for x86_64 / x86_64-musl, under
# qemu-user-static for the rest) and print one line per arch/program.
#
#   bash testdata/run-fixtures.sh [arch...]
#
# Each program is started from its fixture directory as ./prog so libvers.so.1
# is found through RUNPATH/RPATH $ORIGIN.  Cross sysroots come from
# /usr/<triplet> (qemu -L); override with SYSROOT_<arch>=... if needed.
# Exit status is non-zero if any program fails or prints unexpected output.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/fixtures
ALL_ARCHES=(x86_64 x86_64-musl i386 aarch64 armhf riscv64 ppc64 s390x)

# arch -> "QEMU TRIPLET" ("-" = run natively)
runner() {
  case $1 in
    x86_64|x86_64-musl) echo "- -" ;;
    i386)    echo "qemu-i386-static i686-linux-gnu" ;;
    aarch64) echo "qemu-aarch64-static aarch64-linux-gnu" ;;
    armhf)   echo "qemu-arm-static arm-linux-gnueabihf" ;;
    riscv64) echo "qemu-riscv64-static riscv64-linux-gnu" ;;
    ppc64)   echo "qemu-ppc64-static powerpc64-linux-gnu" ;;
    s390x)   echo "qemu-s390x-static s390x-linux-gnu" ;;
    *) echo "unknown arch: $1" >&2; return 1 ;;
  esac
}

# glibc honours the explicit vers_compute@VERS_1.0 reference (old=11); musl's
# dynamic linker ignores version requirements and binds both references to
# the default vers_compute@@VERS_2.0 (old=21).
EXPECT_GLIBC='hello from libvers | n=18 new=21 old=11 weak=42 prot=7 counter=1,7 tls=8 table=libvers-table'
EXPECT_MUSL='hello from libvers | n=18 new=21 old=21 weak=42 prot=7 counter=1,7 tls=8 table=libvers-table'

if [ $# -gt 0 ]; then arches=("$@"); else arches=("${ALL_ARCHES[@]}"); fi

errf=$(mktemp)
trap 'rm -f "$errf"' EXIT

bad=0
for a in "${arches[@]}"; do
  read -r qemu triplet <<<"$(runner "$a")"
  if [ "$a" = x86_64-musl ]; then expect=$EXPECT_MUSL; else expect=$EXPECT_GLIBC; fi
  cmd=()
  if [ "$qemu" != - ]; then
    var=SYSROOT_${a//-/_}
    cmd=("$qemu" -L "${!var:-/usr/$triplet}")
  fi
  for p in prog prog-rpath prog-nopie; do
    label=$(printf '%-12s %-11s' "$a" "$p")
    if [ ! -x "$out/$a/$p" ]; then
      echo "$label MISSING"; bad=1; continue
    fi
    if [ "$qemu" != - ] && ! command -v "$qemu" >/dev/null; then
      echo "$label SKIP ($qemu not installed)"; bad=1; continue
    fi
    rc=0
    res=$(cd "$out/$a" && timeout 60 "${cmd[@]}" "./$p" 2>"$errf") || rc=$?
    res=$(printf '%s' "$res" | paste -sd'|' - | sed 's/|/ | /g')
    note=""
    # e.g. riscv64/s390x prog-nopie: glibc warns about the canonical PLT
    # address of the protected function vers_protected (harmless).
    [ -s "$errf" ] && note=" [stderr: $(paste -sd' ' "$errf")]"
    if [ "$rc" -ne 0 ]; then
      echo "$label FAIL (exit $rc): $res$note"; bad=1
    elif [ "$res" != "$expect" ]; then
      echo "$label UNEXPECTED: $res$note"; bad=1
    else
      echo "$label ok: $res$note"
    fi
  done
done
exit "$bad"
