import { writeSync } from "node:fs";
import { describeFailure } from "../errors.js";
import { escapeText } from "../io/paths.js";

let stdoutGone = false;

/**
 * Writes to stdout synchronously, so that output is complete before the process exits,
 * looping over partial writes (a pipe takes what fits). When the reader has gone away
 * (`abilink diff … | head -1`), the rest of the output is dropped and the command goes on:
 * it finishes its work and keeps its exit status (see `outputLost`).
 */
export function out(text: string): void {
  if (stdoutGone) return;
  const buf = Buffer.from(text);
  let done = 0;
  while (done < buf.length) {
    try {
      done += writeSync(1, buf, done, buf.length - done);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") {
        stdoutGone = true;
        return;
      }
      if (code !== "EAGAIN") throw e;
    }
  }
}

/** True once stdout's reader went away: a command that changed files could not report them all. */
export const outputLost = (): boolean => stdoutGone;

/** One line on stderr: `abilink: <subject>: <message>`, control characters and raw bytes escaped. */
export function warn(subject: string, message: string): void {
  try {
    process.stderr.write(`abilink: ${escapeText(subject)}: ${escapeText(message)}\n`);
  } catch {
    // stderr gone too: nothing left to tell
  }
}

/** One line on stderr about error `e` while working on `input`, naming the path at fault (see describeFailure). */
export function warnError(input: string, e: unknown): void {
  const { subject, message } = describeFailure(input, e);
  warn(subject, message);
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

/**
 * The JSON convention of every command: one JSON value per line (JSON Lines) for
 * per-file results, and a command with one result prints one such line.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value) + "\n";
}

/** `1 change`, `2 changes`: a count and its noun. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
