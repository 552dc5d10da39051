// GNU ld's "implicit" linker scripts, such as glibc's libc.so:
//   OUTPUT_FORMAT(elf64-x86-64)
//   GROUP ( /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc_nonshared.a
//           AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 ) )
// The files a GROUP or INPUT names (inside AS_NEEDED too), found by position so that a copy
// of the script can name other files and keep everything else byte for byte. No I/O.

/** One file named by the script, and where its name is in the text. */
export interface ScriptInput {
  path: string;
  start: number;
  end: number;
}

/** The commands whose parenthesised lists name input files. */
const FILE_LISTS = new Set(["GROUP", "INPUT", "AS_NEEDED"]);

/**
 * Whether `text` is a linker script rather than anything else that is not ELF: printable
 * text with a GROUP or INPUT command. glibc's start with "/* GNU ld script".
 */
export function looksLikeLinkerScript(text: string): boolean {
  if (text.includes("\0")) return false;
  const bare = text.replace(/\/\*[\s\S]*?\*\//g, " ");
  return /(^|[\s;)])(GROUP|INPUT)\s*\(/.test(bare);
}

/**
 * The input files of a linker script, in order. `-lNAME` entries (searched for by the
 * linker) are not files and are left out. Throws Error with a reason for unbalanced
 * parentheses or an unterminated comment.
 */
export function scriptInputs(text: string): ScriptInput[] {
  const out: ScriptInput[] = [];
  // The command each open parenthesis belongs to.
  const stack: string[] = [];
  let i = 0;
  let word: { text: string; start: number } | null = null;
  // The last word, which names the command of a "(" that follows it.
  let pending = "";
  const endWord = (at: number) => {
    if (!word) return;
    const inList = stack.length > 0 && FILE_LISTS.has(stack[stack.length - 1]!);
    const next = text.slice(at).match(/^\s*\(/);
    if (inList && !next && !FILE_LISTS.has(word.text) && !word.text.startsWith("-l")) out.push({ path: word.text, start: word.start, end: at });
    pending = word.text;
    word = null;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "*") {
      endWord(i);
      const close = text.indexOf("*/", i + 2);
      if (close < 0) throw new Error("a comment is not closed");
      i = close + 2;
      continue;
    }
    if (c === "(") {
      endWord(i);
      stack.push(pending);
      pending = "";
      i++;
      continue;
    }
    if (c === ")") {
      endWord(i);
      if (stack.length === 0) throw new Error(`an unmatched ")" at offset ${i}`);
      stack.pop();
      i++;
      continue;
    }
    if (/\s|,|;/.test(c)) {
      endWord(i);
      i++;
      continue;
    }
    if (c === '"') {
      endWord(i);
      const close = text.indexOf('"', i + 1);
      if (close < 0) throw new Error("a quoted name is not closed");
      word = { text: text.slice(i + 1, close), start: i };
      i = close + 1;
      endWord(i);
      continue;
    }
    if (!word) word = { text: "", start: i };
    word.text += c;
    i++;
  }
  endWord(i);
  if (stack.length > 0) throw new Error('a "(" is not closed');
  return out;
}

/** The script with some of its inputs renamed (`renamed.get(path)`), everything else as it was. */
export function rewriteScript(text: string, inputs: readonly ScriptInput[], renamed: ReadonlyMap<string, string>): string {
  let out = "";
  let at = 0;
  for (const inp of inputs) {
    const to = renamed.get(inp.path);
    if (to === undefined) continue;
    // Quoted when ld would read it otherwise: spaces, parentheses, commas, a comment's start.
    out += text.slice(at, inp.start) + (/[\s()",;]|\/\*/.test(to) ? `"${to}"` : to);
    at = inp.end;
  }
  return out + text.slice(at);
}
