# abilink for Nix users without flakes:
#   nix-build -A abilink
#   let a = import ./path/to/abilink { inherit pkgs; }; in a.lib.mkAbiStub { ... }
{
  pkgs ? import <nixpkgs> { },
}:
let
  abilink = pkgs.callPackage ./nix/package.nix { };
in
{
  inherit abilink;
  # the setup hook alone is part of the package (abilink in nativeBuildInputs)
  setupHook = ./nix/setup-hook.sh;
  lib = import ./nix/lib.nix {
    inherit (pkgs) runCommand;
    inherit abilink;
  };
}
