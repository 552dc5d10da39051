#!/usr/bin/env python3
"""Observed alignment of the exported OBJECT and TLS symbols of ELF files.

Usage: observe-align.py FILE...   -> JSON on stdout: {FILE: {SYMBOL: {...}}}

SYMBOL is the name as `readelf -W --dyn-syms` prints it (`name@@VER`,
`name@VER` or `name`). The alignment is computed the way GNU ld's
_bfd_elf_adjust_dynamic_copy does for a copy relocation: start from the
containing section's sh_addralign and halve it while the symbol's offset in
that section is not a multiple of it. For TLS symbols st_value is an offset
in the TLS template, so the address is st_value + PT_TLS p_vaddr.
read_only is true when the section has no SHF_WRITE or lies inside
PT_GNU_RELRO (GNU ld then puts an executable's copy of the object in the
executable's own RELRO); for TLS symbols only SHF_WRITE counts.

Only readelf (binutils) and the Python standard library are needed.
"""
import json
import re
import subprocess
import sys


def readelf(*args):
    return subprocess.run(["readelf", "-W", *args], check=True,
                          capture_output=True, text=True).stdout


def sections(path):
    out = {}
    for line in readelf("-S", path).splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)"
                     r"\s+([0-9a-f]+)\s+([0-9a-f]+)\s+(\S*)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if m:
            out[int(m.group(1))] = {
                "name": m.group(2),
                "addr": int(m.group(4), 16),
                "size": int(m.group(6), 16),
                "flags": m.group(8),
                "align": int(m.group(11)),
            }
    return out


def segments(path):
    """(PT_TLS p_vaddr or None, (PT_GNU_RELRO start, end) or None)"""
    tls = relro = None
    for line in readelf("-l", path).splitlines():
        f = line.split()
        if f and f[0] == "TLS":
            tls = int(f[2], 16)
        elif f and f[0] == "GNU_RELRO":
            relro = (int(f[2], 16), int(f[2], 16) + int(f[5], 16))
    return tls, relro


def observe(path):
    secs = sections(path)
    tls, relro = segments(path)
    result = {}
    for line in readelf("--dyn-syms", path).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":") or not f[0][:-1].isdigit():
            continue
        value, size, typ, bind, ndx, name = int(f[1], 16), int(f[2], 0), f[3], f[4], f[-2], f[-1]
        if typ not in ("OBJECT", "TLS") or not ndx.isdigit():
            continue
        sec = secs[int(ndx)]
        addr = value + tls if typ == "TLS" else value
        offset = addr - sec["addr"]
        align = max(sec["align"], 1)
        while offset % align:
            align //= 2
        in_relro = bool(relro and relro[0] <= sec["addr"] and
                        sec["addr"] + sec["size"] <= relro[1])
        result[name] = {
            "type": typ,
            "bind": bind,
            "size": size,
            "section": sec["name"],
            "shf_write": "W" in sec["flags"],
            "in_relro": in_relro,
            # the TLS template may lie in RELRO; each thread's copy is writable
            "read_only": "W" not in sec["flags"] or (in_relro and typ != "TLS"),
            "section_align": sec["align"],
            "align": align,
        }
    return result


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    json.dump({p: observe(p) for p in sys.argv[1:]}, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
