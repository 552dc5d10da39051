// `abilink relink ROOT --out DIR --replace OLD=NEW... --json`, as the demo runs it: the JSON's
// plan, ABI check and summary printed as text, and its numbers kept for the demo's summary.
import { existsSync, statSync } from "node:fs";
import type { Session } from "./session.js";

/** What one relink did (from its --json), and how long it took. */
export interface Relinked {
  root: string;
  out: string;
  exitCode: number;
  written: boolean;
  rewritten: number;
  copied: number;
  bytesGrown: number;
  /** The size of the files it rewrote, as written to DIR. */
  bytesWritten: number;
  seconds: number;
  /** The files the ABI check refused, each problem as `KIND SUBJECT`. */
  refused: { path: string; problems: string[] }[];
}

interface RelinkJson {
  files: { kind: string; path: string; changes?: string[] }[];
  checked: number;
  failures: { path: string; problems: { kind: string; subject: string; detail: string }[] }[];
  unchecked: { path: string; why: string }[];
  summary: { rewritten: number; copied: number; bytesGrown: number };
  written: number;
}

/** ROOT relinked into the new store path OUT; EXPECT the statuses that do not fail the demo. */
export async function relinkOut(s: Session, root: string, out: string, replace: [string, string][], expect = [0]): Promise<Relinked> {
  let doc: RelinkJson | null = null;
  const r = await s.abilink(["relink", root, "--out", out, ...replace.flatMap(([a, b]) => ["--replace", `${a}=${b}`]), "--json"], {
    expect,
    show: (ran) => {
      try {
        doc = JSON.parse(ran.stdout) as RelinkJson;
      } catch {
        return ran.stdout + ran.stderr;
      }
      return render(doc, out) + ran.stderr;
    },
  });
  const d = doc as RelinkJson | null;
  const rewrites = d?.files.filter((f) => f.kind === "rewrite") ?? [];
  const written = r.exitCode === 0 && existsSync(out);
  return {
    root,
    out,
    exitCode: r.exitCode,
    written,
    rewritten: d?.summary.rewritten ?? 0,
    copied: d?.summary.copied ?? 0,
    bytesGrown: d?.summary.bytesGrown ?? 0,
    bytesWritten: written ? rewrites.reduce((n, f) => n + statSync(out + f.path.slice(root.length)).size, 0) : 0,
    seconds: r.seconds,
    refused: (d?.failures ?? []).map((f) => ({ path: f.path, problems: f.problems.map((p) => `${p.kind} ${p.subject}`) })),
  };
}

function render(d: RelinkJson, out: string): string {
  const lines: string[] = [];
  for (const f of d.files) if (f.kind === "rewrite") lines.push(`rewrite ${f.path}: ${(f.changes ?? []).join("; ")}`);
  for (const u of d.unchecked) lines.push(`unchecked ${u.path}: ${u.why}`);
  for (const f of d.failures) {
    lines.push(`ABI check refuses ${f.path}:`);
    for (const p of f.problems) lines.push(`  ${p.kind} ${p.subject}: ${p.detail}`);
  }
  const did = d.failures.length > 0 ? "nothing written" : `written to ${out}`;
  lines.push(`ABI check: ${d.checked} checked, ${d.failures.length} refused; ${d.summary.rewritten} rewritten, ${d.summary.copied} copied unchanged, ${d.summary.bytesGrown} bytes grown; ${did}`);
  return lines.join("\n") + "\n";
}
