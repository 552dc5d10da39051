// The demo's commands: each printed as a shell line (`$ abilink …`, `$ gcc …`, `$ ./prog`)
// before its output, run for real as a child process, and recorded for --json. Paths under the
// demo's directory print as `$D/…`, so the transcript reads the same on every run.
import { execa, type ResultPromise } from "execa";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { DemoError } from "../errors.js";

/** The package's root: commands run there, so `demo/libdemo.c` and `demo/libdemo.abi` are its files. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const ABILINK = `${PACKAGE_ROOT}/bin/abilink`;

/** One command the demo ran. */
export interface DemoCommand {
  step: number;
  /** The real command line (abilink's: node, bin/abilink, its arguments). */
  argv: string[];
  /** As printed, without the `$ `. */
  shown: string;
  exitCode: number;
  seconds: number;
  /** The PATH it ran with, when the demo set one (step 3: no compiler on it). */
  path?: string;
}

export interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface RunOptions {
  /** The statuses that are not a failure of the demo (default: 0). */
  expect?: number[];
  env?: Record<string, string>;
  /** Text appended to the printed line (a pipe the demo applies to the output itself). */
  suffix?: string;
  /** What to print of the output (default: stdout and stderr as they came). */
  show?: (r: Ran) => string;
}

/** A promise that never settles: where the demo's steps wait once it is stopped. */
const HALT = new Promise<never>(() => {});

export class Session {
  step = 0;
  readonly commands: DemoCommand[] = [];
  /** The PATH every command gets, when set (step 3). */
  path: string | undefined;
  /** The command running now (one at a time), until it ends. */
  private running: ResultPromise | null = null;
  /** Set by stop(): no command starts or returns after it (the demo goes no further). */
  private stopped = false;

  constructor(
    /** The demo's directory (`$D`). */
    readonly dir: string,
    private readonly print: ((text: string) => void) | null,
  ) {}

  /** Text with the demo's directory written `$D`. */
  short(text: string): string {
    return text.split(this.dir).join("$D");
  }

  /** TEXT as a line or lines of the transcript (`$D` for the directory unless RAW). */
  write(text: string, raw = false): void {
    if (this.print && text !== "") this.print((raw ? text : this.short(text)).replace(/\n?$/, "\n"));
  }

  /** A comment in the transcript. */
  say(text: string): void {
    this.write(text.split("\n").map((l) => `# ${l}`).join("\n"));
  }

  heading(step: number, title: string): void {
    this.step = step;
    this.write(`\n== ${step}. ${title}`);
  }

  abilink(args: string[], opts: RunOptions = {}): Promise<Ran> {
    return this.run([process.execPath, ABILINK, ...args], ["abilink", ...args], opts);
  }

  /** Runs `argv` (printed as `shown`) in the package root; a status outside `expect` fails the demo. */
  async run(argv: string[], shown: string[] = argv, opts: RunOptions = {}): Promise<Ran> {
    const env = { ...opts.env, ...(this.path === undefined ? {} : { PATH: this.path }) };
    const line = [...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${quote(this.short(v))}`), ...shown.map((a) => quote(this.short(a)))].join(" ");
    if (this.stopped) await HALT;
    this.write(`$ ${line}${opts.suffix ?? ""}`);
    const started = performance.now();
    // detached: a process group of its own, so stop() ends gcc's cc1 and ld with it.
    this.running = execa(argv[0]!, argv.slice(1), { cwd: PACKAGE_ROOT, env, reject: false, stripFinalNewline: false, stdin: "ignore", all: true, detached: true });
    const r = await this.running;
    this.running = null;
    if (this.stopped) await HALT;
    const ran: Ran = { exitCode: r.exitCode ?? 127, stdout: String(r.stdout), stderr: String(r.stderr), seconds: (performance.now() - started) / 1000 };
    this.commands.push({ step: this.step, argv, shown: this.short(line), exitCode: ran.exitCode, seconds: ran.seconds, ...(this.path === undefined ? {} : { path: this.path }) });
    if (r.exitCode === undefined) throw new DemoError(`step ${this.step}: ${shown[0]}: ${r.code === "ENOENT" ? "not found" : r.shortMessage}`);
    this.write(opts.show ? opts.show(ran) : String(r.all));
    if (!(opts.expect ?? [0]).includes(ran.exitCode)) {
      // The line that says why: gcc's first error (its last line is "compilation terminated."), else the last.
      const lines = ran.stderr.trim().split("\n");
      const why = (lines.find((l) => /\berror\b/.test(l)) ?? lines.at(-1) ?? "").replace(/^abilink: /, "");
      const what = shown[0] === "abilink" ? `abilink ${shown[1]}` : basename(shown[0]!);
      throw new DemoError(this.short(`step ${this.step}: ${what} exited ${ran.exitCode}${why ? `: ${why}` : ""}`));
    }
    if (ran.exitCode !== 0) this.say(`exit ${ran.exitCode}`);
    return ran;
  }

  /**
   * Ends the running command's process group, if any, and waits for it (nothing more writes to
   * the directory): SIGTERM first, so gcc removes its temporary files from TMPDIR, then SIGKILL
   * after a second. No command starts or returns after it.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.running;
    if (child?.pid === undefined) return;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // the group has ended
      }
    };
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 1000);
    await child;
    clearTimeout(timer);
  }
}

/** A shell word: as it is when it is safe, else in double quotes (so `$D` still expands). */
export function quote(arg: string): string {
  if (/^[\w@%+=:,./$-]+$/.test(arg)) return arg;
  return `"${arg.replace(/["\\`]/g, (c) => `\\${c}`)}"`;
}
