#!/usr/bin/env python3
"""Checks docs/compatibility.md against the code, so the matrix stays true:

- Opcodes: every opcode of core/proto.h has a row; a row marked
  "supported" names an opcode that core/request.c dispatches (except the
  three that are never a request: notification, createSession, error).
- Four-letter words: every word lua/fourlw.lua registers has a row, and a
  row is "supported"/"differs" exactly when the word is registered.
- AdminServer commands: the same against the command names and aliases.
- Configuration keys: every key listed is known to core/config.c (its key
  table, its accepted list, the ensemble prefixes or zkplug's namespaces),
  so none of them draws an "unknown key" warning; a key marked "supported"
  is decoded by the key table or read by name somewhere in the code.
- Metrics: a metric marked "supported" or "differs" is registered by name
  somewhere in the code (core/, metrics/, plugins/).

Usage: check_compat.py SRC
"""
import os
import re
import sys

STATUSES = ("supported", "differs", "not yet")
# Opcodes that are never a request's header type: watch events (server to
# client), the ConnectRequest (no header) and the error txn type.
NOT_REQUESTS = {"NOTIFICATION", "CREATESESSION", "ERROR"}


def read(src, *parts):
    with open(os.path.join(src, *parts), encoding="utf-8") as f:
        return f.read()


def sections(doc):
    """{heading: [row cells]} for every '## ' section's table rows."""
    out, cur = {}, None
    for line in doc.splitlines():
        if line.startswith("## "):
            cur = line[3:].strip()
            out[cur] = []
        elif cur and line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[cur].append(cells)
    return out


def status_of(cells, where):
    for c in cells:
        if c in STATUSES:
            return c
    raise SystemExit(f"{where}: row {cells!r} has no status ({', '.join(STATUSES)})")


def code_strings(src):
    text = []
    for top in ("core", "metrics", "plugins", "lua"):
        for root, _, files in os.walk(os.path.join(src, top)):
            for name in files:
                if name.endswith((".c", ".h", ".lua")):
                    with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                        text.append(f.read())
    return "\n".join(text)


def main():
    src = sys.argv[1]
    doc = sections(read(src, "docs", "compatibility.md"))
    errors = []
    for need in ("Opcodes", "Four-letter words", "AdminServer commands", "Configuration keys", "Metrics"):
        if need not in doc or not doc[need]:
            errors.append(f"docs/compatibility.md: section '## {need}' with a table is missing")
    if errors:
        print("\n".join(errors))
        return 1

    # ---- opcodes
    proto = read(src, "core", "proto.h")
    ops = {int(num): name for name, num in re.findall(r"\bZK_OP_([A-Z0-9_]+)\s*=\s*(-?\d+)", proto)}
    request = read(src, "core", "request.c")
    dispatched = set(re.findall(r"case ZK_OP_([A-Z0-9_]+):", request))
    rows = {}
    for cells in doc["Opcodes"]:
        if not re.fullmatch(r"-?\d+", cells[0]):
            continue
        rows[int(cells[0])] = (cells, status_of(cells, "Opcodes"))
    for num, name in sorted(ops.items()):
        if num not in rows:
            errors.append(f"Opcodes: ZK_OP_{name} ({num}) of core/proto.h has no row")
    for num, (cells, st) in rows.items():
        if num not in ops:
            errors.append(f"Opcodes: row {num} is not an opcode of core/proto.h")
        elif st == "supported" and ops[num] not in dispatched and ops[num] not in NOT_REQUESTS:
            errors.append(f"Opcodes: {num} ({ops[num]}) is marked supported but core/request.c does not dispatch it")

    # ---- four-letter words and admin commands (lua/fourlw.lua)
    words, names = set(), set()
    lua_dir = os.path.join(src, "lua")
    for fname in sorted(os.listdir(lua_dir)):
        if not fname.endswith(".lua"):
            continue
        text = read(src, "lua", fname)
        for block in re.findall(r"zk\.command\s*\{(.*?)\n\}", text, re.S):
            name = re.search(r'\bname\s*=\s*"([^"]+)"', block)
            word = re.search(r'\bword\s*=\s*"([^"]+)"', block)
            aliases = re.search(r"\baliases\s*=\s*\{([^}]*)\}", block)
            if not name:
                continue
            names.add(name.group(1))
            if aliases:
                names.update(re.findall(r'"([^"]+)"', aliases.group(1)))
            if word:
                words.add(word.group(1))
            elif len(name.group(1)) == 4:
                words.add(name.group(1))
    # Built into the Lua host itself: the reload command.
    host = read(src, "core", "lua_host.c")
    words.update(re.findall(r'#define LUAHOST_RELOAD_WORD "([^"]+)"', host))
    names.update(re.findall(r'#define LUAHOST_RELOAD_NAME "([^"]+)"', host))
    for section, known in (("Four-letter words", words), ("AdminServer commands", names)):
        listed = {}
        for cells in doc[section]:
            m = re.fullmatch(r"`([^`]+)`", cells[0])
            if m:
                listed[m.group(1)] = status_of(cells, section)
        for k in sorted(known):
            # An alias may be given in the notes of its command's row.
            if k not in listed and not any(f"`{k}`" in " ".join(c[1:]) for c in doc[section]):
                errors.append(f"{section}: `{k}` is registered in lua/ but has no row")
        for k, st in listed.items():
            if st in ("supported", "differs") and k not in known:
                errors.append(f"{section}: `{k}` is marked {st} but lua/ registers no such command")
            if st == "not yet" and k in known:
                errors.append(f"{section}: `{k}` is marked not yet but lua/ registers it")

    # ---- configuration keys (core/config.c)
    config = read(src, "core", "config.c")
    table = set(re.findall(r'^\s*\{"([^"]+)", CONFIG_KIND_', config, re.M))
    accepted_block = re.search(r"config_accepted\[\] = \{(.*?)\};", config, re.S).group(1)
    accepted = re.findall(r'"([^"]+)"', accepted_block)
    code = code_strings(src)

    def known_key(key):
        if key in table:
            return True
        if re.match(r"^(server|group|weight)\.\d+$", key) or key in ("server.N", "group.N", "weight.N"):
            return True
        for a in accepted:
            if a.endswith("*") and key.startswith(a[:-1]):
                return True
            if a.endswith(".") and key.startswith(a):
                return True
            if key == a:
                return True
        return False

    for cells in doc["Configuration keys"]:
        m = re.fullmatch(r"`([^`]+)`", cells[0])
        if not m:
            continue
        key = m.group(1)
        st = status_of(cells, "Configuration keys")
        if not known_key(key):
            errors.append(f"Configuration keys: `{key}` is not known to core/config.c (it would be warned about)")
        elif st == "supported" and key not in table and f'"{key}"' not in code and not key.endswith(".N"):
            errors.append(f"Configuration keys: `{key}` is marked supported but nothing reads it by name")

    # ---- metrics
    for cells in doc["Metrics"]:
        m = re.fullmatch(r"`([^`]+)`", cells[0])
        if not m:
            continue
        st = status_of(cells, "Metrics")
        if st in ("supported", "differs") and f'"{m.group(1)}"' not in code:
            errors.append(f"Metrics: `{m.group(1)}` is marked {st} but no code registers that name")

    if errors:
        print("docs/compatibility.md disagrees with the code:")
        print("\n".join("  " + e for e in errors))
        return 1
    print("docs/compatibility.md agrees with the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
