import { execa } from "execa";

/** What GNU readelf says about a file, parsed from `readelf -W -h -l -d --dyn-syms`. */
export interface ReadelfView {
  class: 32 | 64 | null;
  machine: string | null;
  interpreter: string | null;
  soname: string | null;
  needed: string[];
  rpath: string[];
  runpath: string[];
  /** `name`, `name@V`, `name@@V` as readelf prints them, with bind/type/visibility/ndx. */
  symbols: { name: string; version: string | null; sep: "@" | "@@" | null; bind: string; type: string; vis: string; ndx: string; size: bigint }[];
  hasDynsym: boolean;
  /** From `-V`: null when readelf printed no such section. */
  verdef: { index: number; name: string; parents: string[] }[] | null;
  verneed: { file: string; versions: { name: string; index: number }[] }[] | null;
  stderr: string;
}

const field = String.raw`(<[^>]+>: \d+|\S+)`;
const symRow = new RegExp(String.raw`^\s*(\d+):\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+${field}\s+${field}\s+(DEFAULT|HIDDEN|INTERNAL|PROTECTED)(?:\s+\[[^\]]*\])?\s+(\S+)\s?(.*)$`);

export async function readelf(path: string, opts: { useDynamic?: boolean } = {}): Promise<ReadelfView> {
  // readelf -D combined with -d prints only the dynamic table, so symbols through -D are a separate call.
  const args = opts.useDynamic ? ["-W", "-D", "-s"] : ["-W", "-h", "-l", "-d", "-V", "--dyn-syms"];
  const r = await execa("readelf", [...args, path], { reject: false, env: { LC_ALL: "C" }, maxBuffer: 512 * 1024 * 1024 });
  return parseReadelf(r.stdout, r.stderr);
}

export function parseReadelf(out: string, stderr = ""): ReadelfView {
  const v: ReadelfView = {
    class: null,
    machine: null,
    interpreter: null,
    soname: null,
    needed: [],
    rpath: [],
    runpath: [],
    symbols: [],
    hasDynsym: false,
    verdef: null,
    verneed: null,
    stderr,
  };
  let inSyms = false;
  let section: "verdef" | "verneed" | null = null;
  for (const line of out.split("\n")) {
    let m: RegExpMatchArray | null;
    if (/^Version definition section/.test(line)) {
      section = "verdef";
      v.verdef = [];
      inSyms = false;
      continue;
    }
    if (/^Version needs section/.test(line)) {
      section = "verneed";
      v.verneed = [];
      inSyms = false;
      continue;
    }
    if (/^(Version symbols section|Symbol table|Dynamic section|Program Headers|ELF Header)/.test(line)) section = null;
    if (section === "verdef") {
      if ((m = line.match(/Index: (\d+)\s+Cnt: \d+\s+Name: (\S+)/))) v.verdef!.push({ index: Number(m[1]), name: m[2]!, parents: [] });
      else if ((m = line.match(/Parent \d+: (\S+)/))) v.verdef!.at(-1)?.parents.push(m[1]!);
      continue;
    }
    if (section === "verneed") {
      if ((m = line.match(/Version: \d+\s+File: (\S+)\s+Cnt: \d+/))) v.verneed!.push({ file: m[1]!, versions: [] });
      else if ((m = line.match(/Name: (\S+)\s+Flags: .*\s+Version: (\d+)/))) v.verneed!.at(-1)?.versions.push({ name: m[1]!, index: Number(m[2]) });
      continue;
    }
    if ((m = line.match(/^\s+Class:\s+ELF(32|64)/))) v.class = Number(m[1]) as 32 | 64;
    else if ((m = line.match(/^\s+Machine:\s+(.*)$/))) v.machine = m[1]!.trim();
    else if ((m = line.match(/\[Requesting program interpreter: (.*)\]$/))) v.interpreter = m[1]!;
    else if ((m = line.match(/\(NEEDED\)\s+Shared library: \[(.*)\]$/))) v.needed.push(m[1]!);
    else if ((m = line.match(/\(SONAME\)\s+Library soname: \[(.*)\]$/))) v.soname ??= m[1]!;
    else if ((m = line.match(/\(RPATH\)\s+Library rpath: \[(.*)\]$/))) v.rpath.push(...split(m[1]!));
    else if ((m = line.match(/\(RUNPATH\)\s+Library runpath: \[(.*)\]$/))) v.runpath.push(...split(m[1]!));
    else if (/^Symbol table '.*' contains \d+ entr/.test(line) || /^Symbol table for image/.test(line)) {
      inSyms = true;
      v.hasDynsym = true;
    } else if (inSyms && (m = line.match(symRow))) {
      if (m[1] === "0") continue;
      const full = m[8]!;
      let name = full;
      let version: string | null = null;
      let sep: "@" | "@@" | null = null;
      const vm = full.match(/^(.*?)(@@?)([^@\s]+)(?: \(\d+\))?$/);
      if (vm) {
        name = vm[1]!;
        sep = vm[2] as "@" | "@@";
        version = vm[3]!;
      }
      v.symbols.push({
        name,
        version,
        sep,
        size: BigInt(m[3]!),
        type: m[4]!,
        bind: m[5]!,
        vis: m[6]!,
        ndx: m[7]!,
      });
    }
  }
  return v;
}

function split(s: string): string[] {
  return s === "" ? [] : s.split(":");
}
