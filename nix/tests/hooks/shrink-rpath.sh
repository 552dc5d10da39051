# shellcheck shell=bash
# Stands in for nixpkgs' patchelf setup hook: registered when sourced, it shrinks the RUNPATH
# of every ELF file of each output in fixupOutputHooks (before any postFixupHooks run); a file
# patchelf cannot read is passed over, as stdenv's patchELF does.
fixupOutputHooks+=('if [[ -z ${dontPatchELF-} ]]; then shrinkRpaths "$prefix"; fi')

shrinkRpaths() {
  local f
  while IFS= read -r -d '' f; do
    [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] || continue
    echo "shrink-rpath: $f"
    patchelf --shrink-rpath "$f" || true
  done < <(find "$1" -type f -print0)
}
