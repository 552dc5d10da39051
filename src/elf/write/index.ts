// The ELF writer layer: encoders for every on-disk record (the layouts in ../structs.ts),
// string and hash table builders, space allocation and a reserve-then-write file builder.
// Pure: no I/O; imports only src/elf.
export * from "./encoder.js";
export * from "./hash-tables.js";
export * from "./string-table.js";
export * from "./allocator.js";
export * from "./file-builder.js";
