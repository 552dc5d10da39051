{
  description = "abilink: shared-library indirection for ELF systems (ABI manifests, stubs, relinking)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        abilink = pkgs.callPackage ./nix/package.nix { };
        default = abilink;
      });

      # abilinkLib.${system}.mkAbiStub and the others (nix/lib.nix); relinkClosure needs
      # import-from-derivation and builtins.storePath, which pure flake evaluation forbids
      lib = forAllSystems (
        pkgs:
        import ./nix/lib.nix {
          inherit (pkgs) runCommand;
          abilink = self.packages.${pkgs.stdenv.hostPlatform.system}.abilink;
        }
      );

      overlays.default = final: prev: {
        abilink = final.callPackage ./nix/package.nix { };
      };
    };
}
