import { writeSync } from "node:fs";

/**
 * Writes to stdout synchronously, so that output is complete before the process exits,
 * looping over partial writes (a pipe takes what fits), and stops quietly when the
 * reader has gone away (`abilink scan … | head`).
 */
export function out(text: string): void {
  const buf = Buffer.from(text);
  let done = 0;
  while (done < buf.length) {
    try {
      done += writeSync(1, buf, done, buf.length - done);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") process.exit(0);
      if (code !== "EAGAIN") throw e;
    }
  }
}

/** One line on stderr: `abilink: <subject>: <message>`. */
export function warn(subject: string, message: string): void {
  process.stderr.write(`abilink: ${subject}: ${message}\n`);
}

/**
 * A one-line running status on stderr, shown only when stderr is a terminal and
 * redrawn at most every 100 ms; `done()` erases it.
 */
export class StatusLine {
  private last = 0;
  private shown = false;
  private readonly enabled = process.stderr.isTTY === true;

  update(text: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    process.stderr.write(`\r\x1b[2K${text}`);
  }

  done(): void {
    if (this.shown) process.stderr.write("\r\x1b[2K");
    this.shown = false;
  }
}
