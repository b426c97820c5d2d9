#!/usr/bin/env python3
"""Shell completions for vigil, made from its --help (issue 23).

    completions/gen.py VIGIL OUTDIR

runs VIGIL --help and VIGIL COMMAND --help for every command the first
names, and writes OUTDIR/vigil (bash), OUTDIR/_vigil (zsh) and
OUTDIR/vigil.fish. The help is the one source of truth: every option it
mentions is completed, so an option cannot be added and forgotten here.
What follows an option is read from its metavar in the help (FILE, DIR,
EVENT[,..], DURATION, a|b|c, ...): a metavar this file does not know stops
the build, naming it, so that a new kind of argument is decided here
rather than completed wrongly. Event names come from the help's "Events:"
paragraph, the backends from "--backend a|b|c", the units of a duration
from "Durations: 500ms, 2s, ...".

tests/cli/completion.bats checks the result in bash (compgen), zsh and
fish against the help, independently of this parser.
"""

import re
import subprocess
import sys

# What a metavar asks for. choice and optchoice kinds are found from the
# metavar's own a|b|c spelling; these are the named ones.
METAVARS = {
    "FILE": "file",
    "PATH": "file",
    "DIR": "dir",
    "EVENT": "event",          # one event (or 'total' where the help says so)
    "EVENT[,..]": "events",    # a comma-separated list
    "DURATION": "duration",
    "WHICH": "backend",        # --backend: the choices another command spells
    "USER": "user",
    "PID": "pid",
    "SIG": "signal",
    # free text: nothing to offer
    "SECONDS": "none",
    "N": "none",
    "REGEX": "none",
    "RE": "none",
    "GLOB": "none",
    "FMT": "none",
    "LIST": "none",
    "URL": "none",             # mqtt[s]://[USER@]HOST[:PORT]/TOPIC
    "ID": "none",
    "GROUP": "none",
    "TOPIC": "none",
    "HOST": "none",
    "REMOTE": "none",          # --map REMOTE=LOCAL
}
SIGNALS = "HUP INT QUIT USR1 USR2 TERM KILL CONT STOP".split()

LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
# an option and what follows it: a metavar, a|b|c, or [a|b|c]
ARG = r"(?P<arg>\[[^\]\s]+\]|[a-z0-9]+(?:\|[a-z0-9]+)+|[A-Z][A-Z_]*(?:\[,\.\.\])?)(?![\w|])"
LINE_OPT = re.compile(r"^\s+(?:-(?P<short>[A-Za-z0-9]), )?--(?P<long>[a-z][a-z0-9-]*)(?: " + ARG + ")?", re.M)
INLINE_OPT = re.compile(r"(?<![\w-])--(?P<long>[a-z][a-z0-9-]*)\s+" + ARG)


def helptext(vigil, *args):
    return subprocess.run([vigil, *args, "--help"], check=True,
                          capture_output=True, text=True).stdout


def commands(text):
    m = re.search(r"^Commands:\n((?:  \S.*\n)+)", text, re.M)
    if not m:
        sys.exit("gen.py: no 'Commands:' section in vigil --help")
    out = []
    for line in m.group(1).splitlines():
        name, desc = line.split(None, 1)
        out.append((name, desc.strip()))
    return out


def description(text, opt):
    """The rest of the option's own line in the help, for zsh and fish."""
    m = re.search(r"^\s+(?:-[A-Za-z0-9], )?--" + re.escape(opt) + r"\b[^\n]*?\s{2,}(\S[^\n]*)$", text, re.M)
    return m.group(1).strip() if m else ""


class Option:
    def __init__(self, long):
        self.long = long
        self.short = None
        self.kind = "flag"
        self.words = []       # for choice and optchoice
        self.desc = ""


def kind_of(arg, where):
    if arg.startswith("["):
        if re.fullmatch(r"[A-Z]+", arg[1:-1]):
            return "flag", []    # [PATH]...: the command's own words follow
        return "optchoice", arg[1:-1].split("|")
    if "|" in arg:
        return "choice", arg.split("|")
    if arg not in METAVARS:
        sys.exit("gen.py: vigil %s: the metavar %r is new: say in completions/gen.py "
                 "(METAVARS) what completes it" % (where, arg))
    return METAVARS[arg], []


def options(text, sub):
    opts = {}
    for m in LONG.finditer(text):
        opts.setdefault(m.group(1), Option(m.group(1)))
    # an option's own line first, then a mention in running text
    for m in LINE_OPT.finditer(text):
        o = opts[m.group("long")]
        if m.group("short"):
            o.short = m.group("short")
        if m.group("arg") and o.kind == "flag":
            o.kind, o.words = kind_of(m.group("arg"), sub)
    for m in INLINE_OPT.finditer(text):
        o = opts[m.group("long")]
        if o.kind == "flag":
            o.kind, o.words = kind_of(m.group("arg"), sub)
    for o in opts.values():
        o.desc = description(text, o.long)
        if o.kind == "event" and "'total'" in o.desc:
            o.kind = "event_total"
    return opts


def events(texts):
    for t in texts:
        m = re.search(r"^Events: (.*?)\(default", t, re.M | re.S)
        if m:
            return m.group(1).split()
    sys.exit("gen.py: no 'Events: ... (default' paragraph in any --help")


def backends(texts):
    for t in texts:
        m = re.search(r"--backend ([a-z]+(?:\|[a-z]+)+)", t)
        if m:
            return m.group(1).split("|")
    sys.exit("gen.py: no '--backend a|b|c' in any --help")


def units(texts):
    for t in texts:
        m = re.search(r"^Durations: (.*?)\.(?:\s|$)", t, re.M)
        if m:
            got = re.findall(r"\d(?:\.\d+)?([a-z]+)", m.group(1))
            if got:
                return got
    sys.exit("gen.py: no 'Durations: 500ms, 2s, ...' line in any --help")


def positional(text):
    """What the command's non-option words are: files, or nothing."""
    usage = text.split("\n", 1)[0]
    return "file" if re.search(r"\b(FILE|PATH|DIR)\b", usage) else "none"


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


# --- bash --------------------------------------------------------------------

def bash(cmds, subs, ev, be, un):
    out = ["# bash completion for vigil: made by completions/gen.py from vigil's",
           "# --help at build time; do not edit.", ""]
    out.append("_vigil_events=%s" % shq(" ".join(ev)))
    out.append("_vigil_units=%s" % shq(" ".join(un)))
    out.append("")
    out.append("# _vigil_arg COMMAND OPTION: what OPTION's argument is ('' for a flag)")
    out.append("_vigil_arg() {")
    out.append("\tcase $1 in")
    for name, opts in subs.items():
        out.append("\t%s)" % name)
        out.append("\t\tcase $2 in")
        for o in sorted(opts.values(), key=lambda o: o.long):
            if o.kind == "flag":
                continue
            pats = "--" + o.long + ("|-" + o.short if o.short else "")
            words = be if o.kind == "backend" else o.words
            val = o.kind + ("" if not words else " " + " ".join(words))
            out.append("\t\t%s) echo %s ;;" % (pats, shq(val)))
        out.append("\t\tesac ;;")
    out.append("\tesac")
    out.append("}")
    out.append("")
    out.append("_vigil_opts() {")
    out.append("\tcase $1 in")
    for name, opts in subs.items():
        words = []
        for o in sorted(opts.values(), key=lambda o: o.long):
            words.append("--" + o.long)
            if o.short:
                words.append("-" + o.short)
        out.append("\t%s) echo %s ;;" % (name, shq(" ".join(words))))
    out.append("\tesac")
    out.append("}")
    out.append("")
    out.append("_vigil_positional() {")
    out.append("\tcase $1 in")
    for name, opts in subs.items():
        out.append("\t%s) echo %s ;;" % (name, subs_pos[name]))
    out.append("\tesac")
    out.append("}")
    out.append("")
    out.append("_vigil_commands=%s" % shq(" ".join(c for c, _ in cmds) + " help"))
    out.append(BASH_BODY)
    return "\n".join(out) + "\n"


BASH_BODY = r'''
# _vigil_complete_kind KIND [WORD]...: COMPREPLY for an argument of KIND
_vigil_complete_kind() {
	local kind=$1 cur=$2 pre w
	shift 2
	case $kind in
	file)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
	events)
		# a comma-separated list: complete the last item
		pre=
		[[ $cur == *,* ]] && pre=${cur%,*},
		compopt -o nospace 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -W "$_vigil_events" -P "$pre" -- "${cur##*,}") ;;
	event)
		mapfile -t COMPREPLY < <(compgen -W "$_vigil_events" -- "$cur") ;;
	event_total)
		mapfile -t COMPREPLY < <(compgen -W "$_vigil_events total" -- "$cur") ;;
	duration)
		# a number (and maybe the start of a unit): the number with each unit
		if [[ $cur =~ ^([0-9]+(\.[0-9]*)?)[a-z]*$ ]]; then
			pre=${BASH_REMATCH[1]}
			mapfile -t COMPREPLY < <(compgen -W "$_vigil_units" -P "$pre" -- "${cur#"$pre"}")
		fi ;;
	backend | choice | optchoice)
		mapfile -t COMPREPLY < <(compgen -W "$*" -- "$cur") ;;
	signal)
		mapfile -t COMPREPLY < <(compgen -W "HUP INT QUIT USR1 USR2 TERM KILL CONT STOP" -- "$cur") ;;
	user)
		mapfile -t COMPREPLY < <(compgen -u -- "$cur") ;;
	pid)
		mapfile -t COMPREPLY < <(compgen -W "$(cd /proc && printf '%s ' [0-9]*)" -- "$cur") ;;
	*) COMPREPLY=() ;;
	esac
}

_vigil() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local sub=${COMP_WORDS[1]} i arg kind
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		mapfile -t COMPREPLY < <(compgen -W "$_vigil_commands -h --help -V --version" -- "$cur")
		return
	fi
	if [[ $sub == help ]]; then
		((COMP_CWORD == 2)) &&
			mapfile -t COMPREPLY < <(compgen -W "${_vigil_commands% help}" -- "$cur")
		return
	fi
	[[ -n $(_vigil_opts "$sub") ]] || return
	# after --: the command to run, then its arguments
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			if ((i == COMP_CWORD - 1)); then
				mapfile -t COMPREPLY < <(compgen -c -- "$cur")
			else
				compopt -o filenames 2>/dev/null
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			fi
			return
		fi
	done
	arg=$(_vigil_arg "$sub" "$prev")
	if [[ -n $arg && ${arg%% *} != optchoice ]]; then
		# shellcheck disable=SC2086 # the kind and its words
		_vigil_complete_kind ${arg%% *} "$cur" ${arg#* }
		return
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_vigil_opts "$sub")" -- "$cur")
		return
	fi
	if [[ -n $arg ]]; then
		# an optional argument: its words, or what comes next
		# shellcheck disable=SC2086
		_vigil_complete_kind optchoice "$cur" ${arg#* }
	fi
	kind=$(_vigil_positional "$sub")
	[[ $kind == none ]] || {
		local keep=("${COMPREPLY[@]}")
		_vigil_complete_kind "$kind" "$cur"
		COMPREPLY=("${keep[@]}" "${COMPREPLY[@]}")
	}
}
complete -F _vigil vigil
'''


# --- zsh ---------------------------------------------------------------------

def zq(s):
    """A description for _arguments: no brackets, colons or quotes."""
    s = re.sub(r"[\[\]:'\"\\`$]", "", s)
    return s.strip()


def zsh_action(o, be):
    k = o.kind
    if k == "file":
        return "_files"
    if k == "dir":
        return "_files -/"
    if k == "events":
        return "_sequence compadd - ${_vigil_events[@]}"
    if k == "event":
        return "compadd - ${_vigil_events[@]}"
    if k == "event_total":
        return "compadd - ${_vigil_events[@]} total"
    if k == "duration":
        return "_vigil_duration"
    if k in ("choice", "optchoice"):
        return "(" + " ".join(o.words) + ")"
    if k == "backend":
        return "(" + " ".join(be) + ")"
    if k == "signal":
        return "(" + " ".join(SIGNALS) + ")"
    if k == "user":
        return "_users"
    if k == "pid":
        return "_pids"
    return " "


def zsh(cmds, subs, ev, be, un):
    out = ["#compdef vigil",
           "# zsh completion for vigil: made by completions/gen.py from vigil's",
           "# --help at build time; do not edit.", ""]
    out.append("_vigil_duration() {")
    out.append("  setopt localoptions extendedglob")
    out.append("  local n=${PREFIX%%[a-z]#}")
    out.append("  [[ $n == [0-9]## || $n == [0-9]##.[0-9]# ]] || { _message 'a duration: %s'; return 1; }"
               % " ".join("1" + u for u in un))
    out.append("  compadd -- " + " ".join("${n}" + u for u in un))
    out.append("}")
    out.append("")
    for name, opts in subs.items():
        out.append("_vigil_%s() {" % name)
        out.append("  local -a _vigil_events=(%s)" % " ".join(ev))
        out.append("  _arguments -s -S \\")
        for o in sorted(opts.values(), key=lambda o: o.long):
            desc = zq(o.desc)
            if o.kind == "flag":
                spec = "[%s]" % desc
            else:
                opt = ":" if o.kind == "optchoice" else ""
                spec = "[%s]:%s%s:%s" % (desc, opt, o.kind, zsh_action(o, be))
            names = ["--" + o.long] + (["-" + o.short] if o.short else [])
            for n in names:
                out.append("    %s \\" % shq("*" + n + spec))
        if subs_pos[name] == "file":
            out.append("    '*:file:_files'")
        else:
            out.append("    ")
        out.append("}")
        out.append("")
    out.append("_vigil() {")
    out.append("  local curcontext=$curcontext state line")
    out.append("  local -a cmds=(%s)" % " ".join(shq(c + ":" + zq(d)) for c, d in cmds))
    out.append("  _arguments -C \\")
    out.append("    '(- :)'{-h,--help}'[show the help and exit]' \\")
    out.append("    '(- :)'{-V,--version}'[show the version and exit]' \\")
    out.append("    '1:command:->command' \\")
    out.append("    '*::argument:->argument'")
    out.append("  case $state in")
    out.append("  command) _describe -t commands 'vigil command' cmds ;;")
    out.append("  argument)")
    out.append("    case $words[1] in")
    for name in subs:
        out.append("    %s) _vigil_%s ;;" % (name, name))
    out.append("    help) (( CURRENT == 2 )) && _describe -t commands 'vigil command' cmds ;;")
    out.append("    esac ;;")
    out.append("  esac")
    out.append("}")
    out.append("")
    out.append('if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _vigil "$@"; else compdef _vigil vigil; fi')
    return "\n".join(out) + "\n"


# --- fish --------------------------------------------------------------------

def fq(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(cmds, subs, ev, be, un):
    out = ["# fish completion for vigil: made by completions/gen.py from vigil's",
           "# --help at build time; do not edit.", ""]
    names = " ".join(c for c, _ in cmds)
    out.append("complete -c vigil -f")
    top = "-n 'not __fish_seen_subcommand_from %s help'" % names
    out.append("complete -c vigil %s -s h -l help -d 'show the help and exit'" % top)
    out.append("complete -c vigil %s -s V -l version -d 'show the version and exit'" % top)
    for c, d in cmds:
        out.append("complete -c vigil %s -a %s -d %s" % (top, c, fq(d)))
    out.append("complete -c vigil %s -a help -d 'the help of a command'" % top)
    out.append("complete -c vigil -n '__fish_seen_subcommand_from help' -a %s" % fq(names))
    out.append("")
    out.append("function __vigil_duration")
    out.append("    set -l t (commandline -ct)")
    out.append("    string match -qr '^[0-9]+(\\.[0-9]*)?$' -- $t; or return")
    out.append("    for u in %s" % " ".join(un))
    out.append("        echo $t$u")
    out.append("    end")
    out.append("end")
    out.append("function __vigil_events")
    out.append("    set -l t (commandline -ct)")
    out.append("    set -l pre (string replace -r '[^,]*$' '' -- $t)")
    out.append("    for e in %s" % " ".join(ev))
    out.append("        echo $pre$e")
    out.append("    end")
    out.append("end")
    out.append("")
    for name, opts in subs.items():
        cond = "__fish_seen_subcommand_from %s" % name
        if subs_pos[name] == "file":
            out.append("complete -c vigil -n %s -F" % fq(cond))
        for o in sorted(opts.values(), key=lambda o: o.long):
            parts = ["complete -c vigil -n", fq(cond), "-l", o.long]
            if o.short:
                parts += ["-s", o.short]
            k = o.kind
            if k == "file":
                parts += ["-r", "-F"]
            elif k == "dir":
                parts += ["-r", "-x", "-a", fq("(__fish_complete_directories)")]
            elif k == "events":
                parts += ["-x", "-a", fq("(__vigil_events)")]
            elif k in ("event", "event_total"):
                parts += ["-x", "-a", fq(" ".join(ev + (["total"] if k == "event_total" else [])))]
            elif k == "duration":
                parts += ["-x", "-a", fq("(__vigil_duration)")]
            elif k in ("choice", "backend", "signal"):
                w = be if k == "backend" else SIGNALS if k == "signal" else o.words
                parts += ["-x", "-a", fq(" ".join(w))]
            elif k == "optchoice":
                parts += ["-a", fq(" ".join(o.words))]
            elif k == "user":
                parts += ["-x", "-a", fq("(__fish_complete_users)")]
            elif k == "pid":
                parts += ["-x", "-a", fq("(__fish_complete_pids)")]
            elif k == "none":
                parts += ["-x"]
            if o.desc:
                parts += ["-d", fq(o.desc)]
            out.append(" ".join(parts))
        out.append("")
    return "\n".join(out) + "\n"


subs_pos = {}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen.py VIGIL OUTDIR")
    vigil, outdir = sys.argv[1:]
    top = helptext(vigil)
    cmds = commands(top)
    texts = {}
    subs = {}
    for name, _ in cmds:
        texts[name] = helptext(vigil, name)
        subs[name] = options(texts[name], name)
        subs_pos[name] = positional(texts[name])
    ev = events(texts.values())
    be = backends(texts.values())
    un = units(texts.values())
    for fname, fn in (("vigil", bash), ("_vigil", zsh), ("vigil.fish", fish)):
        with open("%s/%s" % (outdir, fname), "w", encoding="utf-8") as f:
            f.write(fn(cmds, subs, ev, be, un))


if __name__ == "__main__":
    main()
