#!/usr/bin/env python3
"""Find import circles between the files of each crate of this workspace.

A file "imports" another file of the same crate when it names an item or module the
other file defines: through a `use` declaration (`use crate::a::B;`, `use super::x::*;`,
`pub use child::Y;`, nested `{...}` trees) or through a path in code
(`crate::a::b::f()`, `super::plan::Op`, `self::x::y`, or a path that starts with a
name brought in by `use` or a `mod` declared in the same scope). Paths are resolved to
the file that defines the named item, following re-exports (`pub use`) and glob imports.
`mod foo;` declarations are the module tree, not imports. Files that import each other,
directly or through other files, form a circle (a strongly connected component of the
file graph); every circle is printed with, for each edge in it, one example path.

Only `src/` of each crate is read (not `tests/`, `benches/`, `examples/`, `src/bin/`).
Test code (#[cfg(test)] modules and files, #[test] fns) counts unless --no-tests is
given; an edge made only by test code is marked "[test code only]". It is a lexical
approximation of rustc's name resolution (no macro expansion, no cfg evaluation, no
#[path]); it needs no cargo, only the Python 3 standard library.

Usage:
    python3 scripts/import-cycles.py [--check]       # all crates; --check: exit 1 on any circle
    python3 scripts/import-cycles.py --crate apiserver [--no-tests]   # --no-tests: skip test code
    python3 scripts/import-cycles.py --edges apiserver/src/api/mod.rs [--verbose]
"""

import argparse
import bisect
import os
import re
import sys

IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
RAW_STR_RE = re.compile(r'(?:br|cr|r)(#*)"')
PATH_STR_RE = re.compile(r"^\$?[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*$")
TOKEN_RE = re.compile(
    r"(?P<lt>'[A-Za-z_]\w*)"       # lifetime or label
    r"|(?P<id>\$?[A-Za-z_]\w*)"    # identifier, keyword, $crate, $metavar
    r"|(?P<num>\d\w*)"
    r"|(?P<cc>::)"
    r"|(?P<p>[^\s\w])"
)
ITEM_KEYWORDS = {"fn", "struct", "enum", "trait", "type", "const", "static", "union"}
# serde (and similar derive) attribute keys whose string value is a path to code.
PATH_ATTR_KEYS = {"with", "serialize_with", "deserialize_with", "default",
                  "skip_serializing_if", "getter"}
PATH_ROOTS = {"crate", "$crate", "self", "super"}
DEPTH_LIMIT = 16
SKIP_DIRS = {"target", "node_modules"}


# --------------------------------------------------------------------------- lexing

def strip_rust(src):
    """Blank comments and literals, keeping offsets and newlines.

    Returns (code, strings): in `code` every string literal is replaced by a `"` at its
    first offset followed by spaces, every char literal by `0` and spaces, every comment
    by spaces. `strings` maps the offset of each string literal to (end, content).
    """
    out = list(src)
    strings = {}
    n = len(src)

    def blank(a, b, marker=None):
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "
        if marker is not None and a < n:
            out[a] = marker

    i = 0
    while i < n:
        c = src[i]
        if c == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
            continue
        if c == "/" and src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
            continue
        if IDENT_CHAR.match(c):
            if c in "rbc" and (i == 0 or not IDENT_CHAR.match(src[i - 1])):
                m = RAW_STR_RE.match(src, i)
                if m:  # raw string r"..", r#".."#, br#".."#
                    close = '"' + m.group(1)
                    k = src.find(close, m.end())
                    k = n if k < 0 else k
                    end = min(n, k + len(close))
                    strings[i] = (end, src[m.end():k])
                    blank(i, end, '"')
                    i = end
                    continue
                if c in "bc" and i + 1 < n and src[i + 1] in "\"'":
                    out[i] = " "  # byte/C string or byte char: drop the prefix
                    i += 1
                    continue
            j = i
            while j < n and IDENT_CHAR.match(src[j]):
                j += 1
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            end = min(n, j + 1)
            strings[i] = (end, src[i + 1:j])
            blank(i, end, '"')
            i = end
            continue
        if c == "'":
            if i + 1 < n and src[i + 1] == "\\":  # '\n', '\'', '\u{..}'
                k = src.find("'", i + 3)
                end = n if k < 0 else k + 1
                blank(i, end, "0")
                i = end
                continue
            if i + 2 < n and src[i + 2] == "'" and src[i + 1] != "\n":  # 'x'
                blank(i, i + 3, "0")
                i += 3
                continue
            i += 1  # lifetime / label: keep
            continue
        i += 1
    return "".join(out), strings


def tokenize(code, strings):
    """Tokens as (kind, text, offset); kind in lt/id/num/cc/p/str."""
    toks = []
    skip_until = -1
    for m in TOKEN_RE.finditer(code):
        pos = m.start()
        if pos < skip_until:
            continue
        kind = m.lastgroup
        if kind == "p" and m.group() == '"' and pos in strings:
            end, content = strings[pos]
            toks.append(("str", content, pos))
            skip_until = end
            continue
        toks.append((kind, m.group(), pos))
    return toks


# --------------------------------------------------------------------------- model

class Module:
    """A module (a file or an inline `mod x { }`) and the names it declares."""

    def __init__(self, path, file):
        self.path = path          # tuple of segments from the crate root
        self.file = file          # workspace-relative path of the defining file
        self.uses = {}            # bound name -> (segments, line)
        self.globs = []           # [(segments, line)] of `use ...::*`
        self.children = set()     # names of `mod x;` / `mod x { }`
        self.items = set()        # names of fn/struct/enum/... defined here


class Ref:
    """One reference from a file to a path, to be resolved later."""

    def __init__(self, scope, segs, line, text, kind, test):
        self.scope, self.segs, self.line, self.text, self.kind = scope, segs, line, text, kind
        self.test = test  # inside #[cfg(test)] / #[test] code


def parse_use_tree(toks, i):
    """Parse a use tree starting at toks[i] (just after `use`).

    Returns (entries, index after `;`) where entries are (segments, alias, is_glob),
    or (None, index) when the tree cannot be understood (e.g. in a macro body).
    """
    entries = []

    def tree(i, prefix):
        segs = list(prefix)
        if i < len(toks) and toks[i][0] == "cc":  # leading `::` (extern path)
            segs.append("::")
            i += 1
        while True:
            if i >= len(toks):
                raise ValueError
            kind, text, _ = toks[i]
            if kind == "id" and not (text.startswith("$") and text != "$crate"):
                segs.append(text)
                i += 1
                if i < len(toks) and toks[i][0] == "cc":
                    i += 1
                    continue
                alias = None
                if i < len(toks) and toks[i][1] == "as":
                    alias = toks[i + 1][1]
                    i += 2
                if segs[-1] == "self" and len(segs) > 1:  # `{self}` / `{self as x}`
                    segs.pop()
                entries.append((segs, alias, False))
                return i
            if text == "*":
                entries.append((segs, None, True))
                return i + 1
            if text == "{":
                i += 1
                while i < len(toks) and toks[i][1] != "}":
                    i = tree(i, segs)
                    if i < len(toks) and toks[i][1] == ",":
                        i += 1
                    elif i < len(toks) and toks[i][1] != "}":
                        raise ValueError
                return i + 1
            raise ValueError

    try:
        i = tree(i, [])
        if i < len(toks) and toks[i][1] == ";":
            return entries, i + 1
        raise ValueError
    except (ValueError, IndexError):
        j = i
        while j < len(toks) and toks[j][1] != ";":
            j += 1
        return None, j + 1


def is_test_attr(attr):
    """Whether the tokens inside #[...] are cfg(test), test or some::test (tokio::test)."""
    ids = [t for k, t, _ in attr if k == "id"]
    if not ids:
        return False
    if ids[0] == "cfg":
        return "test" in ids and "not" not in ids
    return ids == ["test"] or (len(attr) > 2 and attr[1][0] == "cc" and attr[2][1] == "test")


def analyse_file(rel, modpath, text, modules, refs, test_mods):
    """Record the modules, names and references of one file.

    test_mods collects the module paths of `#[cfg(test)] mod x;` declarations.
    """
    code, strings = strip_rust(text)
    toks = tokenize(code, strings)
    newlines = [k for k, ch in enumerate(code) if ch == "\n"]

    def line_of(pos):
        return bisect.bisect_right(newlines, pos) + 1

    modules.setdefault(modpath, Module(modpath, rel))
    # (module path, brace depth at which it closes, test code?); blocks of test items
    # (#[cfg(test)] fn/impl ...) are pushed with the module path of their parent.
    stack = [(modpath, -1, False)]
    depth = 0
    attr_depth = 0           # > 0 while inside #[...] / #![...]
    attr_start = 0
    pending_mod = None
    pending_test = False     # a test attribute applies to the next item
    i, n = 0, len(toks)
    while i < n:
        kind, t, pos = toks[i]
        scope, _, in_test = stack[-1]
        cur = modules[scope]
        prev = toks[i - 1][1] if i else ""
        if kind == "p":
            if t == "#" and i + 1 < n and toks[i + 1][1] in ("[", "!") and attr_depth == 0:
                k = i + 1 if toks[i + 1][1] == "[" else i + 2
                if k < n and toks[k][1] == "[":
                    attr_depth = 1
                    attr_start = k + 1
                    i = k + 1
                    continue
            elif t == "[" and attr_depth:
                attr_depth += 1
            elif t == "]" and attr_depth:
                attr_depth -= 1
                if attr_depth == 0 and is_test_attr(toks[attr_start:i]):
                    pending_test = True
            elif attr_depth:
                pass
            elif t == "{":
                if pending_mod is not None:
                    child = scope + (pending_mod,)
                    modules[child] = Module(child, rel)  # inline module wins over a file
                    stack.append((child, depth, in_test or pending_test))
                elif pending_test and not in_test:
                    stack.append((scope, depth, True))
                pending_mod, pending_test = None, False
                depth += 1
            elif t == "}":
                depth -= 1
                if len(stack) > 1 and depth == stack[-1][1]:
                    stack.pop()
                pending_test = False
            elif t == ";":
                pending_mod, pending_test = None, False
            i += 1
            continue
        if kind == "str":
            # serde-style `#[serde(with = "path")]`: the string names code.
            if (attr_depth and i >= 2 and toks[i - 1][1] == "="
                    and toks[i - 2][1] in PATH_ATTR_KEYS and PATH_STR_RE.match(t.strip())):
                segs = t.strip().split("::")
                refs.append(Ref(scope, segs, line_of(pos), t.strip(), "attr", in_test))
            i += 1
            continue
        if kind != "id":
            i += 1
            continue
        if prev in ("::", "."):
            i += 1
            continue
        nxt = toks[i + 1][1] if i + 1 < n else ""
        if t == "pub" and nxt == "(" and i + 2 < n and toks[i + 2][1] == "in":
            j = i + 3  # pub(in crate::a::b): a visibility, not a reference
            while j < n and toks[j][1] != ")":
                j += 1
            i = j + 1
            continue
        if t == "mod" and i + 1 < n and toks[i + 1][0] == "id" and not attr_depth:
            name = toks[i + 1][1]
            if not name.startswith("$"):
                cur.children.add(name)
                after = toks[i + 2][1] if i + 2 < n else ""
                if after == "{":
                    pending_mod = name
                elif pending_test or in_test:
                    test_mods.add(scope + (name,))
            i += 2
            continue
        if t == "use" and nxt != "<" and prev != "+" and not attr_depth:
            entries, j = parse_use_tree(toks, i + 1)
            line = line_of(pos)
            for segs, alias, glob in entries or []:
                if not segs or segs[0] == "::":
                    continue
                shown = "::".join(segs) + ("::*" if glob else "")
                if alias and alias != "_":
                    shown += " as " + alias
                if glob:
                    cur.globs.append((segs, line))
                else:
                    bound = alias if alias else segs[-1]
                    if bound != "_" and bound not in PATH_ROOTS:
                        cur.uses.setdefault(bound, (segs, line))
                refs.append(Ref(scope, segs, line, shown, "use", in_test or pending_test))
            i = j
            continue
        if t in ITEM_KEYWORDS and nxt and i + 1 < n and toks[i + 1][0] == "id":
            cur.items.add(nxt)
        if t == "macro_rules" and nxt == "!" and i + 2 < n and toks[i + 2][0] == "id":
            cur.items.add(toks[i + 2][1])
        # a path in code: ident (:: ident)+, not starting in the middle of a path
        j = i
        segs = [t]
        while j + 2 < n and toks[j + 1][0] == "cc" and toks[j + 2][0] == "id":
            segs.append(toks[j + 2][1])
            j += 2
        if len(segs) > 1 and not segs[0].startswith("$") or segs[0] == "$crate" and len(segs) > 1:
            refs.append(Ref(scope, segs, line_of(pos), "::".join(segs), "path",
                            in_test or pending_test))
        i = j + 1 if len(segs) > 1 else i + 1


# --------------------------------------------------------------------------- resolution

class Resolver:
    def __init__(self, modules):
        self.modules = modules
        self.active = set()  # (scope, name) lookups in progress: breaks import loops

    def absolutize(self, scope, segs, depth=0):
        """Segments of a path as seen from `scope`, made absolute; None if outside the crate."""
        if not segs or depth > DEPTH_LIMIT:
            return None
        first = segs[0]
        if first in ("crate", "$crate"):
            return list(segs[1:])
        if first == "self":
            return list(scope) + list(segs[1:])
        if first == "super":
            base, k = list(scope), 0
            while k < len(segs) and segs[k] == "super":
                if not base:
                    return None
                base.pop()
                k += 1
            return base + list(segs[k:])
        if first.startswith("$") or first == "::":
            return None
        target = self.lookup(scope, first, depth + 1)
        if target is None:
            return None
        return target + list(segs[1:])

    def lookup(self, scope, name, depth=0):
        """Absolute path of what `name` means in module `scope`, or None (extern, std, unknown)."""
        if depth > DEPTH_LIMIT:
            return None
        m = self.modules.get(tuple(scope))
        key = (tuple(scope), name)
        if m is None or key in self.active:
            return None
        self.active.add(key)
        try:
            return self._lookup(m, name, depth)
        finally:
            self.active.discard(key)

    def _lookup(self, m, name, depth):
        scope = m.path
        if name in m.children or name in m.items:
            return list(scope) + [name]
        if name in m.uses:
            return self.absolutize(m.path, m.uses[name][0], depth + 1)
        for gsegs, _ in m.globs:
            g = self.absolutize(m.path, gsegs, depth + 1)
            if g is not None and tuple(g) in self.modules and tuple(g) != tuple(scope):
                found = self.lookup(g, name, depth + 1)
                if found is not None:
                    return found
        return None

    def resolve_abs(self, path, depth=0):
        """File that defines the absolute path `path` (list of segments), or None if outside."""
        k = len(path)
        while k > 0 and tuple(path[:k]) not in self.modules:
            k -= 1
        m = self.modules.get(tuple(path[:k]))
        if m is None:
            return None
        rest = path[k:]
        if not rest or depth > DEPTH_LIMIT:
            return m.file
        name = rest[0]
        if name in m.children or name in m.items:
            return m.file
        if name in m.uses:  # re-export / import: follow it
            target = self.absolutize(m.path, m.uses[name][0], depth + 1)
            if target is None:
                return None  # it names something of another crate
            return self.resolve_abs(target + rest[1:], depth + 1)
        for gsegs, _ in m.globs:
            g = self.absolutize(m.path, gsegs, depth + 1)
            if g is not None and tuple(g) in self.modules and tuple(g) != m.path:
                if self.lookup(g, name, depth + 1) is not None:
                    return self.resolve_abs(g + rest, depth + 1)
        return m.file

    def resolve(self, ref):
        path = self.absolutize(ref.scope, ref.segs)
        if path is None:
            return None
        return self.resolve_abs(path)


# --------------------------------------------------------------------------- crates

def default_root():
    """The workspace in the current directory, else the one this script belongs to."""
    manifest = os.path.join(os.getcwd(), "Cargo.toml")
    if os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as fh:
            if "[workspace]" in fh.read():
                return os.getcwd()
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_crates(root):
    crates = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        if "Cargo.toml" in filenames and os.path.isdir(os.path.join(dirpath, "src")):
            crates.append(os.path.relpath(dirpath, root))
            dirnames[:] = [d for d in dirnames if d != "src"]
    return crates


def module_files(root, crate):
    """[(workspace-relative file, module path)] of the crate's library or main tree."""
    src = os.path.join(root, crate, "src")
    has_lib = os.path.isfile(os.path.join(src, "lib.rs"))
    found = {}
    for dirpath, dirnames, filenames in os.walk(src):
        reldir = os.path.relpath(dirpath, src)
        parts = [] if reldir == "." else reldir.split(os.sep)
        if parts[:1] == ["bin"]:
            dirnames[:] = []
            continue
        dirnames.sort()
        for f in sorted(filenames):
            if not f.endswith(".rs"):
                continue
            stem = f[:-3]
            if not parts and stem in ("lib", "main"):
                if stem == "main" and has_lib:
                    continue  # a binary root next to the library: a separate crate
                modpath = ()
            elif stem == "mod":
                modpath = tuple(parts)
            else:
                modpath = tuple(parts) + (stem,)
            rel = os.path.normpath(os.path.join(crate, "src", reldir, f))
            found.setdefault(modpath, rel)
    return [(rel, mp) for mp, rel in sorted(found.items(), key=lambda kv: kv[1])]


def analyse_crate(root, crate, no_tests=False):
    modules, refs_by_file, test_mods = {}, {}, set()
    files = module_files(root, crate)
    for rel, mp in files:  # register every file module first
        modules[mp] = Module(mp, rel)
    for rel, mp in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        refs = []
        analyse_file(rel, mp, text, modules, refs, test_mods)
        refs_by_file[rel] = refs
    for rel, mp in files:
        if any(mp[:k] in test_mods for k in range(1, len(mp) + 1)):
            for r in refs_by_file[rel]:  # a file behind #[cfg(test)] mod x;
                r.test = True
        if no_tests:
            refs_by_file[rel] = [r for r in refs_by_file[rel] if not r.test]
    resolver = Resolver(modules)
    edges = {rel: {} for rel, _ in files}        # src -> {dst: [(text, line, test)]}
    others = {rel: [] for rel, _ in files}       # references that are not edges
    for rel, refs in refs_by_file.items():
        for ref in refs:
            dst = resolver.resolve(ref)
            if dst is None or dst == rel:
                others[rel].append((ref, dst))
                continue
            edges[rel].setdefault(dst, []).append((ref.text, ref.line, ref.test))
    return [rel for rel, _ in files], edges, others


def sccs(nodes, edges):
    """Tarjan's algorithm, iterative. Returns components as lists of nodes."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description="Find import circles between files of each crate.")
    ap.add_argument("--crate", help="only this crate folder (e.g. apiserver)")
    ap.add_argument("--check", action="store_true", help="exit 1 when there is any circle")
    ap.add_argument("--edges", metavar="FILE", help="print the outgoing edges of FILE and exit")
    ap.add_argument("--no-tests", action="store_true",
                    help="ignore references made by #[cfg(test)] / #[test] code")
    ap.add_argument("--verbose", action="store_true",
                    help="with --edges, also list references that are not edges")
    ap.add_argument("--root", default=default_root(),
                    help="workspace root (default: the current directory when it holds a "
                         "workspace Cargo.toml, else the parent of scripts/)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)

    crates = find_crates(root)
    if args.edges:
        target = os.path.normpath(os.path.relpath(os.path.abspath(args.edges), root)
                                  if os.path.exists(args.edges) else args.edges)
        owner = [c for c in crates if target.startswith(c.rstrip(os.sep) + os.sep) or c == "."]
        if not owner:
            print(f"{args.edges}: not in a crate under {root}", file=sys.stderr)
            return 2
        crate = max(owner, key=len)
        _, edges, others = analyse_crate(root, crate, args.no_tests)
        if target not in edges:
            print(f"{target}: not a module file of crate {crate}", file=sys.stderr)
            return 2
        print(f"edges from {target}: {len(edges[target])}")
        for dst in sorted(edges[target]):
            refs = edges[target][dst]
            shown = ", ".join(f"{t} (line {ln}{', test' if tst else ''})" for t, ln, tst in refs)
            print(f"  -> {dst}: {shown}")
        if args.verbose:
            print("references that are not edges:")
            for ref, dst in others[target]:
                why = "itself" if dst else "outside the crate / not a module path"
                print(f"  {ref.text} (line {ref.line}): {why}")
        return 0

    if args.crate:
        wanted = os.path.normpath(args.crate)
        crates = [c for c in crates if c == wanted or os.path.basename(c) == wanted]
        if not crates:
            print(f"no crate folder named {args.crate!r} under {root}", file=sys.stderr)
            return 2

    circles, involved = 0, 0
    for crate in crates:
        nodes, edges = analyse_crate(root, crate, args.no_tests)[:2]
        comps = [sorted(c) for c in sccs(nodes, edges) if len(c) > 1]
        for comp in sorted(comps):
            circles += 1
            involved += len(comp)
            members = set(comp)
            print(f"import circle {circles} in {crate} ({len(comp)} files):")
            for f in comp:
                print(f"  {f}")
            print("  edges:")
            for src in comp:
                for dst in sorted(edges[src]):
                    if dst in members:
                        refs = edges[src][dst]
                        text, line, _ = next((r for r in refs if not r[2]), refs[0])
                        only = " [test code only]" if all(r[2] for r in refs) else ""
                        print(f"    {src} -> {dst} ({text}) at line {line}{only}")
            print()
    print(f"import circles: {circles} (files involved: {involved})")
    return 1 if args.check and circles else 0


if __name__ == "__main__":
    sys.exit(main())
