# abilink packaged the nixpkgs way: callPackage ./nix/package.nix { }.
# npmDepsHash is the hash of the npm dependencies of package-lock.json as prefetch-npm-deps
# fetches them; it could not be computed where this was written (no nixpkgs offline), so it is
# lib.fakeHash: the first build fails and prints the right value (README, "Using abilink with
# Nix", says how to refresh it).
{
  lib,
  buildNpmPackage,
  nodejs,
}:

buildNpmPackage {
  pname = "abilink";
  version = (lib.importJSON ../package.json).version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../binding.gyp
      ../bin
      ../src
      ../native
      ../scripts
      ../demo
    ];
  };

  npmDepsHash = lib.fakeHash;
  # nixpkgs' default node; `abilink.override { nodejs = …; }` picks another
  inherit nodejs;

  # node-gyp builds the fs-xattr addon (npm rebuild, in npmConfigHook) and our own
  # native/abilink-io.c (the package's install script, run here); buildNpmPackage brings the
  # python it needs
  postBuild = ''
    npm run install
  '';
  # npm pack (npmInstallHook) copies package.json's "files", which do not name the built addon
  postInstall = ''
    mkdir -p "$out/lib/node_modules/abilink/build/Release"
    cp build/Release/abilink_io.node "$out/lib/node_modules/abilink/build/Release/"
  '';

  # builds that link against stubs take abilink in nativeBuildInputs and get this hook
  setupHook = ./setup-hook.sh;

  meta = {
    description = "Shared-library indirection for ELF systems: ABI manifests, stubs, relinking without recompiling";
    license = lib.licenses.mit;
    mainProgram = "abilink";
    platforms = lib.platforms.linux;
  };
}
