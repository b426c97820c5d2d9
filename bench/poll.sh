#!/usr/bin/env bash
# bench/poll.sh: watching a folder mounted from elsewhere, where inotify is
# blind and a watcher has to poll. A tree of 100,000 files on a bindfs
# mount, changed behind the mount's back (as another machine would): each
# watcher's CPU per poll interval and per pass over the tree while nothing
# changes, the bindfs daemon's CPU that it causes, and the latency to see a
# file appear, for vigil, fswatch's poll_monitor, watchdog's
# PollingObserver and the floor (the stat calls alone) at the same
# interval, in alternated rounds; then vigil on a local tree of the same
# size (auto: inotify, nothing polled), whose CPU and wake-ups while idle
# should both be 0.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=poll.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/poll.sh [--files N] [--interval S] [--idle K] [--changes C] [--runs R]
                     [--watchdog-tenth] [--quick]
A tree of N files (100 per directory) on a bindfs mount; each watcher polls
it every S seconds. Per round and watcher: its CPU (user + system, from
/proc/PID/stat) over K intervals in which nothing changes, per interval and
per pass over the tree (its stat calls, counted by perf, over the entries
in the tree: a watcher that falls behind makes fewer passes than
intervals, and fswatch sleeps its interval after each pass), and the bindfs
daemon's CPU over the same time; then C files created behind the mount's
back at random moments (gaps drawn from 0 to 2S, whatever the watcher does
meanwhile), each one's latency until the watcher prints it. The floor
(bench/floor_poll.c) makes the stat calls alone, one pass an interval.
Then vigil on a local copy of the tree: its CPU and context switches over
the same quiet spell.

  --files N          files in the tree (default 100000)
  --interval S       the poll interval, whole seconds (default 2)
  --idle K           intervals measured idle (default 10)
  --changes C        changes timed per round (default 5)
  --runs R           rounds, alternated (default 3)
  --watchdog-tenth   watchdog watches a tenth of the tree (its first top
                     directory): for where it cannot keep up with all of it
  --quick            2,000 files, 1 s, 2 intervals, 2 changes, 1 round (CI)

Environment: VIGIL, FSWATCH ("" leaves fswatch out), PYTHON (for watchdog,
default /usr/bin/python3; "" leaves it out), FLOOR=0 (leaves the floor
out), BENCH_TMPFS=0, TMPDIR, CC. fswatch and python3-watchdog are installed
from Debian when missing (as root); bindfs too.
EOF
}

args=("$@")
files=100000 interval=2 idle=10 changes=5 runs=3 wd_tenth=0
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--interval) (($# > 1)) || die "option '--interval' needs a number"; interval=$(count --interval "$2"); shift ;;
	--idle) (($# > 1)) || die "option '--idle' needs a number"; idle=$(count --idle "$2"); shift ;;
	--changes) (($# > 1)) || die "option '--changes' needs a number"; changes=$(count --changes "$2"); shift ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--watchdog-tenth) wd_tenth=1 ;;
	--quick) files=2000 interval=1 idle=2 changes=2 runs=1 ;;
	*) die "unknown argument '$1' (try '$prog --help')" ;;
	esac
	shift
done
((files >= 100 && interval >= 1 && idle >= 1 && changes >= 1 && runs >= 1)) ||
	die "--files at least 100, and --interval, --idle, --changes, --runs at least 1"

# the peers, from Debian when missing (as root)
need_pkgs=()
command -v bindfs >/dev/null || need_pkgs+=(bindfs)
python=${PYTHON-/usr/bin/python3}
if [[ -z ${FSWATCH+set} ]] && ! command -v fswatch >/dev/null; then need_pkgs+=(fswatch); fi
if [[ -n $python ]] && ! "$python" -c 'import watchdog' 2>/dev/null; then need_pkgs+=(python3-watchdog); fi
if ((${#need_pkgs[@]})); then
	((EUID == 0)) || die "missing: ${need_pkgs[*]} (apt-get install them as root)"
	say "installing ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2 ||
		die "cannot install ${need_pkgs[*]}"
fi
[[ -e /dev/fuse ]] || die "no /dev/fuse: FUSE is not available here"

bench_namespace "${args[@]}"
bench_tools
bench_tmp
mktree=$(helper mktree)
floor=
[[ ${FLOOR:-1} == 0 ]] || floor=$(helper floor_poll)
cd "$tmp"
src=$tmp/src mnt=$tmp/mnt local_tree=$tmp/local
dirs=$(((files + 99) / 100))
"$mktree" --files 100 "$src" $((dirs - 1)) 10 || die "cannot build the tree"
"$mktree" --files 100 "$local_tree" $((dirs - 1)) 10 || die "cannot build the local tree"
mkdir "$mnt"
bindfs --no-allow-other "$src" "$mnt" || die "cannot mount bindfs on '$mnt'"
bindfs_pid=$(pgrep -n -f "^bindfs --no-allow-other $src $mnt\$" || true)
unmount() { fusermount -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; }
trap 'unmount; bench_cleanup' EXIT
trap 'unmount; bench_signal INT' INT
trap 'unmount; bench_signal TERM' TERM
trap 'unmount; bench_signal HUP' HUP

# watchdog's PollingObserver, printing each event's path as it comes
cat >"$tmp/polling_observer.py" <<'EOF'
import sys, time
from watchdog.observers.polling import PollingObserver
from watchdog.events import FileSystemEventHandler
class Print(FileSystemEventHandler):
    def on_any_event(self, e):
        print(e.event_type, e.src_path, flush=True)
o = PollingObserver(timeout=float(sys.argv[2]))
o.schedule(Print(), sys.argv[1], recursive=True)
o.start()
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    o.stop()
EOF
# each line the watcher prints, stamped (ns, CLOCK_REALTIME) on arrival
cat >"$tmp/stamp.py" <<'EOF'
import sys, time
with open(sys.argv[1], "a", buffering=1) as out:
    for line in sys.stdin:
        out.write(f"{time.time_ns()} {line}")
EOF

tools=(vigil)
[[ -z $fswatch ]] || tools+=(fswatch)
[[ -z $python ]] || tools+=(watchdog)
[[ -z $floor ]] || tools+=(floor)

# what TOOL watches (below the mount), and the stat calls a pass makes
# there: one for each file and directory in it
sub_of() { [[ $1 == watchdog && $wd_tenth == 1 ]] && echo /d0 || true; }
declare -A entries=()
for tool in "${tools[@]}"; do
	entries[$tool]=$(find "$src$(sub_of "$tool")" -mindepth 1 | wc -l)
done

cpu_ticks() { # PID: utime + stime, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
hz=$(getconf CLK_TCK)
load1() { cut -d' ' -f1 /proc/loadavg; }
# perf counts the stat calls (passes); without it, CPU per interval only
perf=$(command -v perf || true)
stat_events=syscalls:sys_enter_newfstatat,syscalls:sys_enter_statx
if [[ -n $perf ]] && ! "$perf" stat -x, -e "$stat_events" -- true >/dev/null 2>&1; then
	say "perf cannot count syscalls here: CPU per pass is left out"
	perf=
fi
now_us() { printf '%s\n' "${EPOCHREALTIME/./}"; }

# wait_line FILE NAME SECONDS: until a line of FILE names NAME; its stamp
wait_line() {
	local end=$((SECONDS + $3)) l
	while ((SECONDS < end)); do
		l=$(grep -m1 -F -- "/$2" "$1" 2>/dev/null || true)
		if [[ -n $l ]]; then
			printf '%s\n' "${l%% *}"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# per_unit TICKS UNITS: milliseconds of CPU per unit, or "-"
per_unit() {
	awk -v t="$1" -v u="$2" -v hz="$hz" 'BEGIN {
		if (u ~ /^[0-9.]+$/ && u > 0) printf "%.1f", t * 1000 / hz / u; else print "-" }'
}

# one_round TOOL ROUND: its CPU per interval and per pass, the daemon's
# (ms), passes, the load, then the latencies (ms). (A subshell: what it
# names is unique by TOOL and ROUND.)
one_round() {
	local tool=$1 out=$tmp/$1.out pid stamper= seq_n=0 tag=$1-$2 sub
	sub=$(sub_of "$tool")
	local dir=$mnt$sub behind=$src$sub
	: >"$out"
	local -a argv
	case $tool in
	vigil) argv=("$vigil" wait -m -r -q --poll-interval "${interval}s" -e create --format '%w%f' "$dir") ;;
	fswatch) argv=("$fswatch" -m poll_monitor -r -l "$interval" "$dir") ;;
	watchdog) argv=("$python" "$tmp/polling_observer.py" "$dir" "$interval") ;;
	floor) argv=("$floor" "$dir" "$interval") ;;
	esac
	if [[ $tool == floor ]]; then
		"${argv[@]}" >/dev/null 2>"$tmp/$tool.err" &
		pid=$!
		local end=$((SECONDS + 600))
		until grep -q "$line" "$tmp/$tool.err"; do
			((SECONDS < end)) || { kill "$pid" 2>/dev/null; die "floor: no '$line'"; }
			sleep 0.1
		done
	else
		mkfifo "$tmp/fifo.$tool"
		/usr/bin/python3 "$tmp/stamp.py" "$out" <"$tmp/fifo.$tool" &
		stamper=$!
		"${argv[@]}" >"$tmp/fifo.$tool" 2>"$tmp/$tool.err" &
		pid=$!
		# set up: once it reports a file made behind its back
		local ready=0 k
		for ((k = 0; k < 120 && !ready; k++)); do
			seq_n=$((seq_n + 1))
			: >"$behind/ready-$tag-$seq_n"
			wait_line "$out" "ready-$tag-$seq_n" $((2 * interval + 5)) >/dev/null && ready=1
		done
		((ready)) || { kill "$pid" 2>/dev/null; die "$tool: never reported a change; its stderr: $(cat "$tmp/$tool.err")"; }
	fi
	sleep $((interval + 1)) # past the ready file's own follow-up events
	local c0 d0 c1 d1 stats=- load
	load=$(load1)
	c0=$(cpu_ticks "$pid")
	d0=$(cpu_ticks "${bindfs_pid:-0}")
	if [[ -n $perf ]]; then
		# the stat calls made meanwhile: how many passes that was
		stats=$("$perf" stat -x, -e "$stat_events" -p "$pid" -- sleep $((idle * interval)) 2>&1 |
			awk -F, '$3 ~ /sys_enter/ { n += $1 } END { print n + 0 }')
	else
		sleep $((idle * interval))
	fi
	c1=$(cpu_ticks "$pid")
	d1=$(cpu_ticks "${bindfs_pid:-0}")
	local passes=- lat=()
	[[ $stats == - ]] || passes=$(awk -v n="$stats" -v e="${entries[$tool]}" 'BEGIN { printf "%.2f", n / e }')
	if [[ $tool != floor ]]; then
		# changes at random moments, whatever the watcher is doing: each
		# gap drawn from 0 to two intervals, none waiting for a report
		local -a made=()
		for ((k = 0; k < changes; k++)); do
			local gap_ms=$((RANDOM * 2000 * interval / 32768))
			sleep "$((gap_ms / 1000)).$(printf '%03d' $((gap_ms % 1000)))"
			seq_n=$((seq_n + 1))
			made+=("$(now_us)")
			: >"$behind/change-$tag-$seq_n"
		done
		local first=$((seq_n - changes + 1)) t1
		for ((k = 0; k < changes; k++)); do
			t1=$(wait_line "$out" "change-$tag-$((first + k))" $((4 * interval + 30))) ||
				{ kill "$pid" 2>/dev/null; die "$tool: did not report change-$tag-$((first + k))"; }
			lat+=("$(((t1 / 1000 - made[k]) / 1000))")
		done
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if [[ -n $stamper ]]; then
		wait "$stamper" 2>/dev/null || true
		rm -f "$tmp/fifo.$tool"
	fi
	printf '%s %s %s %s %s %s %s\n' "$(per_unit $((c1 - c0)) "$idle")" "$(per_unit $((c1 - c0)) "$passes")" \
		"$(per_unit $((d1 - d0)) "$idle")" "$(per_unit $((d1 - d0)) "$passes")" "$passes" "$load" "${lat[*]:-}"
}

# vigil on the local tree: CPU (ms) and context switches over the quiet spell
local_round() {
	local ctx=$tmp/local.err
	"$vigil" wait -m -r "$local_tree" >/dev/null 2>"$ctx" &
	local pid=$!
	local end=$((SECONDS + 120))
	until grep -q "$line" "$ctx"; do
		((SECONDS < end)) || die "vigil on the local tree: no '$line'"
		sleep 0.1
	done
	sleep 1
	local c0 c1 v0 v1
	c0=$(cpu_ticks "$pid")
	v0=$(awk '/ctxt_switches/ { n += $2 } END { print n }' "/proc/$pid/status")
	sleep $((idle * interval))
	c1=$(cpu_ticks "$pid")
	v1=$(awk '/ctxt_switches/ { n += $2 } END { print n }' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	printf '%s %s\n' "$(((c1 - c0) * 1000 / hz))" "$((v1 - v0))"
}

say "poll: $files files in $dirs directories on bindfs (over $(fstype "$src")), every ${interval}s; $runs round(s) of: ${tools[*]}, then vigil on a local tree"
((wd_tenth)) && say "watchdog watches a tenth of the tree: ${entries[watchdog]:-0} files and directories"
declare -A cpus=() per_pass=() daemons=() daemon_pass=() passes=() lats=()
loads=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		res=$(one_round "$tool" "$round") || exit 1
		read -r cpu pp d dp pa load lat <<<"$res"
		cpus[$tool]+="$cpu "
		per_pass[$tool]+="$pp "
		daemons[$tool]+="$d "
		daemon_pass[$tool]+="$dp "
		passes[$tool]+="$pa "
		[[ -z $lat ]] || lats[$tool]+="$lat "
		loads+=("$load")
		say "  round $round: $(printf '%-8s %7s ms CPU per interval, %s passes in %s s, %s ms per pass (bindfs %s ms per interval, %s per pass); load %s; latency %s ms' \
			"$tool" "$cpu" "$pa" $((idle * interval)) "$pp" "$d" "$dp" "$load" "${lat:--}")"
	done
done
res=$(local_round) || exit 1
read -r local_cpu local_ctx <<<"$res"

load_range="$(printf '%s\n' "${loads[@]}" | sort -g | head -1) to $(printf '%s\n' "${loads[@]}" | sort -g | tail -1)"
echo "poll: $files files in $dirs directories on a bindfs mount, polled every ${interval}s"
machine
echo "$runs round(s), alternated; medians; the load (1 min) at the start of each measurement: $load_range"
echo "CPU over $idle quiet intervals (user + system), per interval of wall time and per pass (a pass: one stat call per file and directory, counted by perf); the bindfs daemon's CPU caused meanwhile; latency from a file created behind the mount, at a random moment, to the line ($changes per round)"
((wd_tenth)) && echo "watchdog watched a tenth of the tree (${entries[watchdog]} files and directories): it does not keep up with all of it"
echo
printf '%-9s %13s %10s %11s %13s %12s %13s %11s %11s %11s\n' tool 'CPU/interval' 'passes/int' 'CPU/pass' 'bindfs/int.' 'bindfs/pass' 'latency (ms)' 'worst (ms)' 'pass vs fsw' 'int. vs fsw'
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086
	c=$(median ${cpus[$tool]})
	# shellcheck disable=SC2086
	pp=$(median ${per_pass[$tool]})
	# shellcheck disable=SC2086
	d=$(median ${daemons[$tool]})
	# shellcheck disable=SC2086
	dp=$(median ${daemon_pass[$tool]})
	# shellcheck disable=SC2086
	pa=$(median ${passes[$tool]})
	[[ $pa == - ]] || pa=$(awk -v p="$pa" -v k="$idle" 'BEGIN { printf "%.2f", p / k }')
	l=- w=-
	if [[ -n ${lats[$tool]:-} ]]; then
		# shellcheck disable=SC2086
		l=$(median ${lats[$tool]})
		# shellcheck disable=SC2086
		w=$(printf '%s\n' ${lats[$tool]} | sort -n | tail -1)
	fi
	vs=- vi=-
	if [[ -n $fswatch ]]; then
		vs=$(median_ratio "${per_pass[$tool]}" "${per_pass[fswatch]}")
		vi=$(median_ratio "${cpus[$tool]}" "${cpus[fswatch]}")
	fi
	printf '%-9s %10s ms %10s %8s ms %10s ms %9s ms %13s %11s %11s %11s\n' "$tool" "$c" "$pa" "$pp" "$d" "$dp" "$l" "$w" "$vs" "$vi"
	result poll_cpu "$tool" "$c"
	result poll_cpu_per_pass "$tool" "$pp"
	result poll_bindfs_per_pass "$tool" "$dp"
	[[ $l == - ]] || result poll_latency "$tool" "$l"
done
echo
echo "vigil on a local tree of the same size (auto: inotify, nothing polled), $((idle * interval)) s quiet: $local_cpu ms CPU, $local_ctx context switches"
result poll_local_cpu vigil "$local_cpu"
result poll_local_ctxsw vigil "$local_ctx"
