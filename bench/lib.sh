# shellcheck shell=bash disable=SC2034 # sets what the scripts use
# bench/lib.sh: what the bench scripts share. Sourced, never run; the script
# sets `prog` (its name, for messages) first.
#
# - messages (die, say) and number checks (count);
# - a scratch directory on a private tmpfs (bench_tmp): as root, the script
#   re-runs itself in a mount namespace of its own (unshare -m) and mounts a
#   tmpfs there, so the figures do not depend on a disk, and nothing is left
#   mounted when it ends, however it ends; otherwise a plain `mktemp -d`
#   under $TMPDIR. Removed at exit, Ctrl-C included;
# - the helpers, meson-built or compiled here (helper);
# - the tools to compare (bench_tools): vigil, the floor, and inotifywait,
#   fswatch and watchman where installed;
# - medians and ratios, and the results file bench/all reads.

: "${prog:=bench}"
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
build=${BENCH_BUILD:-$(cd -- "$here/.." && pwd)/build}
line='Watches established.'

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

count() { # NAME VALUE: a non-negative decimal integer
	[[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a number, not '$2'"
	printf '%d' "$((10#$2))"
}

# --- the scratch directory -----------------------------------------------------

tmp=
declare -A restore=() # /proc/sys file -> value to put back
sysctl_name() { # /proc/sys/fs/inotify/x -> fs.inotify.x
	local n=${1#/proc/sys/}
	printf '%s\n' "${n//\//.}"
}
bench_cleanup() {
	local f
	for f in "${!restore[@]}"; do
		if printf '%s\n' "${restore[$f]}" >"$f" 2>/dev/null; then
			say "restored $(sysctl_name "$f") to ${restore[$f]}"
		else
			say "cannot restore $(sysctl_name "$f") to ${restore[$f]}"
		fi
	done
	restore=()
	if [[ -n $tmp ]]; then
		if [[ -n ${BENCH_TMPFS_OWNER:-} && $BENCH_TMPFS_OWNER == "$$" ]]; then
			umount -l -- "$tmp" 2>/dev/null || true
		fi
		rm -rf -- "$tmp"
		tmp=
	fi
}
# On a signal: clean up, then die of it, so that whoever ran us (bench/all,
# a shell loop) sees a signal and stops too, rather than an exit status.
bench_signal() {
	bench_cleanup
	trap - "$1" EXIT
	kill -s "$1" "$$"
}
trap bench_cleanup EXIT
trap 'bench_signal INT' INT
trap 'bench_signal TERM' TERM
trap 'bench_signal HUP' HUP

# bench_namespace "$@": as root, run this script again in a private mount
# namespace (once; nested scripts find themselves in it already), so that
# bench_tmp can mount a tmpfs that nobody else sees and that goes away with
# the script. BENCH_TMPFS=0 in the environment, or no unshare, or no
# permission: stay as we are (the scratch directory is then on $TMPDIR).
bench_namespace() {
	[[ ${BENCH_TMPFS:-1} != 0 && -z ${BENCH_IN_NS:-} && $EUID == 0 ]] || return 0
	command -v unshare >/dev/null || return 0
	unshare -m --propagation private true 2>/dev/null || return 0
	BENCH_IN_NS=1 exec unshare -m --propagation private -- "$BASH" "$0" "$@"
}

# bench_tmp: $tmp, a fresh scratch directory, removed at exit. Inside our
# own namespace (root) a tmpfs is mounted on it, unless an enclosing script
# (bench/all) mounted one already and handed it down in BENCH_SCRATCH.
bench_tmp() {
	local base=${BENCH_SCRATCH:-${TMPDIR:-/tmp}}
	tmp=$(mktemp -d "$base/vigil-bench.XXXXXX") || die "cannot make a directory in '$base'"
	if [[ -n ${BENCH_IN_NS:-} && -z ${BENCH_SCRATCH:-} ]]; then
		if mount -t tmpfs -o mode=0700 vigil-bench "$tmp" 2>/dev/null; then
			BENCH_TMPFS_OWNER=$$
		else
			say "cannot mount a tmpfs on '$tmp': using it as it is"
		fi
	fi
}

fstype() { # DIR: its file system's type
	findmnt -n -o FSTYPE -T "$1" 2>/dev/null || stat -f -c %T "$1" 2>/dev/null || echo '?'
}

# --- the helpers ----------------------------------------------------------------

# helper NAME: path of a working build of bench/NAME.c: meson's if it is newer
# than its source and the headers it includes, else compiled into $tmp/bin.
helper() {
	local name=$1 src=$here/$1.c built=$build/bench/$1 h fresh=1
	if [[ -x $built ]]; then
		for h in "$src" $(sed -n 's/^#include "\(.*\)"$/\1/p' "$src"); do
			[[ $h == /* ]] || h=$here/$h
			[[ $h -nt $built ]] && fresh=0
		done
	else
		fresh=0
	fi
	if ((fresh)); then
		printf '%s\n' "$built"
		return
	fi
	mkdir -p "$tmp/bin"
	if [[ ! -x $tmp/bin/$name ]]; then
		"${CC:-cc}" -std=c17 -O2 -D_GNU_SOURCE -o "$tmp/bin/$name" "$src" ||
			die "cannot compile '$src' with '${CC:-cc}'"
	fi
	printf '%s\n' "$tmp/bin/$name"
}

# --- the tools ------------------------------------------------------------------

# bench_tools: vigil (must run), and the others where installed: $inotifywait,
# $fswatch, $watchman are their paths or empty. VIGIL, INOTIFYWAIT, FSWATCH,
# WATCHMAN override the search ("" for one: leave it out).
bench_tools() {
	vigil=${VIGIL:-$build/vigil}
	[[ -x $vigil ]] || die "cannot run '$vigil': build vigil first (meson setup build && ninja -C build), or set VIGIL"
	inotifywait=${INOTIFYWAIT-$(command -v inotifywait || true)}
	fswatch=${FSWATCH-$(command -v fswatch || true)}
	watchman=${WATCHMAN-$(command -v watchman || true)}
	local t
	for t in inotifywait fswatch watchman; do
		if [[ -n ${!t} && ! -x ${!t} ]]; then
			die "cannot run '${!t}' (from ${t^^})"
		fi
	done
}

# inotifywait has no --version; its --help starts with it.
version() { "$@" 2>&1 | head -n 1 || true; }

# --- the watch limit --------------------------------------------------------------

# Watches this user holds now (other watchers keep running meanwhile).
watches_in_use() {
	local fd n=0 c
	while IFS= read -r fd; do
		c=$(grep -c '^inotify wd:' "${fd/\/fd\//\/fdinfo\/}" 2>/dev/null) || c=0
		n=$((n + c))
	done < <(find /proc/[0-9]*/fd -maxdepth 1 -user "$EUID" -lname 'anon_inode:inotify' 2>/dev/null || true)
	printf '%d\n' "$n"
}

# need_watches N: make sure N more watches fit (one tool runs at a time and
# releases its watches before it is reaped), with a margin of 1,000. Both
# knobs count: the system-wide sysctl and this user namespace's own. Raised
# for the run as root (put back at exit), or a message saying how.
need_watches() {
	local need f old name
	need=$(($(watches_in_use) + $1 + 1000))
	for f in /proc/sys/fs/inotify/max_user_watches /proc/sys/user/max_inotify_watches; do
		[[ -r $f ]] || continue
		old=$(<"$f")
		((old < need)) || continue
		name=$(sysctl_name "$f")
		if [[ -z ${restore[$f]:-} ]] && printf '%s\n' "$need" >"$f" 2>/dev/null; then
			restore[$f]=$old
			say "raised $name from $old to $need for the run (restored at exit)"
		else
			die "$name is $old, and the tree needs $need: raise it (as root: sysctl -w $name=$need)"
		fi
	done
}

# --- figures ------------------------------------------------------------------------

# burst_paths FILE BURSTS TOP: what a watcher reported of bench/burst's
# BURSTS bursts under TOP/ (FILE: the paths it printed, one a line):
# REPORTED MISSED TWICE (paths reported more than once, and paths that are
# not the burst's, count as twice).
burst_paths() {
	awk -v n="$2" -v top="$3/" '
		BEGIN {
			for (i = 0; i < n; i++) {
				p = "b" i; want[p]; want[p "/a"]; want[p "/a/b"]
				want[p "/a/b/c"]; want[p "/a/b/c/file"]
			}
		}
		index($0, top) == 1 { p = substr($0, length(top) + 1); if (p in want) seen[p]++; else other++ }
		END {
			got = 0; twice = 0
			for (p in seen) { got++; twice += seen[p] - 1 }
			printf "%d %d %d\n", got, 5 * n - got, twice + other
		}' "$1"
}

median() { # VALUES...: the median (mean of the middle two for an even count), or "-"
	(($#)) || { echo -; return; }
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B to 2 decimals, "-" if B is 0 or either is not a number
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b + 0 == 0) print "-"
		else printf "%.2f\n", a / b }'
}

# median_ratio "A1 A2 ..." "B1 B2 ...": the median of A_i/B_i, each pair from
# the same round, so that a drift of the machine over the rounds cancels.
median_ratio() {
	local -a num den ratios=()
	read -r -a num <<<"$1"
	read -r -a den <<<"$2"
	local i m
	for ((i = 0; i < ${#num[@]} && i < ${#den[@]}; i++)); do
		ratios+=("$(awk -v a="${num[i]}" -v b="${den[i]}" 'BEGIN { if (b + 0 > 0) printf "%.6f\n", a / b }')")
	done
	m=$(median "${ratios[@]}")
	if [[ $m == - ]]; then
		echo -
	else
		awk -v m="$m" 'BEGIN { printf "%.2f\n", m }'
	fi
}

# result FIGURE TOOL VALUE [RATIO_TO_VIGIL]: one line for bench/all, into
# $BENCH_RESULTS when it is set. FIGURE and TOOL are single words.
result() {
	[[ -n ${BENCH_RESULTS:-} ]] || return 0
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:--}" >>"$BENCH_RESULTS"
}

# machine: one line naming the machine, for the tables
machine() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
	printf '%s CPU(s)%s, kernel %s, load %s\n' "$(nproc)" "${cpu:+ ($cpu)}" "$(uname -r)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}
