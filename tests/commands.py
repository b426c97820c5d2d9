#!/usr/bin/python3
"""Every command the scripts and tests call comes from a package that
scripts/bootstrap installs for them, or that Debian marks Essential.

    tests/commands.py [--list] [--packages FILE] [SOURCE_ROOT]

The shell code of scripts/, tests/, bench/, fuzz/run, man/lint.sh, .ci/ and
examples/ is read for the commands it runs: the first word of each command
(after assignments, redirections and keywords), the command that a wrapper
such as timeout, env, unshare or bats' run runs, and the code of `sh -c`,
`$(...)` and of heredocs that make scripts. A word counts when it names an
executable in /usr/sbin, /usr/bin, /sbin or /bin and is no shell builtin or
function of the files read; `dpkg -S` says which package ships it (through
/bin and /usr/bin alike, links and alternatives followed). That package
must be listed in scripts/packages with a purpose the calling file has
(build or test; scripts/fresh-check also fresh), or be Essential.

A command from a package pulled in as a dependency of a listed one fails:
list every package whose commands are called by name. A word that is no
command (a name in a test that happens to be a program's too) goes into
NOT_COMMANDS below, with the reason.

--list prints every command found, where it is called, and its package.
Exit status: 0 all found, 1 a command's package is not installed by the
bootstrap, 77 (meson: skipped) where dpkg is not there.
"""

import os
import re
import subprocess
import sys

# Where the shell code lives, and the purposes of scripts/packages that
# install what it calls.
TEST_PURPOSES = {"build", "test"}
SOURCES = [
    ("scripts/bootstrap", {"build"}),
    ("scripts/test", TEST_PURPOSES),
    ("scripts/fresh-check", TEST_PURPOSES | {"fresh"}),
    ("scripts/version-string", {"build"}),
    (".ci/run", TEST_PURPOSES),
    ("tests/valgrind-vigil", TEST_PURPOSES),
    ("tests/cli/*.bats", TEST_PURPOSES),
    ("tests/cli/*.bash", TEST_PURPOSES),
    ("tests/*.sh", TEST_PURPOSES),
    ("bench/*.sh", TEST_PURPOSES),
    ("bench/all", TEST_PURPOSES),
    ("man/lint.sh", TEST_PURPOSES),
    ("fuzz/run", TEST_PURPOSES),
    ("examples/*.ini", TEST_PURPOSES),
    ("meson.build", TEST_PURPOSES),
    ("*/meson.build", TEST_PURPOSES),
    ("*/*/meson.build", TEST_PURPOSES),
]

# Commands that some files use only where they are installed, none of them
# installed by the bootstrap for those files: each, the files, and why.
OPTIONAL = {
    "fswatch": ({"bench/all", "bench/lib.sh", "bench/storm.sh", "bench/poll.sh"},
                "bench/ measures it beside vigil where it is installed"),
    "watchman": ({"bench/all", "bench/lib.sh"},
                 "bench/ measures it beside vigil where it is installed"),
    "git": ({"bench/all", "scripts/version-string"},
            "bench/all names the commit it measures, and a build says its commit, where git is installed"),
    "perf": ({"bench/poll.sh"}, "bench/poll.sh counts the stat calls with it where it is installed"),
    "mandoc": ({"man/lint.sh"}, "man/lint.sh lints with it too where it is installed"),
    "rsync": ({"tests/cli/examples.bats"},
              "examples.bats puts a stand-in first in PATH where it is not installed"),
    "systemd-analyze": ({"tests/cli/examples.bats"},
                        "examples.bats checks the unit with it where systemd is installed"),
}

# Words in command position that are not commands run here, and why (the
# stand-ins of examples.bats, `stand NAME`, are found and left out too).
NOT_COMMANDS = {
    "as": "a word of Python code in a heredoc (bench/poll.sh: `with open(...) as out:`)",
    "size": "a word of Python code in a heredoc (tests/cli/poll.bats: `path, size = ...`)",
}

BUILTINS = set("""
    . : [ [[ ]] alias bg bind break builtin caller cd command compgen complete
    continue declare dirs disown echo enable eval exec exit export false fc fg
    getopts hash help history jobs kill let local logout mapfile popd printf
    pushd pwd read readarray readonly return set shift shopt source suspend
    test times trap true type typeset ulimit umask unalias unset wait
""".split())
KEYWORDS = set("""
    if then else elif fi do done while until for in case esac function
    select time coproc { } ! ;; ;& ;;&
""".split())
# Wrappers: the first later word that names an executable is a command too.
WRAPPERS = set("""
    command exec env timeout nice nohup xargs setsid unshare setpriv runuser
    sudo stdbuf valgrind run flock ionice taskset strace chroot bwrap
    watch time
""".split())
SHELLS = {"sh", "bash", "dash"}
SYSTEM_DIRS = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$|^/[A-Za-z0-9_./+-]+$")


class Lexer:
    """Just enough of a shell lexer: words, the separators between
    commands, quotes (a word's quoted parts kept, and marked), $(...) and
    `...` as code of their own."""

    def __init__(self, text):
        self.s = text
        self.i = 0

    def words(self):
        """Yield (word, literal, code_parts) or (None, sep, None) for a
        separator. literal: the word is made of plain characters and
        quotes only; code_parts: the $(...) inside it, to be read too."""
        s = self.s
        n = len(s)
        while self.i < n:
            c = s[self.i]
            if c in " \t":
                self.i += 1
                continue
            if s.startswith("\\\n", self.i):  # a line continued
                self.i += 2
                continue
            if c == "#":
                while self.i < n and s[self.i] != "\n":
                    self.i += 1
                continue
            if s.startswith("((", self.i):
                # arithmetic, as in for ((i = 0; ...)) or ((n > 1))
                j = s.find("))", self.i)
                self.i = n if j < 0 else j + 2
                yield None, ")", None
                continue
            if c in "\n;&|()":
                self.i += 1
                yield None, c, None
                continue
            if c in "<>":
                # a redirection: its target is one word, not a command
                while self.i < n and s[self.i] in "<>&0123456789-":
                    self.i += 1
                self.skip_blanks()
                if self.i < n and s[self.i] not in "\n;|()":
                    w = self.word()
                    for code in w[2]:
                        yield None, "(", None
                        yield from Lexer(code).words()
                        yield None, ")", None
                continue
            at = self.i
            w = self.word()
            if self.i == at:
                self.i += 1
                continue
            yield w

    def skip_blanks(self):
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def word(self):
        s = self.s
        n = len(s)
        out = []
        literal = True
        quoted = False
        code = []
        while self.i < n:
            c = s[self.i]
            if c in " \t\n;&|()<>":
                break
            if c == "\\":
                out.append(s[self.i + 1:self.i + 2])
                self.i += 2
                literal = False
                continue
            if c == "'":
                j = s.find("'", self.i + 1)
                j = n if j < 0 else j
                out.append(s[self.i + 1:j])
                quoted = True
                self.i = j + 1
                continue
            if c == '"':
                self.i += 1
                quoted = True
                while self.i < n and s[self.i] != '"':
                    if s[self.i] == "\\":
                        out.append(s[self.i + 1:self.i + 2])
                        self.i += 2
                        continue
                    if s.startswith("$(", self.i) and not s.startswith("$((", self.i):
                        code.append(self.balanced(self.i + 2))
                        literal = False
                        continue
                    if s[self.i] == "`":
                        code.append(self.backtick())
                        literal = False
                        continue
                    if s[self.i] == "$":
                        literal = False
                    out.append(s[self.i])
                    self.i += 1
                self.i += 1
                continue
            if s.startswith("$((", self.i):
                self.balanced(self.i + 3)
                literal = False
                continue
            if s.startswith("$(", self.i):
                code.append(self.balanced(self.i + 2))
                literal = False
                continue
            if c == "`":
                code.append(self.backtick())
                literal = False
                continue
            if c == "$":
                literal = False
            out.append(c)
            self.i += 1
        return "".join(out), literal and (bool(out) or quoted), code

    def balanced(self, start):
        """The code of $( at start-2 to its ')', quotes respected."""
        s = self.s
        depth = 1
        i = start
        while i < len(s):
            c = s[i]
            if c == "'":
                j = s.find("'", i + 1)
                i = len(s) if j < 0 else j + 1
                continue
            if c == '"':
                i += 1
                while i < len(s) and s[i] != '"':
                    i += 2 if s[i] == "\\" else 1
                i += 1
                continue
            if c == "\\":
                i += 2
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    self.i = i + 1
                    return s[start:i]
            i += 1
        self.i = len(s)
        return s[start:]

    def backtick(self):
        j = self.s.find("`", self.i + 1)
        j = len(self.s) if j < 0 else j
        code = self.s[self.i + 1:j]
        self.i = j + 1
        return code


def heredocs(text):
    """The text without heredoc bodies, and the bodies that are shell code:
    those fed to a shell or written to a file by cat (a script made by a
    test); not those fed to python3 or perl, or printed (usage text)."""
    lines = text.split("\n")
    kept, code = [], []
    i = 0
    start = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_]\w*)\2")
    while i < len(lines):
        line = lines[i]
        kept.append(line)
        m = start.search(line)
        i += 1
        if not m or "<<<" in line:
            continue
        strip_tabs, delim = m.group(1) == "-", m.group(3)
        body = []
        while i < len(lines):
            end = lines[i].lstrip("\t") if strip_tabs else lines[i]
            if end == delim:
                break
            body.append(lines[i])
            i += 1
        kept.extend([""] * len(body))  # line numbers stay right
        before = line[:m.start()]
        first = before.split()[0] if before.split() else ""
        if first in ("python3", "python", "perl", "done", "read") or \
                (first == "cat" and ">" not in before):
            continue
        code.append("\n".join(body))
    return "\n".join(kept), code


class Scanner:
    def __init__(self):
        self.found = {}      # command -> set of (file, purposes)
        self.functions = set()
        self.stands = set()

    def note_functions(self, text):
        for m in re.finditer(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)", text, re.M):
            self.functions.add(m.group(1))
        for m in re.finditer(r"^\s*stand\s+([\w.-]+)", text, re.M):
            self.stands.add(m.group(1))

    def shell(self, text, where):
        text, bodies = heredocs(text)
        self.commands(Lexer(text).words(), where)
        for b in bodies:
            self.shell(b, where)

    def commands(self, tokens, where):
        at_start = True
        wrapped = False   # after a wrapper: the next executable counts
        dash_c = 0        # after sh: 1, after sh -c: 2 (the next word is code)
        skip_rest = False  # for NAME in WORDS...: no command until the end
        cases = 0         # case ... esac depth
        pattern = False   # in a case pattern, up to its ')'
        last = None
        for word, lit, code in tokens:
            if word is None:
                if pattern and lit == ")":
                    pattern = False
                elif cases and lit == ";" and last == ";":
                    pattern = True
                at_start, wrapped, dash_c, skip_rest = True, False, 0, False
                last = lit
                continue
            last = None
            for c in code:
                self.shell(c, where)
            if pattern:
                if word == "esac":
                    cases, pattern = cases - 1, False
                continue
            if skip_rest:
                if word == "in" and cases and not at_start:
                    pattern = True
                    skip_rest = False
                continue
            if dash_c == 2:
                self.shell(word, where)
                dash_c = 0
                continue
            if dash_c == 1:
                if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
                    dash_c = 2
                    continue
                if not word.startswith("-"):
                    dash_c = 0
            if at_start and lit and word in ("for", "select", "case", "function"):
                if word == "case":
                    cases += 1
                at_start, skip_rest = False, True
                continue
            if at_start and lit and word == "esac":
                cases = max(0, cases - 1)
                continue
            m = re.match(r"^(?:CC|FUZZ_CC|SAN_CC)=\$\{\w+:-([\w.+-]+)\}$", word)
            if m:  # the compiler meson is to use: CC=${SAN_CC:-clang}
                self.command(m.group(1), where)
            if not lit:
                if at_start and re.match(r"^[A-Za-z_]\w*\+?=", word):
                    continue  # VAR=value before a command
                at_start = False
                continue
            if at_start:
                if re.match(r"^[A-Za-z_]\w*\+?=", word) or word in KEYWORDS:
                    continue
                at_start = False
                self.command(word, where)
                wrapped = word in WRAPPERS
                dash_c = 1 if os.path.basename(word) in SHELLS else 0
                continue
            if wrapped and not word.startswith("-") and PLAIN.match(word) and \
                    word not in BUILTINS and executable(word):
                self.command(word, where)
                wrapped = word in WRAPPERS
                dash_c = 1 if os.path.basename(word) in SHELLS else 0

    def command(self, word, where):
        if not PLAIN.match(word) or word in BUILTINS or word in KEYWORDS:
            return
        if "/" in word and not word.startswith("/"):
            return  # the project's own (build/vigil, ./scripts/bootstrap)
        self.found.setdefault(word, set()).add(where)

    def ini(self, text, where):
        """examples/*.ini: each command = line (and its continuation lines)
        is one command line."""
        for m in re.finditer(r"^command\s*=\s*((?:.*\\\n)*.*)$", text, re.M):
            self.commands(Lexer(m.group(1).replace("\\\n", " ")).words(), where)

    def meson(self, text, where):
        for m in re.finditer(r"find_program\(\s*'([^']+)'", text):
            self.command(m.group(1), where)


_exec_cache = {}


def executable(word):
    """The executables a word names in the Debian system directories."""
    if word in _exec_cache:
        return _exec_cache[word]
    paths = []
    if word.startswith("/"):
        if os.path.isfile(word) and os.access(word, os.X_OK):
            paths.append(word)
    else:
        for d in SYSTEM_DIRS:
            p = os.path.join(d, word)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                paths.append(p)
    _exec_cache[word] = paths
    return paths


def candidates(path):
    """Paths under which dpkg may know PATH: as is, through /bin and
    /usr/bin alike (a merged /usr), and the file its links lead to."""
    out = []
    for p in (path, os.path.realpath(path)):
        for q in (p, re.sub(r"^/usr/", "/", p), re.sub(r"^/(s?bin)/", r"/usr/\1/", p)):
            if q not in out:
                out.append(q)
    # an alternative (/usr/bin/awk -> /etc/alternatives/awk): any of its
    # choices, as any of them may be the one chosen on another machine
    link = path
    for _ in range(8):
        if not os.path.islink(link):
            break
        target = os.readlink(link)
        link = os.path.join(os.path.dirname(link), target)
        if link.startswith("/etc/alternatives/"):
            name = os.path.basename(link)
            r = subprocess.run(["update-alternatives", "--list", name],
                               capture_output=True, text=True)
            for q in r.stdout.split():
                if q not in out:
                    out.append(q)
            break
    return out


def owners(paths):
    """path -> set of packages, from one dpkg -S call."""
    r = subprocess.run(["dpkg", "-S"] + paths, capture_output=True, text=True)
    own = {}
    for line in r.stdout.splitlines():
        if line.startswith("diversion by"):
            continue
        pkgs, _, path = line.rpartition(": ")
        if not pkgs:
            continue
        for p in pkgs.split(","):
            own.setdefault(path.strip(), set()).add(p.strip().split(":")[0])
    return own


def essential(pkgs):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Essential}\n"] + sorted(pkgs),
                       capture_output=True, text=True)
    return {line.split()[0] for line in r.stdout.splitlines()
            if len(line.split()) == 2 and line.split()[1] == "yes"}


def read_packages(path):
    listed = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) < 2:
                sys.exit("%s:%d: a package needs a purpose: %r" % (path, n, line))
            listed.setdefault(fields[0], set()).add(fields[1])
    return listed


def main():
    args = sys.argv[1:]
    show = "--list" in args
    args = [a for a in args if a != "--list"]
    pkgfile = None
    if "--packages" in args:
        k = args.index("--packages")
        pkgfile = args[k + 1]
        del args[k:k + 2]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    pkgfile = pkgfile or os.path.join(root, "scripts", "packages")
    if subprocess.run(["sh", "-c", "command -v dpkg"], capture_output=True).returncode:
        print("commands: no dpkg here; skipped")
        return 77
    listed = read_packages(pkgfile)

    import glob
    sc = Scanner()
    files = []
    for pattern, purposes in SOURCES:
        for f in sorted(glob.glob(os.path.join(root, pattern))):
            rel = os.path.relpath(f, root)
            if rel.startswith("build") or any(rel == g for g, _ in files):
                continue
            files.append((rel, purposes))
    texts = {}
    for rel, _ in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="surrogateescape") as f:
            texts[rel] = f.read()
        if not rel.endswith((".ini", "meson.build")):
            sc.note_functions(texts[rel])
    for rel, purposes in files:
        where = (rel, frozenset(purposes))
        if rel.endswith(".ini"):
            sc.ini(texts[rel], where)
        elif rel.endswith("meson.build"):
            sc.meson(texts[rel], where)
        else:
            sc.shell(texts[rel], where)

    skip = sc.functions | sc.stands | set(NOT_COMMANDS)
    cmds = {c: w for c, w in sc.found.items() if c not in skip and executable(c)}
    paths = {c: executable(c) for c in cmds}
    cands = {c: [q for p in ps for q in candidates(p)] for c, ps in paths.items()}
    own = owners(sorted({q for qs in cands.values() for q in qs}))
    pkgs = {c: set().union(*[own.get(q, set()) for q in qs]) for c, qs in cands.items()}
    ess = essential(set().union(*pkgs.values())) if pkgs else set()

    bad = 0
    for c in sorted(cmds):
        callers = sorted(cmds[c])
        files_s = ", ".join(sorted({f for f, _ in callers}))
        # each caller needs the package for one of its own purposes: what
        # scripts/bootstrap calls must be there without --test
        unmet = sorted({f for f, need in callers
                        if not any(p in ess or listed.get(p, set()) & need for p in pkgs[c])})
        ok_by = sorted(p for p in pkgs[c] if p in ess or p in listed)
        if c in OPTIONAL and unmet:
            unmet = [f for f in unmet if f not in OPTIONAL[c][0]]
            if not unmet:
                if show:
                    print("%-22s %-40s %s" % (c, "optional: " + OPTIONAL[c][1], files_s))
                continue
        if not unmet:
            if show:
                p = ok_by[0]
                print("%-22s %-40s %s" % (c, "%s (%s)" % (p, "Essential" if p in ess else
                                                          "/".join(sorted(listed[p]))), files_s))
            continue
        bad += 1
        print("%-22s %-40s %s" % (c, "NOT INSTALLED BY THE BOOTSTRAP: " + (
            ", ".join(sorted(pkgs[c])) or "no package ships " + paths[c][0]), ", ".join(unmet)))
        for p in sorted(pkgs[c]):
            if p in listed:
                print("  (%s is listed for %s only)" % (p, "/".join(sorted(listed[p]))))
    print("commands: %d called, %d from a package the bootstrap does not install" %
          (len(cmds), bad))
    if bad:
        print("commands: add each package to scripts/packages with the purpose that calls it,"
              " or, for a word that is no command, to NOT_COMMANDS in tests/commands.py")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
