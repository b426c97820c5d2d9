#!/usr/bin/env bash
# bench/mqtt.sh: files announced over MQTT, on loopback, vigil against the
# pipeline people glue together today:
#   inotifywait -m -e close_write,moved_to --format '{"path":"%w%f"}' DIR |
#       mosquitto_pub -l -q 1 -t TOPIC
# side by side in the same run, in alternated rounds, through one mosquitto
# of the script's own:
#   - messages per second published: N files dropped, to the last message
#     a subscriber receives; and the publisher's CPU time per message
#     meanwhile (vigil; inotifywait and mosquitto_pub together), which is
#     what the rate comes down to on a machine busy with other work;
#   - latency from a file's close() to the remote job's start, p50 and p99:
#     the far side is `vigil run --subscribe` for vigil, and
#     `mosquitto_sub | a Python loop` for the pipeline, each starting the
#     same job (stamp, which notes the time it started);
#   - what each loses across a broker restart: files written at a steady
#     pace while the broker is stopped (SIGTERM: it saves its state) and
#     started again; a subscriber with a persistent session counts them,
#     distinct, and those received twice.
# vigil runs as the durable service it is meant to be: --state, QoS 1,
# --settle 0 on both sides (the pipeline does not settle).
#
# See bench/README.md. Run with --help for options.

set -euo pipefail
prog=mqtt.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: bench/mqtt.sh [--files N] [--latency-files N] [--restart-files N] [--runs N] [--quick]
Through a mosquitto of its own on 127.0.0.1, vigil run --publish (and
--subscribe) against 'inotifywait -m ... | mosquitto_pub -l -q 1', A B A B...:

  --files N          files for the throughput figure (default 5000)
  --latency-files N  files, 20 ms apart, for the latency figure (default 200)
  --restart-files N  files, 2 ms apart, across the broker's restart (default 2000)
  --runs N           rounds (default 3)
  --quick            300, 30 and 150 files, 1 round (CI)

Environment: VIGIL, INOTIFYWAIT, MOSQUITTO, BENCH_TMPFS=0, TMPDIR, CC.
EOF
}

args=("$@")
files=5000 lat_files=200 restart_files=2000 runs=3
while (($#)); do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--files) files=$(count files "${2:?}"); shift ;;
	--latency-files) lat_files=$(count latency-files "${2:?}"); shift ;;
	--restart-files) restart_files=$(count restart-files "${2:?}"); shift ;;
	--runs) runs=$(count runs "${2:?}"); shift ;;
	--quick) files=300 lat_files=30 restart_files=150 runs=1 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

vigil=${VIGIL:-$build/vigil}
inotifywait=${INOTIFYWAIT:-$(command -v inotifywait || true)}
mosquitto=${MOSQUITTO:-$(command -v mosquitto || true)}
py=/usr/bin/python3
[[ -x $vigil ]] || die "no vigil at '$vigil' (build it, or set VIGIL)"
# nothing to measure is not a broken script (bench/all): said, exit 0
skip() { say "skipped: $*"; exit 0; }
[[ $("$vigil" run --help 2>&1) == *--publish* ]] || skip "'$vigil' is built without MQTT"
[[ -n $mosquitto ]] || skip "no mosquitto (./scripts/bootstrap --test installs it)"
command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null ||
	skip "no mosquitto_pub/mosquitto_sub (mosquitto-clients)"
[[ -n $inotifywait ]] || skip "no inotifywait (inotify-tools)"

bench_namespace "${args[@]}"
bench_tmp
stamp=$(helper stamp)

pids=()
stop_all() {
	local p
	# (a pipeline in the background is a subshell: its children first,
	# by their parent's pid)
	for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop_all; stop_broker; bench_cleanup' EXIT
trap 'stop_all; stop_broker; bench_signal INT' INT
trap 'stop_all; stop_broker; bench_signal TERM' TERM

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=mqtt://127.0.0.1:$port
broker_pid=
start_broker() {
	mkdir -p "$tmp/broker"
	printf '%s\n' "listener $port 127.0.0.1" "allow_anonymous true" "persistence true" \
		"persistence_location $tmp/broker/" "user root" "max_queued_messages 0" \
		"log_dest stderr" "log_type notice" "log_type information" "log_type subscribe" >"$tmp/broker/conf"
	local before
	before=$(grep -c ' running$' "$tmp/broker/log" 2>/dev/null || true)
	"$mosquitto" -c "$tmp/broker/conf" >>"$tmp/broker/log" 2>&1 &
	broker_pid=$!
	local i
	for ((i = 0; i < 600; i++)); do
		(($(grep -c ' running$' "$tmp/broker/log" || true) > ${before:-0})) && return 0
		sleep 0.05
	done
	die "mosquitto did not start: $(tail -n 3 "$tmp/broker/log")"
}
stop_broker() {
	[[ -n $broker_pid ]] || return 0
	kill -TERM "$broker_pid" 2>/dev/null || true
	wait "$broker_pid" 2>/dev/null || true
	broker_pid=
}
# wait_line FILE REGEX SECONDS
wait_line() {
	local end=$((SECONDS + $3))
	until grep -E -q -- "$2" "$1" 2>/dev/null; do
		((SECONDS < end)) || die "timed out waiting for /$2/ in $1: $(tail -n 3 "$1")"
		sleep 0.02
	done
}
now_ns() { date +%s%N; }
# client_in ID: wait until client ID has subscribed (the broker's log
# says "TIME: ID QOS TOPIC"); connected ID: until it has connected
client_in() { wait_line "$tmp/broker/log" ": $1 [0-2] " 30; }
connected() { wait_line "$tmp/broker/log" "New client connected .* as $1 " 30; }

# publisher TOOL DIR TOPIC STATE LOG: the watcher that publishes DIR's
# files to TOPIC, in the background, once it is ready.
publisher() {
	local tool=$1 dir=$2 topic=$3 state=$4 log=$5
	case $tool in
	vigil)
		"$vigil" run -q --state "$state" --settle 0 --publish "$url/$topic" "$dir" 2>"$log" &
		pids+=($!)
		# -q: only failures, and the broker's state lines
		wait_line "$log" 'connected to' 30 ;;
	pipeline)
		# (the braces: one pid to stop, the whole pipeline with it)
		local id=bench-pub-$RANDOM
		# (its stderr too: the shell that runs it says "Terminated" when
		# it is stopped)
		{ "$inotifywait" -m -e close_write,moved_to --format '{"path":"%w%f"}' "$dir" 2>"$log" |
			mosquitto_pub -h 127.0.0.1 -p "$port" -l -q 1 -i "$id" -t "$topic" 2>>"$log"; } 2>/dev/null &
		pids+=($!)
		wait_line "$log" 'Watches established' 30
		connected "$id" ;;
	esac
}

# --- throughput -------------------------------------------------------------------

# cpu_ticks PID: the CPU time (user and system, in clock ticks) of the
# publisher started as PID: vigil itself, or both processes of the
# pipeline (the children of its shell)
cpu_ticks() {
	local p procs=("$1") t=0 f
	mapfile -t -O 1 procs < <(pgrep -P "$1")
	for p in "${procs[@]}"; do
		f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		f=${f##*) } # past the command's name, which may hold spaces
		read -r -a f <<<"$f"
		# (fields 14 and 15 of the line, 12 and 13 past the name)
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}
tck=$(getconf CLK_TCK)

throughput() { # TOOL: "messages/s CPU-us-per-message"
	local tool=$1 d=$tmp/tp-$1-$RANDOM
	mkdir -p "$d/in" "$d/stage"
	"$py" -c 'import os, sys
d = sys.argv[1]
for i in range(int(sys.argv[2])):
    open(os.path.join(d, "f%d" % i), "w").close()' "$d/stage" "$files"
	local id=bench-tp-$RANDOM
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -i "$id" -t "tp/$tool" -C "$files" -W 300 \
		>"$d/got" 2>/dev/null &
	local sub=$!
	client_in "$id"
	publisher "$tool" "$d/in" "tp/$tool" "$d/state" "$d/log"
	local t0 t1 c0 c1
	c0=$(cpu_ticks "${pids[-1]}")
	t0=$(now_ns)
	# N renames into the watched directory: the events come as fast as
	# the kernel makes them
	"$py" -c 'import os, sys
s, d = sys.argv[1], sys.argv[2]
for n in os.listdir(s):
    os.rename(os.path.join(s, n), os.path.join(d, n))' "$d/stage" "$d/in"
	wait "$sub" || true
	t1=$(now_ns)
	c1=$(cpu_ticks "${pids[-1]}")
	stop_all
	local got
	got=$(wc -l <"$d/got")
	awk -v n="$got" -v t="$((t1 - t0))" -v c="$((c1 - c0))" -v hz="$tck" \
		'BEGIN { printf "%.0f %.1f\n", n / (t / 1e9), n ? c / hz * 1e6 / n : 0 }'
	rm -rf "$d"
}

# --- latency ----------------------------------------------------------------------

latency() { # TOOL: "p50 p99" in ms
	local tool=$1 d=$tmp/lat-$1-$RANDOM
	mkdir -p "$d/in"
	: >"$d/stamps"
	case $tool in
	vigil)
		"$vigil" run -q --state "$d/wstate" --settle 0 --subscribe "$url/lat/$tool" \
			-- "$stamp" "$d/stamps" {} 2>"$d/wlog" &
		pids+=($!)
		wait_line "$d/wlog" 'subscribed to' 30 ;;
	pipeline)
		local id=bench-lat-$RANDOM
		{ mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -i "$id" -t "lat/$tool" 2>/dev/null |
			"$py" -c 'import json, subprocess, sys
for line in sys.stdin:
    subprocess.run([sys.argv[1], sys.argv[2], json.loads(line)["path"]])' "$stamp" "$d/stamps"; } 2>/dev/null &
		pids+=($!)
		client_in "$id" ;;
	esac
	publisher "$tool" "$d/in" "lat/$tool" "$d/state" "$d/log"
	"$py" -c 'import os, sys, time
d, n, out = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "w")
for i in range(n):
    p = os.path.join(d, "f%d" % i)
    with open(p, "w") as f:
        f.write("x")
    out.write("%d %s\n" % (time.time_ns(), p))
    time.sleep(0.02)
out.close()' "$d/in" "$lat_files" "$d/closes"
	local end=$((SECONDS + 60))
	while (($(wc -l <"$d/stamps") < lat_files)) && ((SECONDS < end)); do sleep 0.1; done
	stop_all
	"$py" -c 'import sys
closes = dict((l.split(" ", 1)[1].rstrip("\n"), int(l.split(" ", 1)[0])) for l in open(sys.argv[1]))
lat = sorted((int(l.split(" ", 1)[0]) - closes[l.split(" ", 1)[1].rstrip("\n")]) / 1e6
             for l in open(sys.argv[2]) if l.split(" ", 1)[1].rstrip("\n") in closes)
if not lat:
    print("- -"); sys.exit()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("%.2f %.2f" % (q(0.5), q(0.99)))' "$d/closes" "$d/stamps"
	rm -rf "$d"
}

# --- a broker restart -------------------------------------------------------------

# (in the script's own shell, not a $(...): it stops and starts the broker,
# which only the shell that started it can wait for)
restart() { # TOOL: rs_result="lost twice"
	local tool=$1 d=$tmp/rs-$1-$RANDOM
	mkdir -p "$d/in"
	# a receiver with a session the broker keeps across its restart
	local id=bench-recv-$tool-$RANDOM
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i "$id" \
		-t "rs/$tool" >"$d/got" 2>/dev/null &
	pids+=($!)
	client_in "$id"
	publisher "$tool" "$d/in" "rs/$tool" "$d/state" "$d/log"
	"$py" -c 'import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("x")
    time.sleep(0.002)' "$d/in" "$restart_files" &
	local writer=$!
	# stopped at a third of the files, started again at two thirds
	while (($(ls "$d/in" | wc -l) < restart_files / 3)); do sleep 0.02; done
	stop_broker
	while (($(ls "$d/in" | wc -l) < restart_files * 2 / 3)); do sleep 0.02; done
	start_broker
	wait "$writer"
	# until all came, or nothing more for 15 s: longer than vigil's
	# backoff gets while the broker is down for a few seconds (0.5 s,
	# doubling), so what it still holds is not counted lost
	local last=-1 n quiet_end=0
	# (distinct: a message received twice is not one more file)
	while n=$(sort -u "$d/got" | wc -l) && ((n < restart_files)); do
		((n == last)) || { last=$n; quiet_end=$((SECONDS + 15)); }
		((SECONDS < quiet_end)) || break
		sleep 0.2
	done
	stop_all
	rs_result=$("$py" -c 'import json, sys
paths = [json.loads(l)["path"] for l in open(sys.argv[1]) if l.strip()]
print(int(sys.argv[2]) - len(set(paths)), len(paths) - len(set(paths)))' "$d/got" "$restart_files")
	rm -rf "$d"
}

say "$(machine)"
say "vigil: $vigil; $(version "$inotifywait" --help | head -n 1); $("$mosquitto" -h 2>&1 | head -n 1)"
start_broker

declare -A tp cpus lat50 lat99 lost twice
for tool in vigil pipeline; do
	tp[$tool]="" cpus[$tool]="" lat50[$tool]="" lat99[$tool]="" lost[$tool]="" twice[$tool]=""
done
for ((r = 1; r <= runs; r++)); do
	# A B, then B A: what the machine does meanwhile falls on both
	order=(vigil pipeline)
	((r % 2)) || order=(pipeline vigil)
	for tool in "${order[@]}"; do
		read -r v cpu < <(throughput "$tool")
		tp[$tool]+="$v " cpus[$tool]+="$cpu "
		read -r p50 p99 < <(latency "$tool")
		lat50[$tool]+="$p50 " lat99[$tool]+="$p99 "
		restart "$tool"
		read -r l t <<<"$rs_result"
		lost[$tool]+="$l " twice[$tool]+="$t "
		say "round $r, $tool: $v messages/s ($cpu us of CPU each); close to remote job p50 $p50 ms, p99 $p99 ms; across a broker restart $l of $restart_files lost, $t twice"
	done
done

# shellcheck disable=SC2086
{
	printf '\n%s\n' "MQTT on loopback ($(machine)); $runs round(s), medians:"
	printf '%-40s %14s %14s %8s\n' figure vigil pipeline ratio
	printf '%-40s %14s %14s %8s\n' "messages/s ($files files)" "$(median ${tp[vigil]})" \
		"$(median ${tp[pipeline]})" "$(median_ratio "${tp[vigil]}" "${tp[pipeline]}")"
	printf '%-40s %14s %14s %8s\n' "publisher's CPU per message (us)" "$(median ${cpus[vigil]})" \
		"$(median ${cpus[pipeline]})" "$(median_ratio "${cpus[vigil]}" "${cpus[pipeline]}")"
	printf '%-40s %14s %14s %8s\n' "close to remote job, p50 (ms)" "$(median ${lat50[vigil]})" \
		"$(median ${lat50[pipeline]})" "$(median_ratio "${lat50[vigil]}" "${lat50[pipeline]}")"
	printf '%-40s %14s %14s %8s\n' "close to remote job, p99 (ms)" "$(median ${lat99[vigil]})" \
		"$(median ${lat99[pipeline]})" "$(median_ratio "${lat99[vigil]}" "${lat99[pipeline]}")"
	printf '%-40s %14s %14s\n' "lost across a broker restart (of $restart_files)" \
		"$(median ${lost[vigil]})" "$(median ${lost[pipeline]})"
	printf '%-40s %14s %14s\n' "received twice there" "$(median ${twice[vigil]})" \
		"$(median ${twice[pipeline]})"
	printf '%s\n' "targets: messages/s >= 1.00x the pipeline; p99 < 10 ms (settle 0); 0 lost"
}
result mqtt_rate vigil "$(median ${tp[vigil]})"
result mqtt_rate pipeline "$(median ${tp[pipeline]})" "$(median_ratio "${tp[vigil]}" "${tp[pipeline]}")"
result mqtt_cpu vigil "$(median ${cpus[vigil]})"
result mqtt_cpu pipeline "$(median ${cpus[pipeline]})" "$(median_ratio "${cpus[vigil]}" "${cpus[pipeline]}")"
result mqtt_p99 vigil "$(median ${lat99[vigil]})"
result mqtt_p99 pipeline "$(median ${lat99[pipeline]})"
result mqtt_p50 vigil "$(median ${lat50[vigil]})"
result mqtt_p50 pipeline "$(median ${lat50[pipeline]})"
result mqtt_lost vigil "$(median ${lost[vigil]})"
result mqtt_lost pipeline "$(median ${lost[pipeline]})"
