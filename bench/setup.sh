#!/usr/bin/env bash
# bench/setup.sh: how long recursive set-up takes, and what it costs in
# memory, for `vigil wait -m -r` against `inotifywait -m -r`, on one big tree.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail

prog=setup.sh
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
line='Watches established.'

usage() {
	cat <<EOF
usage: bench/setup.sh [--runs N] [--dirs N] [--files N] [--quick] [--cold]
Time recursive set-up ('vigil wait -m -r DIR' until "$line")
and measure memory and watches, against 'inotifywait -m -r DIR'.

  --runs N    timed runs per tool (default 5), in the order A B A B ...
  --dirs N    directories in the tree (default 100000)
  --files N   empty files in each directory (default 0)
  --quick     2000 directories and 1 run, for CI (--dirs/--runs still apply)
  --cold      drop the page, dentry and inode caches before every timed run
              (needs root); otherwise one untimed warm-up run per tool first

Environment: VIGIL (the vigil binary; default bench/../build/vigil),
INOTIFYWAIT (default: inotifywait in PATH), CC (to build the helpers if meson
has not), TMPDIR (where the tree goes: its file system matters).
EOF
}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

count() { # NAME VALUE: a non-negative decimal integer
	[[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a number, not '$2'"
	printf '%d' "$((10#$2))"
}

runs='' dirs='' files=0 quick=0 cold=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--runs=*) runs=$(count --runs "${1#*=}") ;;
	--dirs) (($# > 1)) || die "option '--dirs' needs a number"; dirs=$(count --dirs "$2"); shift ;;
	--dirs=*) dirs=$(count --dirs "${1#*=}") ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--files=*) files=$(count --files "${1#*=}") ;;
	--quick) quick=1 ;;
	--cold) cold=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
if ((quick)); then
	: "${runs:=1}" "${dirs:=2000}"
else
	: "${runs:=5}" "${dirs:=100000}"
fi
((runs >= 1)) || die "--runs must be at least 1"
((dirs >= 1)) || die "--dirs must be at least 1"
fanout=10

# --- what to measure --------------------------------------------------------

build=$(cd -- "$here/.." && pwd)/build
vigil=${VIGIL:-$build/vigil}
[[ -x $vigil ]] || die "cannot run '$vigil': build vigil first (meson setup build && ninja -C build), or set VIGIL"
inotifywait=${INOTIFYWAIT:-$(command -v inotifywait || true)}
if [[ -n $inotifywait && ! -x $inotifywait ]]; then
	die "cannot run '$inotifywait' (from INOTIFYWAIT)"
fi
[[ -n $inotifywait ]] || say "inotifywait not found: measuring vigil alone"

if ((cold)); then
	[[ -w /proc/sys/vm/drop_caches ]] || die "--cold needs root: cannot write '/proc/sys/vm/drop_caches'"
fi

# --- clean-up: everything below is undone at exit, however we leave ----------

tmp=
declare -A restore=() # /proc/sys file -> value to put back
sysctl_name() { # /proc/sys/fs/inotify/x -> fs.inotify.x
	local n=${1#/proc/sys/}
	printf '%s\n' "${n//\//.}"
}
cleanup() {
	local f
	for f in "${!restore[@]}"; do
		if printf '%s\n' "${restore[$f]}" >"$f" 2>/dev/null; then
			say "restored $(sysctl_name "$f") to ${restore[$f]}"
		else
			say "cannot restore $(sysctl_name "$f") to ${restore[$f]}"
		fi
	done
	if [[ -n $tmp ]]; then
		rm -rf -- "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench.XXXXXX")
tree=$tmp/tree

# --- helpers: meson-built if up to date, else compiled here -----------------

helper() { # NAME: path of a working build of bench/NAME.c
	local name=$1 src=$here/$1.c built=$build/bench/$1
	if [[ -x $built && ! $src -nt $built ]]; then
		printf '%s\n' "$built"
		return
	fi
	"${CC:-cc}" -std=c17 -O2 -D_GNU_SOURCE -o "$tmp/$name" "$src" ||
		die "cannot compile '$src' with '${CC:-cc}'"
	printf '%s\n' "$tmp/$name"
}
mktree=$(helper mktree)
watchtime=$(helper watchtime)

# --- the watch limit ----------------------------------------------------------

# Watches this user holds now (other watchers keep running meanwhile).
watches_in_use() {
	local fd n=0 c
	while IFS= read -r fd; do
		c=$(grep -c '^inotify wd:' "${fd/\/fd\//\/fdinfo\/}" 2>/dev/null) || c=0
		n=$((n + c))
	done < <(find /proc/[0-9]*/fd -maxdepth 1 -user "$EUID" -lname 'anon_inode:inotify' 2>/dev/null || true)
	printf '%d\n' "$n"
}

# One tool runs at a time and releases its watches before it is reaped, so
# the tree's directories, plus what is in use, plus a margin must fit. Both
# knobs count: the system-wide sysctl and this user namespace's own.
need=$(($(watches_in_use) + dirs + 1 + 1000))
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

# --- the tree ---------------------------------------------------------------

fstype=$(findmnt -n -o FSTYPE -T "$tmp" 2>/dev/null || stat -f -c %T "$tmp" 2>/dev/null || echo '?')
with_files=
((files == 0)) || with_files=" with $files files each"
say "building $dirs directories$with_files (fanout $fanout) in $tree ($fstype)"
t0=$(date +%s%N)
"$mktree" --files "$files" "$tree" "$dirs" "$fanout" || die "cannot build the tree"
t1=$(date +%s%N)
say "tree built in $(((t1 - t0) / 1000000)) ms"

# --- measuring ----------------------------------------------------------------

tools=(vigil)
[[ -z $inotifywait ]] || tools+=(inotifywait)
declare -A setup_us=() hwm_kib=() rss_kib=() nwatch=()

drop_caches() {
	sync
	printf '3\n' >/proc/sys/vm/drop_caches
}

measure() { # TOOL [untimed]: one run; appends the figures unless untimed
	local tool=$1 out us hwm rss w
	local -a argv
	case $tool in
	vigil) argv=("$vigil" wait -m -r) ;;
	inotifywait) argv=("$inotifywait" -m -r) ;;
	*) die "no tool '$tool'" ;;
	esac
	if ((cold)); then drop_caches; fi
	out=$("$watchtime" "$line" "${argv[@]}" "$tree") || die "$tool failed (see above)"
	read -r us hwm rss w <<<"$out"
	if ((w != dirs + 1)); then
		say "warning: $tool held $w watches, not $((dirs + 1)) (the tree and its top)"
	fi
	[[ ${2:-} == untimed ]] && return
	setup_us[$tool]+="$us " hwm_kib[$tool]+="$hwm " rss_kib[$tool]+="$rss " nwatch[$tool]=$w
	printf '%s:   %-11s %9.1f ms %7.1f MiB peak RSS\n' "$prog" "$tool" \
		"$(awk -v u="$us" 'BEGIN { print u / 1000 }')" \
		"$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" >&2
}

if ((!cold)); then
	say "warm-up (untimed): ${tools[*]}"
	for tool in "${tools[@]}"; do
		measure "$tool" untimed
	done
fi
for ((run = 1; run <= runs; run++)); do
	say "run $run of $runs"
	for tool in "${tools[@]}"; do
		measure "$tool"
	done
done

# --- the table ----------------------------------------------------------------

median() { # VALUES...: the median (mean of the middle two for an even count)
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A med_ms=() med_hwm=() med_rss=()
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086 # the lists are space-separated numbers
	{
		med_ms[$tool]=$(awk -v v="$(median ${setup_us[$tool]})" 'BEGIN { printf "%.1f", v / 1000 }')
		med_hwm[$tool]=$(awk -v v="$(median ${hwm_kib[$tool]})" 'BEGIN { printf "%.1f", v / 1024 }')
		med_rss[$tool]=$(awk -v v="$(median ${rss_kib[$tool]})" 'BEGIN { printf "%.1f", v / 1024 }')
	}
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# inotifywait has no --version; its --help starts with it.
version() { "$@" 2>&1 | head -n 1 || true; }
cache=warm
((cold == 0)) || cache=cold
echo "recursive set-up: $dirs directories$with_files (fanout $fanout) on $fstype, kernel $(uname -r)"
echo "median of $runs $cache run(s) per tool, alternated"
echo "  $vigil: $(version "$vigil" --version)"
[[ -z $inotifywait ]] || echo "  $inotifywait: $(version "$inotifywait" --help)"
echo
printf '%-18s %12s %14s %10s %9s\n' tool 'set-up ms' 'peak RSS MiB' 'RSS MiB' watches
for tool in "${tools[@]}"; do
	printf '%-18s %12s %14s %10s %9s\n' "$tool" "${med_ms[$tool]}" "${med_hwm[$tool]}" \
		"${med_rss[$tool]}" "${nwatch[$tool]}"
done
if [[ -n $inotifywait ]]; then
	printf '%-18s %12s %14s %10s\n' 'vigil/inotifywait' \
		"$(ratio "${med_ms[vigil]}" "${med_ms[inotifywait]}")" \
		"$(ratio "${med_hwm[vigil]}" "${med_hwm[inotifywait]}")" \
		"$(ratio "${med_rss[vigil]}" "${med_rss[inotifywait]}")"
fi
