export * from "./edits.js";
export * from "./plan.js";
export * from "./write.js";
export * from "./patch-file.js";
