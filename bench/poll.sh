#!/usr/bin/env bash
# bench/poll.sh: watching a folder mounted from elsewhere, where inotify is
# blind and a watcher has to poll. A tree of 100,000 files on a bindfs
# mount, changed behind the mount's back (as another machine would):
# vigil's CPU per poll interval while nothing changes, and the latency to
# see a file appear, against fswatch's poll_monitor and watchdog's
# PollingObserver at the same interval, in alternated rounds; and vigil on
# a local tree of the same size (auto: inotify, nothing polled), whose CPU
# and wake-ups while idle should both be 0.
#
# See bench/README.md for what the figures mean. Run with --help for options.

set -euo pipefail
prog=poll.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/poll.sh [--files N] [--interval S] [--idle K] [--changes C] [--runs R] [--quick]
A tree of N files (100 per directory) on a bindfs mount; each watcher polls
it every S seconds. Per round and watcher: its CPU (user + system, from
/proc/PID/stat) over K intervals in which nothing changes, per interval,
and the bindfs daemon's over the same time; then C files created behind
the mount's back, at a random phase of the interval, each one's latency
until the watcher prints it. Then vigil on a local copy of the tree:
its CPU and context switches over the same quiet spell. With perf, the
stat calls each watcher makes meanwhile are counted: passes over the
tree, and CPU per pass (a watcher that falls behind its interval makes
fewer passes than intervals; fswatch sleeps its interval after each pass).

  --files N     files in the tree (default 100000)
  --interval S  the poll interval, whole seconds (default 2)
  --idle K      intervals measured idle (default 5)
  --changes C   changes timed per round (default 3)
  --runs R      rounds, alternated (default 3)
  --quick       2,000 files, 1 s, 2 intervals, 1 change, 1 round (CI)

Environment: VIGIL, FSWATCH ("" leaves fswatch out), PYTHON (for watchdog,
default /usr/bin/python3; "" leaves it out), BENCH_TMPFS=0, TMPDIR, CC.
fswatch and python3-watchdog are installed from Debian when missing (as
root); bindfs too.
EOF
}

args=("$@")
files=100000 interval=2 idle=5 changes=3 runs=3
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--files) (($# > 1)) || die "option '--files' needs a number"; files=$(count --files "$2"); shift ;;
	--interval) (($# > 1)) || die "option '--interval' needs a number"; interval=$(count --interval "$2"); shift ;;
	--idle) (($# > 1)) || die "option '--idle' needs a number"; idle=$(count --idle "$2"); shift ;;
	--changes) (($# > 1)) || die "option '--changes' needs a number"; changes=$(count --changes "$2"); shift ;;
	--runs) (($# > 1)) || die "option '--runs' needs a number"; runs=$(count --runs "$2"); shift ;;
	--quick) files=2000 interval=1 idle=2 changes=1 runs=1 ;;
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

cpu_ticks() { # PID: utime + stime, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
hz=$(getconf CLK_TCK)
# perf counts the stat calls (passes); without it, CPU per interval only
perf=$(command -v perf || true)
stat_events=syscalls:sys_enter_newfstatat,syscalls:sys_enter_statx
if [[ -n $perf ]] && ! "$perf" stat -x, -e "$stat_events" -- true >/dev/null 2>&1; then
	say "perf cannot count syscalls here: CPU per pass is left out"
	perf=
fi
now_ns() { date +%s%N; }

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

# one_round TOOL ROUND: CPU per interval (ms), the daemon's (ms), latencies
# (ms). (A subshell: what it names is unique by TOOL and ROUND.)
one_round() {
	local tool=$1 out=$tmp/$1.out pid seq_n=0 tag=$1-$2
	: >"$out"
	local -a argv
	case $tool in
	vigil) argv=("$vigil" wait -m -r -q --poll-interval "${interval}s" -e create --format '%w%f' "$mnt") ;;
	fswatch) argv=("$fswatch" -m poll_monitor -r -l "$interval" "$mnt") ;;
	watchdog) argv=("$python" "$tmp/polling_observer.py" "$mnt" "$interval") ;;
	esac
	mkfifo "$tmp/fifo.$tool"
	/usr/bin/python3 "$tmp/stamp.py" "$out" <"$tmp/fifo.$tool" &
	local stamper=$!
	"${argv[@]}" >"$tmp/fifo.$tool" 2>"$tmp/$tool.err" &
	pid=$!
	# set up: once it reports a file made behind its back
	local ready=0
	for ((k = 0; k < 120 && !ready; k++)); do
		seq_n=$((seq_n + 1))
		: >"$src/ready-$tag-$seq_n"
		wait_line "$out" "ready-$tag-$seq_n" $((2 * interval + 5)) >/dev/null && ready=1
	done
	((ready)) || { kill "$pid" 2>/dev/null; die "$tool: never reported a change; its stderr: $(cat "$tmp/$tool.err")"; }
	sleep $((interval + 1)) # past the ready file's own follow-up events
	local c0 d0 c1 d1 stats=-
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
	local cpu daemon passes=- per_pass=- lat=()
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v k="$idle" 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / k }')
	daemon=$(awk -v a="$d0" -v b="$d1" -v hz="$hz" -v k="$idle" 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / k }')
	if [[ $stats != - ]]; then
		passes=$(awk -v n="$stats" -v f="$files" 'BEGIN { printf "%.2f", n / f }')
		per_pass=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v p="$passes" \
			'BEGIN { if (p > 0) printf "%.1f", (b - a) * 1000 / hz / p; else print "-" }')
	fi
	for ((k = 0; k < changes; k++)); do
		sleep "$(awk -v s="$RANDOM" -v i="$interval" 'BEGIN { printf "%.3f", s / 32768 * i }')"
		seq_n=$((seq_n + 1))
		local t0 t1
		t0=$(now_ns)
		: >"$src/change-$tag-$seq_n"
		t1=$(wait_line "$out" "change-$tag-$seq_n" $((4 * interval + 10))) ||
			{ kill "$pid" 2>/dev/null; die "$tool: did not report change-$tag-$seq_n"; }
		lat+=("$(((t1 - t0) / 1000000))")
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	wait "$stamper" 2>/dev/null || true
	rm -f "$tmp/fifo.$tool"
	printf '%s %s %s %s %s\n' "$cpu" "$daemon" "$passes" "$per_pass" "${lat[*]}"
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
declare -A cpus=() daemons=() lats=() passes=() per_pass=()
for ((round = 1; round <= runs; round++)); do
	for tool in "${tools[@]}"; do
		read -r cpu daemon pa pp lat <<<"$(one_round "$tool" "$round")"
		cpus[$tool]+="$cpu "
		daemons[$tool]+="$daemon "
		lats[$tool]+="$lat "
		passes[$tool]+="$pa "
		per_pass[$tool]+="$pp "
		say "  round $round: $(printf '%-9s %8s ms CPU per interval (bindfs %s ms), %s passes in %s s, %s ms per pass, latency %s ms' \
			"$tool" "$cpu" "$daemon" "$pa" $((idle * interval)) "$pp" "$lat")"
	done
done
read -r local_cpu local_ctx <<<"$(local_round)"

echo "poll: $files files in $dirs directories on a bindfs mount, polled every ${interval}s"
machine
echo "$runs round(s), alternated; medians; CPU over $idle quiet intervals, per interval of wall time and per pass (a pass: one stat call per file, counted by perf; a watcher that falls behind makes fewer passes than intervals); latency from a file created behind the mount to the line, $changes per round at a random phase"
echo
printf '%-10s %14s %16s %12s %12s %13s %11s %10s\n' tool 'CPU/interval' 'passes/interval' 'CPU/pass' 'bindfs/int.' 'latency (ms)' 'worst (ms)' 'vs fswatch'
for tool in "${tools[@]}"; do
	# shellcheck disable=SC2086
	c=$(median ${cpus[$tool]})
	# shellcheck disable=SC2086
	d=$(median ${daemons[$tool]})
	# shellcheck disable=SC2086
	l=$(median ${lats[$tool]})
	# shellcheck disable=SC2086
	pa=$(median ${passes[$tool]})
	[[ $pa == - ]] || pa=$(awk -v p="$pa" -v k="$idle" 'BEGIN { printf "%.2f", p / k }')
	# shellcheck disable=SC2086
	pp=$(median ${per_pass[$tool]})
	# shellcheck disable=SC2086
	w=$(printf '%s\n' ${lats[$tool]} | sort -n | tail -1)
	vs=-
	[[ -z $fswatch ]] || vs=$(median_ratio "${per_pass[$tool]}" "${per_pass[fswatch]}")
	printf '%-10s %11s ms %16s %9s ms %9s ms %13s %11s %10s\n' "$tool" "$c" "$pa" "$pp" "$d" "$l" "$w" "$vs"
	result poll_cpu "$tool" "$c"
	result poll_cpu_per_pass "$tool" "$pp"
	result poll_latency "$tool" "$l"
done
echo
echo "vigil on a local tree of the same size (auto: inotify, nothing polled), $((idle * interval)) s quiet: $local_cpu ms CPU, $local_ctx context switches"
result poll_local_cpu vigil "$local_cpu"
result poll_local_ctxsw vigil "$local_ctx"
