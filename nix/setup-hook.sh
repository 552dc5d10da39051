# shellcheck shell=bash
# abilink's setup hook, for builds that link against ABI stubs (abilink in nativeBuildInputs).
#
# After every other fixup step that touches RUNPATHs (patchelf's --shrink-rpath in
# fixupOutputHooks, autoPatchelfHook and the like in postFixupHooks), it checks that each
# output refers to stubs only through DT_RUNPATH entries, and records in
# $out/nix-support/abilink-stubs (one file per output) which stub libraries, with their ABI
# hashes, the output was linked against: relinkPackage reads it to point them at tables.
# It rewrites nothing: a table is not an input of this build, so Nix would not keep it alive.
#
# Options (derivation attributes, with or without __structuredAttrs):
#   dontAbilink     skip the check and the record
#   abilinkIgnore   globs of files to leave out (abilink scan's --exclude: without a slash,
#                   a base name; with one, the whole path, e.g. "**/libexec/**")
#   abilinkFlags    more arguments for `abilink scan` (e.g. --jobs 1)
#
# A stub is a library in a store path that has nix-support/abilink-stub (mkAbiStub writes it).
# A malformed or unreadable file (abilink scan reports it) gets a warning naming it and is left
# out, as patchelf's --shrink-rpath step of stdenv does; the build carries on.
#
# abilink runs on the build platform: the hook acts when abilink comes from nativeBuildInputs
# (hostOffset -1). With strictDeps (and so in every cross build) it does nothing when sourced
# from another dependency list; without strictDeps, where buildInputs' programs are on PATH too,
# it does not tell them apart either (as nixpkgs' CUDA hooks do).

if [[ -n ${strictDeps-} && ${hostOffset:-0} -ne -1 ]]; then
  echo "abilink: setup hook not used: sourced with hostOffset ${hostOffset:-0} (targetOffset ${targetOffset:-0}); with strictDeps it acts from nativeBuildInputs only"
  return 0
fi
if [[ -n ${abilinkHookOnce-} ]]; then
  return 0
fi
declare -g abilinkHookOnce=1

# Append words to a variable that is an array with __structuredAttrs and a string without, as
# nixpkgs' appendToVar does (used when this stdenv has none).
_abilinkAppendToVar() {
  local name=$1
  shift
  if declare -F appendToVar >/dev/null; then
    appendToVar "$name" "$@"
  elif [[ "$(declare -p "$name" 2>/dev/null)" == "declare -a"* || -n ${__structuredAttrs-} ]]; then
    declare -ga "$name"
    local -n _abilinkArr=$name
    _abilinkArr+=("$@")
  else
    export "$name"="${!name-}${!name:+ }$*"
  fi
}

# Read a variable that is a list attribute (an array with __structuredAttrs, a space-separated
# string without) into the array named by $2.
_abilinkListVar() {
  local -n _abilinkOut=$2
  _abilinkOut=()
  if [[ "$(declare -p "$1" 2>/dev/null)" == "declare -a"* ]]; then
    local -n _abilinkIn=$1
    _abilinkOut=(${_abilinkIn[@]+"${_abilinkIn[@]}"})
  elif [[ -n ${!1-} ]]; then
    # shellcheck disable=SC2206
    read -r -a _abilinkOut <<<"${!1}"
  fi
}

# Output names: the keys of the outputs map with __structuredAttrs, the words of $outputs without.
_abilinkOutputNames() {
  local -n _abilinkNames=$1
  if [[ "$(declare -p outputs 2>/dev/null)" == "declare -A"* ]]; then
    _abilinkNames=("${!outputs[@]}")
  else
    _abilinkListVar outputs "$1"
  fi
  ((${#_abilinkNames[@]} > 0)) || _abilinkNames=(out)
}

# Registered from prePhases, after every setup hook has been sourced, so that it lands after
# the postFixupHooks that autoPatchelfHook and others add when they are sourced.
abilinkHookRegistration() {
  postFixupHooks+=(abilinkFixupHook)
  echo "abilink: registered abilinkFixupHook, the last of postFixupHooks"
}

_abilinkAppendToVar prePhases abilinkHookRegistration

# The store path a path is in, when that store path is a stub package; empty otherwise.
declare -gA _abilinkStubCache=()
_abilinkStubOf() {
  local path=$1 store=${NIX_STORE:-/nix/store} top
  _abilinkStub=""
  [[ $path == "$store"/* ]] || return 0
  top=${path#"$store"/}
  top=$store/${top%%/*}
  if [[ -z ${_abilinkStubCache[$top]+set} ]]; then
    if [[ -e $top/nix-support/abilink-stub ]]; then
      _abilinkStubCache[$top]=$top
    else
      _abilinkStubCache[$top]=""
    fi
  fi
  _abilinkStub=${_abilinkStubCache[$top]}
}

declare -gA _abilinkHashCache=()
_abilinkHashOf() {
  if [[ -z ${_abilinkHashCache[$1]+set} ]]; then
    local line
    line=$(abilink hash "$1")
    _abilinkHashCache[$1]=${line%% *}
  fi
  _abilinkHash=${_abilinkHashCache[$1]}
}

abilinkFixupHook() {
  if [[ -n ${dontAbilink-} ]]; then
    echo "abilink: dontAbilink is set: stub references neither checked nor recorded"
    return 0
  fi

  local -a names ignore flags excludes=() problems=()
  _abilinkOutputNames names
  _abilinkListVar abilinkIgnore ignore
  _abilinkListVar abilinkFlags flags
  local glob
  for glob in ${ignore[@]+"${ignore[@]}"}; do
    excludes+=(--exclude "$glob")
  done

  local name dir scanOut scanErr line file rest field entry soname lib
  local -i scanStatus
  local -a fields needed rpath runpath records
  local interp fileUsesStub
  local -i nElf nLinked
  for name in "${names[@]}"; do
    dir=${!name-}
    [[ -n $dir && -d $dir ]] || continue
    scanOut=$(mktemp)
    scanErr=$(mktemp)
    scanStatus=0
    abilink scan ${flags[@]+"${flags[@]}"} ${excludes[@]+"${excludes[@]}"} -- "$dir" >"$scanOut" 2>"$scanErr" || scanStatus=$?
    case $scanStatus in
      0) ;;
      1)
        # some files could not be read or are malformed ELF: each named, the others reported
        while IFS= read -r line; do
          echo "abilink: warning: ${line#abilink: } (left out: not checked for stub references)" >&2
        done <"$scanErr"
        ;;
      *)
        cat "$scanErr" >&2
        rm -f "$scanOut" "$scanErr"
        echo "abilink: abilink scan $dir failed (exit $scanStatus)" >&2
        exit 1
        ;;
    esac
    rm -f "$scanErr"
    records=()
    nElf=0
    nLinked=0
    while IFS= read -r line; do
      if ! [[ $line =~ ^(.+)\ ELF(32|64)\ (LE|BE)\ [^\ ]+\ [^\ ]+\ size=[0-9]+(.*)$ ]]; then
        continue
      fi
      file=${BASH_REMATCH[1]}
      rest=${BASH_REMATCH[4]}
      nElf+=1
      interp="" needed=() rpath=() runpath=()
      read -r -a fields <<<"$rest"
      for field in ${fields[@]+"${fields[@]}"}; do
        case $field in
          interp=*) interp=${field#interp=} ;;
          needed=*) IFS=, read -r -a needed <<<"${field#needed=}" ;;
          rpath=*) IFS=: read -r -a rpath <<<"${field#rpath=}" ;;
          runpath=*) IFS=: read -r -a runpath <<<"${field#runpath=}" ;;
        esac
      done

      if [[ -n $interp ]]; then
        _abilinkStubOf "$interp"
        [[ -z $_abilinkStub ]] || problems+=("$file: its interpreter $interp is a stub")
      fi
      for soname in ${needed[@]+"${needed[@]}"}; do
        [[ $soname == */* ]] || continue
        _abilinkStubOf "$soname"
        [[ -z $_abilinkStub ]] || problems+=("$file: NEEDED $soname is an absolute path to a stub (only RUNPATH may lead to stubs)")
      done
      for entry in ${rpath[@]+"${rpath[@]}"}; do
        _abilinkStubOf "$entry"
        [[ -z $_abilinkStub ]] || problems+=("$file: DT_RPATH entry $entry is a stub directory (RPATH applies to every library it loads too; link with --enable-new-dtags for RUNPATH)")
      done
      fileUsesStub=""
      for entry in ${runpath[@]+"${runpath[@]}"}; do
        _abilinkStubOf "$entry"
        [[ -n $_abilinkStub ]] || continue
        local found=""
        for soname in ${needed[@]+"${needed[@]}"}; do
          [[ $soname != */* ]] || continue
          lib=$entry/$soname
          if [[ -e $lib ]]; then
            found=1
            _abilinkHashOf "$lib"
            records+=("$lib $_abilinkHash")
            echo "abilink: $file: $soname from stub $lib ($_abilinkHash)"
          fi
        done
        if [[ -n $found ]]; then
          fileUsesStub=1
        else
          problems+=("$file: RUNPATH entry $entry is a stub directory, but the file NEEDs no library in it")
        fi
      done
      [[ -z $fileUsesStub ]] || nLinked+=1
    done <"$scanOut"
    rm -f "$scanOut"

    if ((${#records[@]} > 0)); then
      mkdir -p "$dir/nix-support"
      printf '%s\n' "${records[@]}" | LC_ALL=C sort -u >"$dir/nix-support/abilink-stubs"
      echo "abilink: $name: $nElf ELF files, $nLinked linked against stubs; recorded in $dir/nix-support/abilink-stubs:"
      sed 's/^/abilink:   /' "$dir/nix-support/abilink-stubs"
    else
      echo "abilink: $name: $nElf ELF files, none linked against stubs"
    fi
  done

  if ((${#problems[@]} > 0)); then
    echo "abilink: stubs may be referenced only through RUNPATH entries of files that need them:" >&2
    printf 'abilink:   %s\n' "${problems[@]}" >&2
    exit 1
  fi
}
