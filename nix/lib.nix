# abilink's Nix functions. Their dependencies are arguments, as with callPackage: in nixpkgs,
#   abilinkLib = callPackage ./nix/lib.nix { };
# and the end-to-end test (nix/tests/e2e.nix), which has no nixpkgs, calls this file with a
# minimal runCommand made from builtins.derivation (nix/tests/stdenv). Only builtins are used,
# so nothing else from nixpkgs is needed.
#
#   runCommand name env script: nixpkgs' runCommand (a stdenv build running `script`, with the
#     setup hooks of env.nativeBuildInputs sourced and their bin/ on PATH);
#   abilink: the abilink package (nix/package.nix), whose setup hook is nix/setup-hook.sh.
{ runCommand, abilink }:

let
  # "/nix/store/<hash>-NAME..." -> "NAME..."
  storePathName = p: builtins.substring (builtins.stringLength builtins.storeDir + 34) 4096 p;
  discard = p: builtins.unsafeDiscardStringContext (toString p);
  q = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  replaceArgs = pairs: builtins.concatStringsSep " " (map (r: "--replace ${q "${r.old}=${r.new}"}") pairs);
in
rec {
  # A stub package made from a committed manifest (`abilink abi --stable`): lib/SONAME, the
  # linkable, code-free stub, and lib/NAME.so for -lNAME. Its store path depends only on the
  # manifest's text and abilink, never on a build of the library, so a package linked against it
  # is not rebuilt when the library changes. Its setup hook puts lib/ on dependents' linker
  # search path (NIX_LDFLAGS, as cc-wrapper does for libraries in buildInputs);
  # nix-support/abilink-stub marks it as a stub for abilink's setup hook.
  mkAbiStub =
    { pname, manifest }:
    runCommand "${pname}-abi-stub"
      {
        nativeBuildInputs = [ abilink ];
        inherit manifest;
      }
      ''
        mkdir -p "$out/lib" "$out/nix-support"
        abilink stub "$manifest" --out-dir "$out/lib"
        soname=$(sed -n 's/^soname //p' "$manifest")
        hash=$(abilink hash "$manifest")
        hash=''${hash%% *}
        case $soname in
          *.so.*) ln -s "$soname" "$out/lib/''${soname%%.so.*}.so" ;;
        esac
        echo "$soname $hash" > "$out/nix-support/abilink-stub"
        cat > "$out/nix-support/setup-hook" <<EOF
        # mkAbiStub: the stub's lib/ on the linker's search path of dependents
        if [[ " \''${NIX_LDFLAGS-} " != *" -L$out/lib "* ]]; then
          export NIX_LDFLAGS="\''${NIX_LDFLAGS-}\''${NIX_LDFLAGS:+ }-L$out/lib"
        fi
        EOF
        echo "stub $soname ($hash) from $manifest"
      '';

  # The CI guard: fails, with `abilink diff`'s report in the log, when `lib` (a package with
  # lib/SONAME, or `path` in it) no longer provides `manifest`; passes with the report (in
  # $out/report) when it is equal or a compatible change.
  abiCheck =
    {
      lib,
      manifest,
      path ? null,
    }:
    runCommand "${lib.name or "library"}-abi-check"
      {
        nativeBuildInputs = [ abilink ];
        inherit manifest;
        library = if path == null then lib else "${lib}/${path}";
        libraryIsFile = if path == null then "" else "1";
      }
      ''
        file=$library
        if [[ -z $libraryIsFile ]]; then
          file=$library/lib/$(sed -n 's/^soname //p' "$manifest")
        fi
        status=0
        abilink diff "$manifest" "$file" > report || status=$?
        cat report
        case $status in
          0) echo "abiCheck: $file provides $manifest (equal)" ;;
          4) echo "abiCheck: $file provides $manifest (compatible changes above)" ;;
          12) echo "abiCheck: $file no longer provides $manifest: incompatible changes above" >&2; exit 1 ;;
          *) echo "abiCheck: abilink diff failed (exit $status)" >&2; exit 1 ;;
        esac
        mkdir -p "$out"
        cp report "$out/report"
      '';

  # `abilink table` as a derivation: `libs` are library files ("${zlib}/lib/libz.so.1");
  # `expect` manifests each library of that SONAME must provide (refused otherwise).
  mkIndirectionTable =
    {
      name,
      libs,
      expect ? [ ],
    }:
    runCommand name
      {
        nativeBuildInputs = [ abilink ];
        inherit libs expect;
      }
      ''
        args=()
        for m in $expect; do args+=(--expect "$m"); done
        abilink table --out "$out" "''${args[@]}" $libs
      '';

  # The cheap last step of a package built against stubs: each output of `drv` copied with
  # `abilink relink --out`, its stub references (nix-support/abilink-stubs, written by the setup
  # hook in the fixup phase) moved to the table that has each SONAME, its references to drv's
  # other outputs to this derivation's. The tables are inputs here, so Nix records the references
  # and keeps them alive; the stubs are not referenced any more: afterwards, an output that still
  # holds a stub's hash (what Nix's reference scan finds: any file's bytes, a link's target)
  # fails the build, and so does a drv none of whose outputs has the record (built without the
  # hook's fixup: runCommand, dontFixup, dontAbilink). Output names, store path names, `meta` and
  # `passthru` are drv's. `checkPhase` runs afterwards: the package's tests, which could not run
  # against stubs.
  relinkPackage =
    {
      drv,
      tables,
      checkPhase ? "",
    }:
    let
      outputs = drv.outputs or [ "out" ];
    in
    runCommand drv.name
      (
        {
          nativeBuildInputs = [ abilink ];
          inherit outputs tables checkPhase;
          # the closure of each unlinked output: the stubs among its paths are the ones to check for
          exportReferencesGraph = builtins.concatLists (map (o: [ "unlinked-references-${o}" drv.${o} ]) outputs);
          meta = drv.meta or { };
          passthru = drv.passthru or { };
        }
        // builtins.listToAttrs (map (o: { name = "unlinked_${o}"; value = drv.${o}; }) outputs)
      )
      ''
        recorded=""
        for o in $outputs; do
          src_var=unlinked_$o
          [[ -e ''${!src_var}/nix-support/abilink-stubs ]] && recorded=1
        done
        if [[ -z $recorded ]]; then
          echo "relinkPackage: no output of $name has nix-support/abilink-stubs, the record abilink's setup hook writes in the fixup phase:" >&2
          echo "relinkPackage: build it with abilink in nativeBuildInputs and a fixup phase (not a runCommand, nor dontFixup or dontAbilink); a package that links against no stub needs no relinkPackage" >&2
          exit 1
        fi

        for o in $outputs; do
          src_var=unlinked_$o
          src=''${!src_var}
          args=()
          for other in $outputs; do
            [[ $other == "$o" ]] && continue
            other_src=unlinked_$other
            args+=(--replace "''${!other_src}=''${!other}")
          done
          declare -A seen=()
          if [[ -e $src/nix-support/abilink-stubs ]]; then
            while read -r stublib hash; do
              soname=''${stublib##*/}
              stubdir=''${stublib%/*}
              table=""
              for t in $tables; do
                for e in "$t"/lib/elf*/"$soname"; do
                  [[ -e $e ]] && table=$t && break 2
                done
              done
              if [[ -z $table ]]; then
                echo "relinkPackage: no table has $soname (stub $stublib, $hash)" >&2
                exit 1
              fi
              echo "relinkPackage: $o: $soname ($hash): $stubdir -> $table"
              if [[ -z ''${seen[$stubdir]-} ]]; then
                seen[$stubdir]=1
                args+=(--replace "$stubdir=$table")
              fi
            done < "$src/nix-support/abilink-stubs"
          else
            echo "relinkPackage: $o: no stub recorded"
          fi
          unset seen
          # | cat: Nix gives builders a terminal, where relink would draw its progress bar
          abilink relink "$src" --out "''${!o}" "''${args[@]}" 2>&1 | cat
          if [[ -e ''${!o}/nix-support/abilink-stubs ]]; then
            chmod u+w "''${!o}/nix-support"
            rm "''${!o}/nix-support/abilink-stubs"
            echo "relinkPackage: $o: the record nix-support/abilink-stubs removed from the copy (its remaining reference above goes with it)"
          fi
        done

        # no stub may be left: Nix would not see it (the stubs are no input here) and the program
        # would load it, or fail to, at run time
        declare -A stubs=()
        for graph in unlinked-references-*; do
          while read -r p; do
            [[ $p == "$NIX_STORE"/* && -e $p/nix-support/abilink-stub ]] && stubs[$p]=1
          done < "$graph"
        done
        left=()
        for o in $outputs; do
          for stub in "''${!stubs[@]}"; do
            hashPart=''${stub#"$NIX_STORE"/}
            hashPart=''${hashPart:0:32}
            while IFS= read -r f; do
              left+=("$f refers to the stub $stub")
            done < <(grep -r -l -a -F -e "$hashPart" "''${!o}" || true)
            while IFS= read -r f; do
              left+=("$f (a symbolic link) points into the stub $stub")
            done < <(find "''${!o}" -type l -lname "*$hashPart*")
          done
        done
        if ((''${#left[@]} > 0)); then
          echo "relinkPackage: the relinked outputs still refer to stubs:" >&2
          printf 'relinkPackage:   %s\n' "''${left[@]}" >&2
          echo "relinkPackage: relink moves a stub reference only where the setup hook recorded it and, outside the ELF dynamic fields (scripts, strings, links), only to a table path of the same length (the remaining references listed above); refer to the library through the ELF files' RUNPATH, or build the file against the real library" >&2
          exit 1
        fi

        if [[ -n $checkPhase ]]; then
          echo "relinkPackage: running checkPhase"
          eval "$checkPhase"
        fi
      '';

  # Deployment-time relinking of drv's closure (the glibc case): every store path of it that
  # refers, directly or through others, to an oldDependency gets its own derivation,
  # `abilink relink PATH --out $out` with the replacements and the other relinked paths, under
  # the same name; references follow the new paths. With --strict: a reference relink cannot
  # move (a script, string or link naming an oldDependency whose newDependency's path has another
  # length) fails that derivation with the file and offset, rather than leaving the old
  # dependency in use. `replacements` is
  # [ { oldDependency = ...; newDependency = ...; } ], as for nixpkgs' replaceDependencies.
  # Finding the closure is import-from-derivation (exportReferencesGraph, then readFile),
  # and the paths found become inputs through builtins.storePath: Hydra's restricted and pure
  # evaluation modes forbid both. Each path is relinked once (an attribute set memoizes them).
  relinkClosure =
    { drv, replacements }:
    let
      graphJson = runCommand "${drv.name}-references.json" { exportReferencesGraph = [ "graph" drv ]; } ''
        first=1
        {
          echo "{"
          while read -r path; do
            read -r deriver
            read -r count
            refs=()
            for ((i = 0; i < count; i++)); do read -r ref; refs+=("\"$ref\""); done
            [[ -n $first ]] || echo ","
            first=""
            (IFS=,; echo "\"$path\": [''${refs[*]}]")
          done < graph
          echo "}"
        } > "$out"
      '';
      graph = builtins.fromJSON (builtins.unsafeDiscardStringContext (builtins.readFile graphJson));
      olds = builtins.listToAttrs (map (r: { name = discard r.oldDependency; value = r.newDependency; }) replacements);
      directRefs = p: builtins.filter (r: r != p) graph.${p};
      affected = builtins.mapAttrs (
        p: _: !(olds ? ${p}) && builtins.any (r: olds ? ${r} || affected.${r}) (directRefs p)
      ) graph;
      relinked = builtins.mapAttrs (p: _: if affected.${p} then relinkOne p else builtins.storePath p) graph;
      relinkOne =
        p:
        let
          pairs =
            map (r: { old = discard r.oldDependency; new = r.newDependency; }) replacements
            ++ map (r: { old = r; new = relinked.${r}; }) (builtins.filter (r: affected.${r}) (directRefs p));
        in
        runCommand (storePathName p)
          {
            nativeBuildInputs = [ abilink ];
            src = builtins.storePath p;
            inputs = map (x: x.new) pairs;
          }
          ''
            # --strict: a reference relink cannot move (outside the ELF dynamic fields, to a NEW
            # of another length) fails the build with its file and offset, instead of a result
            # that still uses the old dependency
            status=0
            abilink relink "$src" --out "$out" --strict ${replaceArgs pairs} > relink.log 2>&1 || status=$?
            cat relink.log
            if ((status != 0)); then
              echo "relinkClosure: abilink relink $src failed (exit $status, its report above)" >&2
              exit "$status"
            fi
          '';
    in
    relinked.${discard drv};
}
