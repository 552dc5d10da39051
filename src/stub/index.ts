// Stubs: linkable, code-free ELF shared objects built from a manifest (README, "abilink stub").
export { buildStub, STUB_SKEW } from "./build.js";
export { layoutData, type DataKind, type SectionData } from "./data-layout.js";
export { looksLikeLinkerScript, rewriteScript, scriptInputs, type ScriptInput } from "./linker-script.js";
