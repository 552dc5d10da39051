# shellcheck shell=bash
# A minimal stand-in for nixpkgs' stdenv setup (pkgs/stdenv/generic/setup.sh), for the tests:
# nixpkgs is not available offline. It keeps what abilink's hook relies on, with the same
# semantics: dependencies' nix-support/setup-hook sourced first (hostOffset/targetOffset set),
# then the phases in order (prePhases, buildPhase, fixupPhase); runHook runs the implicit hook
# (a function or a string variable) and then each entry of the *Hooks array, an entry being a
# function name or a string to eval; fixupPhase runs fixupOutputHooks once per output with
# $prefix set, then postFixup. With __structuredAttrs, .attrs.sh gives arrays for lists and
# an associative array for outputs. Nothing here is nixpkgs code.
set -eu -o pipefail

# Nix writes .attrs.sh into the build directory when the derivation has __structuredAttrs
if [[ -e ${NIX_ATTRS_SH_FILE:-.attrs.sh} ]]; then
  __structuredAttrs=1
  # shellcheck disable=SC1090
  source "${NIX_ATTRS_SH_FILE:-.attrs.sh}"
  for _o in "${!outputs[@]}"; do export "$_o=${outputs[$_o]}"; done
  unset _o
fi

if [[ -z ${__structuredAttrs-} ]]; then
  : "${outputs:=out}"
fi
declare -a postFixupHooks=() fixupOutputHooks=()
# with structured attributes prePhases is an array, without it a string (a word list)
if [[ -n ${__structuredAttrs-} ]]; then
  declare -a prePhases=(${prePhases[@]+"${prePhases[@]}"})
else
  prePhases=${prePhases-}
fi

_eval() {
  if declare -F "$1" >/dev/null; then
    "$@"
  else
    eval "$1"
  fi
}

_callImplicitHook() {
  local def=$1 name=$2
  if declare -F "$name" >/dev/null; then
    "$name"
  elif [[ -n ${!name-} ]]; then
    eval "${!name}"
  else
    return "$def"
  fi
}

runHook() {
  local name=$1 hook
  shift
  local slice="${name%Hook}Hooks[@]"
  for hook in "_callImplicitHook 0 $name" ${!slice+"${!slice}"}; do
    _eval "$hook" "$@"
  done
  return 0
}

appendToVar() {
  local name=$1
  shift
  if [[ "$(declare -p "$name" 2>/dev/null)" == "declare -a"* || -n ${__structuredAttrs-} ]]; then
    declare -ga "$name"
    local -n ref=$name
    ref+=("$@")
  else
    export "$name"="${!name-}${!name:+ }$*"
  fi
}

getAllOutputNames() {
  if [[ -n ${__structuredAttrs-} ]]; then
    echo "${!outputs[*]}"
  else
    echo "$outputs"
  fi
}

# dependencies: bin/ on PATH, setup hooks sourced (all as build inputs of the host platform)
_deps() {
  local v
  for v in nativeBuildInputs buildInputs; do
    if [[ "$(declare -p "$v" 2>/dev/null)" == "declare -a"* ]]; then
      eval 'echo ${'"$v"'[@]+"${'"$v"'[@]}"}'
    else
      echo "${!v-}"
    fi
  done
}
for _dep in $(_deps); do
  [[ -d $_dep/bin ]] && PATH="$_dep/bin:$PATH"
  if [[ -e $_dep/nix-support/setup-hook ]]; then
    hostOffset=-1 targetOffset=0
    # shellcheck disable=SC1091
    source "$_dep/nix-support/setup-hook"
  fi
done
unset _dep
export PATH

buildPhase() {
  runHook preBuild
  eval "${buildCommand-}"
  runHook postBuild
}

fixupPhase() {
  local output
  runHook preFixup
  for output in $(getAllOutputNames); do
    [[ -e ${!output} ]] || continue
    prefix=${!output} runHook fixupOutput
  done
  runHook postFixup
}

genericBuild() {
  local phase
  # shellcheck disable=SC2048
  for phase in ${prePhases[*]-} buildPhase fixupPhase; do
    echo "running $phase"
    _eval "$phase"
  done
}
