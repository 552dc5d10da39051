# A minimal stand-in for what nix/lib.nix and the tests need from nixpkgs, made from
# builtins.derivation and the host's tools (nixpkgs is not available offline): runCommand (a
# `buildCommand` and nothing else, as nixpkgs' genericBuild does with one), mkDerivation (the
# phases: prePhases, buildPhase, installPhase, fixupPhase, so setup hooks act in fixup as they
# do in nixpkgs), and abilink itself as a package whose bin/abilink runs this checkout's build
# with the host's node. Both keep `meta` and `passthru` out of the derivation's environment and
# put them on the result, as nixpkgs' mkDerivation does. Impure by design: /bin/bash, gcc,
# coreutils, node and the checkout are absolute paths outside the store, so the builds need
# `--option sandbox false`. `salt` goes into every derivation, so each test run builds
# everything afresh.
{
  repo,
  node,
  salt ? "",
  path ? "/usr/local/bin:/usr/bin:/bin",
  system ? builtins.currentSystem,
}:
rec {
  mkDerivation =
    attrs:
    let
      drv = derivation (
        removeAttrs attrs [
          "passthru"
          "meta"
        ]
        // {
          name = attrs.name or "${attrs.pname}-${attrs.version}";
          inherit system;
          builder = "/bin/bash";
          args = [
            "-c"
            "source ${./setup.sh}; genericBuild"
          ];
          PATH = path;
          NIX_STORE = builtins.storeDir;
          abilinkTestSalt = salt;
        }
      );
    in
    drv
    // {
      meta = attrs.meta or { };
      passthru = attrs.passthru or { };
    }
    // (attrs.passthru or { });

  runCommand = name: env: buildCommand: mkDerivation (env // { inherit name buildCommand; });

  # abilink as nix/package.nix would give it: bin/abilink and nix-support/setup-hook
  abilink = runCommand "abilink" { } ''
    mkdir -p "$out/bin" "$out/nix-support"
    printf '#!/bin/sh\nexec %s %s/bin/abilink "$@"\n' ${node} ${repo} > "$out/bin/abilink"
    chmod +x "$out/bin/abilink"
    cp ${../../setup-hook.sh} "$out/nix-support/setup-hook"
  '';
}
