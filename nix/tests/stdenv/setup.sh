# shellcheck shell=bash
# A minimal stand-in for nixpkgs' stdenv setup (pkgs/stdenv/generic/setup.sh), for the tests:
# nixpkgs is not available offline. It keeps what abilink's hook relies on, with the same
# semantics: dependencies' nix-support/setup-hook sourced first (nativeBuildInputs with
# hostOffset=-1 targetOffset=0, buildInputs with hostOffset=0 targetOffset=1; a buildInputs'
# bin/ on PATH only without strictDeps); then genericBuild: a `buildCommand` is evaluated and
# nothing else runs (no prePhases, no fixup), as in nixpkgs; otherwise the phases in order
# ($phases, or prePhases, buildPhase, installPhase, fixupPhase), a phase given as a string
# attribute being evaluated instead of the function. runHook runs the implicit hook (a function
# or a string variable) and then each entry of the *Hooks array, an entry being a function name
# or a string to eval; fixupPhase runs fixupOutputHooks once per output with $prefix set, then
# postFixup. With __structuredAttrs, .attrs.sh gives arrays for lists and an associative array
# for outputs. appendToVar is defined unless fakeStdenvNoAppendToVar is set (an older stdenv,
# for the hook's fallback). Nothing here is nixpkgs code.
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

if [[ -z ${fakeStdenvNoAppendToVar-} ]]; then
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
fi

getAllOutputNames() {
  if [[ -n ${__structuredAttrs-} ]]; then
    echo "${!outputs[*]}"
  else
    echo "$outputs"
  fi
}

# The words of a list attribute (an array with __structuredAttrs, a string without).
_words() {
  if [[ "$(declare -p "$1" 2>/dev/null)" == "declare -a"* ]]; then
    eval 'echo ${'"$1"'[@]+"${'"$1"'[@]}"}'
  else
    echo "${!1-}"
  fi
}

# dependencies: bin/ on PATH, setup hooks sourced with the offsets of their role
_activate() {
  local dep=$1 offsets=$2 onPath=$3 hostOffset targetOffset
  [[ -n $onPath && -d $dep/bin ]] && PATH="$dep/bin:$PATH"
  if [[ -e $dep/nix-support/setup-hook ]]; then
    read -r hostOffset targetOffset <<<"$offsets"
    # shellcheck disable=SC1091
    source "$dep/nix-support/setup-hook"
  fi
  return 0
}
for _dep in $(_words nativeBuildInputs); do _activate "$_dep" "-1 0" 1; done
for _dep in $(_words buildInputs); do _activate "$_dep" "0 1" "$([[ -n ${strictDeps-} ]] || echo 1)"; done
unset _dep
export PATH

_runPhase() {
  echo "running $1"
  if [[ -n ${!1-} ]]; then
    eval "${!1}"
  else
    _eval "$1"
  fi
}

buildPhase() {
  runHook preBuild
  runHook postBuild
}

installPhase() {
  runHook preInstall
  runHook postInstall
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
  if [[ -n ${buildCommand-} ]]; then
    echo "running buildCommand"
    eval "$buildCommand"
    return
  fi
  # shellcheck disable=SC2048
  for phase in ${phases[*]-${prePhases[*]-} buildPhase installPhase fixupPhase}; do
    _runPhase "$phase"
  done
}
