#!/usr/bin/env bash
# Fingerprints of `abilink patch` outputs, for checking that a change to the rewriter
# changes no output byte (not a test: it takes minutes and GBs under /tmp). Run it in two
# checkouts over the same files, then compare:
#
#   bash scripts/patch-outputs.sh before.txt [DIR...]     # in the old checkout (built)
#   bash scripts/patch-outputs.sh after.txt [DIR...]      # in the new one
#   diff before.txt after.txt && echo identical
#   LIST=files.txt bash scripts/patch-outputs.sh after.txt    # the same files as another run
#   (the file list of a run: cut -f2 <(grep -P '^grow\t/' before.txt))
#
# Files: every dynamic ELF program and library under DIR... (default /usr/bin /usr/lib
# /usr/libexec), as the survey takes them. For each edit set below, every file is copied and
# patched in one call, then each output's sha256 (or its error line) and its JSON record are
# written. The edit sets cover every layout, shrinking and growing, and the patchelf front end.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
out=$(realpath -m "$1"); shift
dirs=("$@"); [ ${#dirs[@]} -gt 0 ] || dirs=(/usr/bin /usr/lib /usr/libexec)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
abilink() { node "$PWD/bin/abilink" "$@"; }
if [ -n "${LIST:-}" ]; then
  sort "$LIST" > "$work/list"
else
  abilink scan --json "${dirs[@]}" 2>/dev/null |
    node -e 'require("readline").createInterface({input:process.stdin}).on("line",l=>{const r=JSON.parse(l); if((r.type==="DYN"||r.type==="EXEC") && !r.path.includes("/debug/")) console.log(r.path)})' |
    sort > "$work/list"
fi
LONG=/opt/a/very/long/runpath/entry/that/never/fits/in/place
configs=(
  "grow|--add-runpath $LONG --add-needed libabilink-survey.so.1"
  "grow-new-segment|--layout new-segment --add-runpath $LONG --add-needed libabilink-survey.so.1"
  "grow-shift|--layout shift --add-runpath $LONG"
  "interp-soname|--set-interpreter /lib/../lib64/./ld-linux-x86-64.so.2.longer --set-soname libabilink-renamed.so.9 --replace-prefix /usr=/opt/usr"
  "shrink|--set-runpath \$ORIGIN --replace-needed libm.so.6 libm.so"
  "remove|--remove-runpath --remove-needed libdl.so.2 --remove-needed libpthread.so.0"
  "soname|--set-soname libabilink-a-longer-soname-than-before.so.9 --rpath-to-runpath"
)
: > "$out"
for c in "${configs[@]}"; do
  name=${c%%|*}; flags=${c#*|}
  rm -rf "$work/files"; mkdir "$work/files"
  i=0; while IFS= read -r f; do i=$((i+1)); cp "$f" "$work/files/$i"; done < "$work/list"
  # shellcheck disable=SC2086 # a list of flags
  (cd "$work/files" && ls | sort -n | xargs node "$OLDPWD/bin/abilink" patch --json --jobs 2 $flags) > "$work/records" 2> "$work/errors"
  i=0
  while IFS= read -r f; do
    i=$((i+1))
    printf '%s\t%s\t%s\n' "$name" "$f" "$(sha256sum < "$work/files/$i" | cut -c1-64)"
  done < "$work/list" >> "$out"
  # JSON records without the temporary paths, and error lines without them.
  sed -E 's#"(path|dest)":"[^"]*",##g' "$work/records" | sed "s#^#$name\trecord\t#" >> "$out"
  sed -E "s#^abilink: [^:]*: ##" "$work/errors" | sed "s#^#$name\terror\t#" >> "$out"
done
# The patchelf front end (one process per file), every 10th file: its usual Nix edits, then
# the edits only it has (renamed symbols rebuild the hash tables).
printf 'malloc abilink_renamed_malloc\nfree f\nstrlen abilink_strlen\nprintf p\n' > "$work/map"
pe_configs=(
  "patchelf|--set-rpath $LONG:\$ORIGIN/../lib --add-needed libabilink-x.so.1"
  "patchelf-only|--rename-dynamic-symbols $work/map --add-debug-tag --no-default-lib --set-execstack --set-os-abi freebsd --clear-symbol-version memcpy"
)
for c in "${pe_configs[@]}"; do
  name=${c%%|*}; flags=${c#*|}
  rm -rf "$work/files"; mkdir "$work/files"
  i=0
  while IFS= read -r f; do
    i=$((i+1)); [ $((i % 10)) -eq 0 ] || continue
    cp "$f" "$work/files/$i"
    # shellcheck disable=SC2086 # a list of flags
    err=$(abilink patchelf $flags "$work/files/$i" 2>&1 >/dev/null | sed "s#$work/files/$i#F#g")
    printf '%s\t%s\t%s\t%s\n' "$name" "$f" "$(sha256sum < "$work/files/$i" | cut -c1-64)" "$err" >> "$out"
  done < "$work/list"
done
echo "$(wc -l < "$work/list") files, $(wc -l < "$out") lines in $out"
