# A minimal stand-in for what nix/lib.nix needs from nixpkgs, made from builtins.derivation and
# the host's tools (nixpkgs is not available offline): runCommand, and abilink itself as a
# package whose bin/abilink runs this checkout's build with the host's node. Impure by design:
# /bin/bash, gcc, coreutils, node and the checkout are absolute paths outside the store, so the
# builds need `--option sandbox false`. `salt` goes into every derivation, so each test run
# builds everything afresh.
{
  repo,
  node,
  salt ? "",
  path ? "/usr/local/bin:/usr/bin:/bin",
  system ? builtins.currentSystem,
}:
rec {
  runCommand =
    name: env: buildCommand:
    let
      drv = derivation (
        removeAttrs env [ "passthru" ]
        // {
          inherit name system buildCommand;
          builder = "/bin/bash";
          args = [ "-c" "source ${./setup.sh}; genericBuild" ];
          PATH = path;
          NIX_STORE = builtins.storeDir;
          abilinkTestSalt = salt;
        }
      );
    in
    drv // (env.passthru or { });

  # abilink as nix/package.nix would give it: bin/abilink and nix-support/setup-hook
  abilink = runCommand "abilink" { } ''
    mkdir -p "$out/bin" "$out/nix-support"
    printf '#!/bin/sh\nexec %s %s/bin/abilink "$@"\n' ${node} ${repo} > "$out/bin/abilink"
    chmod +x "$out/bin/abilink"
    cp ${../../setup-hook.sh} "$out/nix-support/setup-hook"
  '';
}
