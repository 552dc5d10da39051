export * from "./edits.js";
export * from "./plan.js";
export * from "./patch-file.js";
export * from "./patchelf.js";
