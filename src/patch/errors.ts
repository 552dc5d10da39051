/** An edit that cannot be made to this file; the file is left untouched. */
export class PatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatchError";
  }
}
