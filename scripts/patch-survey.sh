#!/usr/bin/env bash
# Survey, not a test (it takes minutes): patch a copy of every dynamic ELF program and
# library under the given directories (default /usr/bin /usr/lib /usr/libexec) so that
# each must grow (a long runpath, one more NEEDED), then compare eu-elflint's verdict on
# the original and the copy, and look for readelf warnings the copy has and the original
# has not.
#
#   bash scripts/patch-survey.sh [DIR...]
#   SURVEY_FLAGS="--layout new-segment" bash scripts/patch-survey.sh   # every file through a new PT_LOAD
#   SURVEY_FLAGS="--layout shift" SURVEY_EDITS="--add-runpath /a/long/path" bash scripts/patch-survey.sh
# No -e: scan exits 1 on the truncated files it reports, and the checks below pipe into head.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
dirs=("$@"); [ ${#dirs[@]} -gt 0 ] || dirs=(/usr/bin /usr/lib /usr/libexec)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
node bin/abilink scan --json "${dirs[@]}" 2>/dev/null |
  node -e 'require("readline").createInterface({input:process.stdin}).on("line",l=>{const r=JSON.parse(l); if((r.type==="DYN"||r.type==="EXEC") && !r.path.includes("/debug/")) console.log(r.path)})' > "$work/list"
i=0
while IFS= read -r f; do i=$((i+1)); cp "$f" "$work/$i"; printf '%s\t%s\n' "$work/$i" "$f"; done < "$work/list" > "$work/pairs"
edits=${SURVEY_EDITS:---add-runpath /opt/a/very/long/runpath/entry/that/never/fits/in/place --add-needed libabilink-survey.so.1}
# shellcheck disable=SC2086 # lists of flags
cut -f1 "$work/pairs" | xargs node bin/abilink patch --json ${SURVEY_FLAGS:-} $edits 2> "$work/errors" > "$work/records" || true
refused=$(wc -l < "$work/errors")
layouts=$(node -e 'const c={};for(const l of require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean)){const r=JSON.parse(l);if(r.error)continue;const k=r.segment?"new segment":r.shift>0?"shift":r.extended?"slack":"in place";c[k]=(c[k]||0)+1}console.log(Object.entries(c).map(([k,v])=>k+": "+v).join(", "))' "$work/records")
differ=0; warned=0; n=0
while IFS=$'\t' read -r copy orig; do
  n=$((n+1))
  a=$(eu-elflint --gnu-ld -q "$orig" 2>&1 | awk -v f="$orig" '{gsub(f, "F")} 1' | sed -E 's/phdr\[[0-9]+\]/phdr[N]/' | sort)
  b=$(eu-elflint --gnu-ld -q "$copy" 2>&1 | awk -v f="$copy" '{gsub(f, "F")} 1' | sed -E 's/phdr\[[0-9]+\]/phdr[N]/' | sort)
  if [ "$a" != "$b" ]; then differ=$((differ+1)); echo "eu-elflint differs: $orig"; diff <(echo "$a") <(echo "$b") | head -4; fi
  # readelf's warnings on the copy beyond those on the original (some originals have their own).
  wa=$(readelf -a -W "$orig" 2>&1 >/dev/null | sort -u)
  wb=$(readelf -a -W "$copy" 2>&1 >/dev/null | sort -u)
  if [ -n "$(comm -13 <(echo "$wa") <(echo "$wb"))" ]; then warned=$((warned+1)); echo "readelf warns (new): $orig"; comm -13 <(echo "$wa") <(echo "$wb") | head -3; fi
done < "$work/pairs"
echo "files: $n; layouts: $layouts; refused by abilink (see why below): $refused; eu-elflint verdict differs: $differ; new readelf warnings: $warned"
sed 's#^abilink: [^:]*: ##' "$work/errors" | sort | uniq -c | sort -rn | head
