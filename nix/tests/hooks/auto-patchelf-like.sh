# shellcheck shell=bash
# Stands in for autoPatchelfHook: registered into postFixupHooks when sourced (as autoPatchelfHook
# does), it gives each ELF file a RUNPATH entry for every NEEDED library found in the directories
# of $autoPatchelfLibDirs that no RUNPATH entry of the file provides yet. With
# autoPatchelfLikeAbsolute set it writes such NEEDED entries as absolute paths instead (what the
# abilink hook must refuse when the directory is a stub). A file patchelf cannot read is passed over.
postFixupHooks+=(autoPatchelfLike)

autoPatchelfLike() {
  local output f soname dir runpath
  for output in $(getAllOutputNames); do
    while IFS= read -r -d '' f; do
      [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] || continue
      runpath=$(patchelf --print-rpath "$f" 2>/dev/null) || continue
      for soname in $(patchelf --print-needed "$f"); do
        for dir in ${autoPatchelfLibDirs-}; do
          [[ -e $dir/$soname && ":$runpath:" != *":$dir:"* ]] || continue
          if [[ -n ${autoPatchelfLikeAbsolute-} ]]; then
            echo "auto-patchelf-like: $f: NEEDED $soname -> $dir/$soname"
            patchelf --replace-needed "$soname" "$dir/$soname" "$f"
          else
            echo "auto-patchelf-like: $f: RUNPATH += $dir"
            patchelf --add-rpath "$dir" "$f"
          fi
        done
      done
    done < <(find "${!output}" -type f -print0)
  done
}
