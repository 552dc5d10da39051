# The end-to-end test's expression (driven by test/nix/e2e.test.ts): nix/lib.nix called with the
# minimal stdenv of ./stdenv (builtins.derivation and the host toolchain, no nixpkgs).
#   version: which libfoo the build-time decoupling steps use ("1.0", "1.0.1" or "2.0");
#   repo, node: this checkout (built) and the node that runs it; salt: makes every path new.
{
  repo,
  node,
  salt ? "",
  version ? "1.0",
}:
let
  stdenv = import ./stdenv { inherit repo node salt; };
  inherit (stdenv) mkDerivation runCommand abilink;
  abilinkLib = import ../lib.nix { inherit runCommand abilink; };
  inherit (abilinkLib) mkAbiStub abiCheck mkIndirectionTable relinkPackage relinkClosure;

  mkLibfoo =
    {
      version,
      name ? "libfoo-${version}",
    }:
    runCommand name
      {
        src = ./src + "/libfoo-${version}.c";
        versionScript = ./src/libfoo.map;
      }
      ''
        cp "$src" source.c  # the store path of src would stay in the symbol table (STT_FILE)
        mkdir -p "$out/lib"
        gcc -shared -fPIC -Wl,-soname,libfoo.so.1 -Wl,--version-script,"$versionScript" -o "$out/lib/libfoo.so.1" source.c
        ln -s libfoo.so.1 "$out/lib/libfoo.so"
      '';

  # what ld-wrapper does for the -L directories of NIX_LDFLAGS: a RUNPATH entry for each
  linkFlags = ''
    rpath=()
    for f in ''${NIX_LDFLAGS-}; do
      case $f in -L*) rpath+=("-Wl,-rpath,''${f#-L}") ;; esac
    done
  '';
in
rec {
  # 1-3: build-time decoupling
  libfoo = mkLibfoo { inherit version; };
  manifest = ./src/libfoo.abi;
  stub = mkAbiStub {
    pname = "libfoo";
    inherit manifest;
  };
  # built as a nixpkgs package is: phases, abilink's setup hook acting in fixup
  mkApp =
    attrs:
    mkDerivation (
      {
        pname = "app";
        version = "0.1";
        src = ./src/app.c;
        nativeBuildInputs = [ abilink ];
        buildInputs = [ stub ];
        buildPhase = ''
          runHook preBuild
          ${linkFlags}
          cp "$src" source.c  # the store path of src would stay in the symbol table (STT_FILE)
          gcc -Wl,--enable-new-dtags -o app source.c $NIX_LDFLAGS "''${rpath[@]}" -lfoo
          runHook postBuild
        '';
        installPhase = ''
          runHook preInstall
          mkdir -p "$out/bin"
          cp app "$out/bin/app"
          runHook postInstall
        '';
        meta.mainProgram = "app";
        passthru.abilinkTest = "kept";
      }
      // attrs
    );
  appUnlinked = mkApp { };
  table = mkIndirectionTable {
    name = "libfoo-table";
    libs = [ "${libfoo}/lib/libfoo.so.1" ];
  };
  tableExpect = mkIndirectionTable {
    name = "libfoo-table-expect";
    libs = [ "${libfoo}/lib/libfoo.so.1" ];
    expect = [ manifest ];
  };
  app = relinkPackage {
    drv = appUnlinked;
    tables = [ table ];
    checkPhase = ''
      "$out/bin/app" | tee app-output
      [[ "$(cat app-output)" == "libfoo ${version} 42" ]]
    '';
  };
  check = abiCheck {
    lib = libfoo;
    inherit manifest;
  };

  # relinkPackage's refusals: no record (the hook's fixup did not run); a stub reference
  # relink cannot move (a text file in a second output naming the stub's lib/, whose table path
  # has another length)
  appNoRecord = relinkPackage {
    drv = mkApp { dontAbilink = true; };
    tables = [ table ];
  };
  appStubLeft = relinkPackage {
    drv = mkApp {
      outputs = [ "out" "doc" ];
      postInstall = ''
        mkdir -p "$doc/share/doc/app"
        echo "linked against ${stub}/lib" > "$doc/share/doc/app/build-info"
      '';
    };
    tables = [ table ];
  };

  # 4: deployment-time relinking of a closure built the usual way (no stubs)
  libfoo10 = mkLibfoo { version = "1.0"; };
  libfooFix = mkLibfoo {
    version = "1.0.1";
    name = "libfoo-1.0.1-security-fix";
  };
  libbar = runCommand "libbar-1.0" { src = ./src/libbar.c; } ''
    cp "$src" source.c  # the store path of src would stay in the symbol table (STT_FILE)
    mkdir -p "$out/lib"
    gcc -shared -fPIC -Wl,-soname,libbar.so.1 -Wl,--enable-new-dtags -o "$out/lib/libbar.so.1" source.c \
      -L${libfoo10}/lib -lfoo -Wl,-rpath,${libfoo10}/lib
    ln -s libbar.so.1 "$out/lib/libbar.so"
  '';
  tool = runCommand "tool-1.0" { src = ./src/tool.c; } ''
    cp "$src" source.c  # the store path of src would stay in the symbol table (STT_FILE)
    mkdir -p "$out/bin"
    gcc -Wl,--enable-new-dtags -o "$out/bin/tool" source.c \
      -L${libbar}/lib -lbar -Wl,-rpath,${libbar}/lib -L${libfoo10}/lib -lfoo -Wl,-rpath,${libfoo10}/lib
  '';
  # the closure's root: a program using libbar and libfoo, and a link to tool
  suite = runCommand "suite-1.0" { src = ./src/app.c; } ''
    cp "$src" source.c  # the store path of src would stay in the symbol table (STT_FILE)
    mkdir -p "$out/bin"
    gcc -Wl,--enable-new-dtags -o "$out/bin/app" source.c \
      -L${libbar}/lib -lbar -Wl,-rpath,${libbar}/lib -L${libfoo10}/lib -lfoo -Wl,-rpath,${libfoo10}/lib
    ln -s ${tool}/bin/tool "$out/bin/tool"
  '';
  suiteRelinked = relinkClosure {
    drv = suite;
    replacements = [
      {
        oldDependency = libfoo10;
        newDependency = libfooFix;
      }
    ];
  };
  # a wrapper naming libfoo 1.0's lib/ in a script: relink cannot move that reference to the
  # longer name, and --strict fails the wrapper's derivation
  wrapper = runCommand "wrapper-1.0" { } ''
    mkdir -p "$out/bin"
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/bin/tool "$@"\n' ${libfoo10} ${tool} > "$out/bin/w"
    chmod +x "$out/bin/w"
  '';
  wrapperRelinked = relinkClosure {
    drv = wrapper;
    replacements = [
      {
        oldDependency = libfoo10;
        newDependency = libfooFix;
      }
    ];
  };
}
