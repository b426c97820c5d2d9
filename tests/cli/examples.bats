#!/usr/bin/env bats
# The recipes of examples/, run as they are shipped: each rules file with
# its @ROOT@ marker replaced by a fresh temporary directory (see
# examples/README), against stand-ins for the programs it calls, placed
# first in PATH. And the systemd unit of contrib/systemd.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers # wait_for_lines, until_true; setup and jobs_done are this file's own

SRC=$(readlink -f "$BATS_TEST_DIRNAME/../..")
EXAMPLES=$SRC/examples

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-examples.XXXXXX")
	ROOT=$TEST_DIR/root   # what @ROOT@ becomes
	BIN=$TEST_DIR/bin     # stand-ins, first in PATH
	OUT=$TEST_DIR/out
	ERR=$TEST_DIR/err
	export LOG=$TEST_DIR/log
	mkdir "$ROOT" "$BIN"
	: >"$LOG"
	cd "$TEST_DIR" || return 1
	VIGIL_PID=
	MOUNTED=
	EXTRA_PIDS=()
}

# Stop vigil without the grace it gives running jobs (a server would hold
# the test for its stop-timeout): TERM and INT are two signals, so the
# second always counts, and jobs get their stop signal at once.
teardown() {
	if [ -n "${VIGIL_PID:-}" ]; then
		kill -TERM "$VIGIL_PID" 2>/dev/null
		kill -INT "$VIGIL_PID" 2>/dev/null
		wait "$VIGIL_PID" 2>/dev/null
		VIGIL_PID=
	fi
	# the MQTT examples' workers and broker
	local p
	for p in ${EXTRA_PIDS[@]+"${EXTRA_PIDS[@]}"}; do
		kill -TERM "$p" 2>/dev/null
		kill -INT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	EXTRA_PIDS=()
	end_test_processes
	# a FUSE mount of a test: vigil has let go of it by now
	if [ -n "${MOUNTED:-}" ]; then
		fusermount -u "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" 2>/dev/null || true
	fi
	cd / && rm -rf "$TEST_DIR"
}

# example NAME: examples/NAME with @ROOT@ replaced, in $TEST_DIR/NAME,
# mode 0644 (as root, vigil refuses a rules file others may write).
example() {
	sed "s|@ROOT@|$ROOT|g" "$EXAMPLES/$1" >"$TEST_DIR/$1"
	chmod 0644 "$TEST_DIR/$1"
	run --separate-stderr "$VIGIL" run --check "$TEST_DIR/$1"
	expect_eq "check $1" 0 "$status" || { echo "$stderr" >&2; return 1; }
}

# stand NAME: a stand-in program NAME, its script on stdin.
stand() {
	{ echo '#!/bin/sh'; cat; } >"$BIN/$1"
	chmod 0755 "$BIN/$1"
}

# start_rules FILE [OPTION]...: vigil run --rules FILE, the stand-ins
# first in PATH, once its watches are set.
start_rules() {
	local file=$1
	shift
	: >"$OUT"
	: >"$ERR"
	PATH="$BIN:$PATH" "$VIGIL" run --rules "$TEST_DIR/$file" "$@" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: ' 20
}

# jobs_done N: until N jobs have ended (their end lines on vigil's stderr).
jobs_done() {
	wait_for_lines "$ERR" '\] pid [0-9]+ (exited|killed)' "$1"
}

# counters_until REGEX: SIGUSR1 until vigil's counters match REGEX (the
# state may be passing: it held when a line says so).
counters_until() {
	local end=$((SECONDS + 20))
	until grep -E -q -- "$1" "$ERR"; do
		if [ $SECONDS -ge $end ]; then
			echo "no counters matched /$1/; stderr:" >&2
			cat "$ERR" >&2
			return 1
		fi
		kill -USR1 "$VIGIL_PID"
		wait_for_line "$ERR" "$1" 1 2>/dev/null || true
	done
}


@test "every example: named in the README, tested here, and valid to vigil run --check as a copy of mode 644" {
	local f name n=0
	for f in "$EXAMPLES"/*.ini; do
		name=${f##*/}
		n=$((n + 1))
		# without MQTT, its recipes are refused (said so: see run.bats)
		if [ "${VIGIL_MQTT:-1}" = 0 ] && grep -q '^\(publish\|subscribe\) = ' "$f"; then
			continue
		fi
		grep -q "^  $name " "$EXAMPLES/README" || { echo "$name: not in README" >&2; return 1; }
		grep -E -q "^@test \"([a-z.-]+, )?$name[:,] " "$BATS_TEST_FILENAME" ||
			{ echo "$name: no test" >&2; return 1; }
		grep -q '@ROOT@' "$f" || { echo "$name: no @ROOT@ path" >&2; return 1; }
		# (not its mode on disk: git keeps only the executable bit, and
		# the checkout's is the umask's, or a tarball's 664 when root
		# unpacks it; an admin's copy takes the umask, as raw.ini's does)
		[ ! -x "$f" ] || { echo "$name: executable" >&2; return 1; }
		# as shipped, and as the tests run it
		cp "$f" "$TEST_DIR/raw.ini"
		chmod 0644 "$TEST_DIR/raw.ini"
		run --separate-stderr "$VIGIL" run --check "$TEST_DIR/raw.ini"
		expect_eq "$name as shipped" "$TEST_DIR/raw.ini: 1 rule, all valid" "$output" || {
			echo "$stderr" >&2
			return 1
		}
		example "$name"
	done
	[ "$n" -ge 6 ]
}

@test "photos.ini: images only, once settled, two at a time, copied, then archived" {
	example photos.ini
	local p=$ROOT/srv/photos
	mkdir -p "$p/incoming" "$p/web" "$p/archive"
	# convert IN OPTION... OUT copies IN to OUT, once $TEST_DIR/go exists
	stand convert <<'EOF'
in=$1
for out; do :; done
# one write per line: two converts run at once, and a line written in
# two parts can have the other's between them
line=$(printf '%s|' "$@")
printf '%s\n' "$line" >>"$LOG"
until [ -e "${LOG%/*}/go" ]; do sleep 0.01; done
exec cp -- "$in" "$out"
EOF
	echo old >"$p/incoming/old.jpg" # there before: initial
	start_rules photos.ini
	local hostile="-x \$(touch pwned) it's.JPG" n
	for n in a.jpg "$hostile" b.png; do
		echo "$n" >"$p/incoming/$n"
	done
	echo note >"$p/incoming/notes.txt"
	echo x >"$p/incoming/.c.jpg.Xy12" # an upload under way
	# four photos: two converts run, the other two wait for them
	counters_until '\[photos\] 0 jobs run, 0 failed, 4 paths seen, 0 skipped; 2 running, 2 waiting'
	touch "$TEST_DIR/go"
	jobs_done 4
	expect_eq "old.jpg archived" old "$(cat "$p/archive/old.jpg")"
	for n in a.jpg "$hostile" b.png; do
		expect_eq "$n archived" "$n" "$(cat "$p/archive/$n")"
	done
	for n in old.jpg a.jpg "$hostile" b.png; do
		cmp "$p/archive/$n" "$p/web/$n"
	done
	expect_eq "left in incoming" "$(printf '%s\n' .c.jpg.Xy12 notes.txt)" "$(ls -A "$p/incoming")"
	expect_eq archive 4 "$(ls -A "$p/archive" | wc -l)"
	# the options reach convert as words of their own, the name as one
	grep -qxF "$p/incoming/$hostile|-auto-orient|-resize|1600x1600>|$p/web/$hostile|" "$LOG"
	[ ! -e pwned ] && [ ! -e "$p/incoming/pwned" ] && [ ! -e /pwned ]
	! grep -q 'exited [1-9]' "$ERR"
}

@test "hot-reload.ini: the server starts with vigil, and a change restarts it once; .git, swap files, bin/ and node_modules/ do not" {
	example hot-reload.ini
	local app=$ROOT/srv/app
	mkdir -p "$app/src" "$app/.git" "$app/node_modules/left-pad"
	echo 'int main(void) { return 0; }' >"$app/src/main.c"
	echo 'ref: refs/heads/main' >"$app/.git/HEAD"
	# make -s build: bin/server from server.in (as a build writes bin/)
	stand make <<'EOF'
[ "$*" = "-s build" ] || { echo "make: unexpected '$*'" >&2; exit 2; }
echo build >>"$LOG"
mkdir -p bin && cp server.in bin/server && chmod +x bin/server
EOF
	{
		echo '#!/bin/sh'
		echo 'echo "start $$" >>"$LOG"'
		echo "trap 'echo \"stop \$\$\" >>\"\$LOG\"; exit 0' TERM"
		echo 'while :; do sleep 0.05; done'
	} >"$app/server.in"
	start_rules hot-reload.ini
	wait_for_line "$LOG" '^start [0-9]+$'
	# vigil says it started the server after the server's first line
	# can be in the log: wait for it, do not grep once
	wait_for_line "$ERR" '\[server\] pid [0-9]+ started on 2 paths'
	local first
	first=$(sed -n 's/^start //p' "$LOG")
	# none of these count...
	echo x >>"$app/.git/index"
	echo x >"$app/src/.main.c.swp"
	echo x >"$app/src/main.c~"
	echo x >"$app/src/4913"
	echo x >"$app/bin/junk"
	echo x >"$app/node_modules/left-pad/index.js"
	# ...and this one does
	echo '/* changed */' >>"$app/src/main.c"
	wait_for_lines "$LOG" '^start [0-9]+$' 2
	local second
	second=$(sed -n 's/^start //p' "$LOG" | tail -n 1)
	expect_eq log "$(printf '%s\n' build "start $first" "stop $first" build "start $second")" "$(cat "$LOG")"
	grep -q "\[server\] pid $first exited 0 (restart) after" "$ERR"
	# one path more than at the start: the excluded ones were not even queued
	counters_until '\[server\] 1 jobs run, 0 failed, 3 paths seen, 0 skipped; 1 running, 0 waiting'
}

@test "backup.ini: changes make one backup, and the next one waits for min-interval" {
	example backup.ini
	# 5 minutes and 30 seconds, shortened for the test
	sed -i -e 's/^min-interval = 5m$/min-interval = 3s/' -e 's/^batch-wait = 30s$/batch-wait = 300ms/' \
		"$TEST_DIR/backup.ini"
	grep -qx 'min-interval = 3s' "$TEST_DIR/backup.ini"
	grep -qx 'batch-wait = 300ms' "$TEST_DIR/backup.ini"
	local data=$ROOT/srv/data
	mkdir -p "$data" "$ROOT/srv/backups"
	start_rules backup.ini --log-format json
	echo 1 >"$data/a"
	wait_for_lines "$ERR" '"job":"end"' 1
	echo 2 >"$data/b"
	mkdir "$data/sub"
	echo 3 >"$data/sub/c"
	wait_for_lines "$ERR" '"job":"end"' 2
	python3 - "$ERR" "$data" <<'EOF'
import datetime, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
starts = [l for l in lines if l.get("job") == "start"]
ends = [l for l in lines if l.get("job") == "end"]
assert len(starts) == 2 and len(ends) == 2, lines
assert all(e.get("status") == 0 for e in ends), ends
d = sys.argv[2]
assert starts[0]["paths"] == [d + "/a"], starts[0]
assert sorted(starts[1]["paths"]) == [d + "/b", d + "/sub/c"], starts[1]
t = [datetime.datetime.strptime(s["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for s in starts]
gap = (t[1] - t[0]).total_seconds()
# min-interval counts from the first start, the instant the start line
# gives (to the millisecond, each cut: 2.999 is 3)
assert gap >= 2.999, "backups %.3fs apart" % gap
EOF
	local archives
	mapfile -t archives < <(ls "$ROOT/srv/backups"/data-*.tar.gz)
	expect_eq archives 2 "${#archives[@]}"
	expect_eq first "$(printf '%s\n' ./ ./a)" "$(tar -tzf "${archives[0]}" | LC_ALL=C sort)"
	expect_eq second "$(printf '%s\n' ./ ./a ./b ./sub/ ./sub/c)" "$(tar -tzf "${archives[1]}" | LC_ALL=C sort)"
	expect_eq content 3 "$(tar -xzOf "${archives[1]}" ./sub/c)"
}

@test "etc-integrity.ini: each file written, renamed into place or chmod-ed is hashed into the log, once" {
	example etc-integrity.ini
	local etc=$ROOT/etc log=$ROOT/var/log/vigil/etc-integrity.log
	mkdir -p "$etc/ssh" "$etc/.git" "$ROOT/var/log/vigil"
	echo '127.0.0.1 localhost' >"$etc/hosts"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$etc/passwd"
	echo 'Port 22' >"$etc/ssh/sshd_config"
	echo 'untouched' >"$etc/motd"
	start_rules etc-integrity.ini
	sh -c 'echo $$ >"$1"; echo "10.0.0.1 db" >>"$2"' sh "$ROOT/writer" "$etc/hosts" # written
	echo 'Port 2222' >"$etc/ssh/sshd_config.new"                # renamed into place
	mv "$etc/ssh/sshd_config.new" "$etc/ssh/sshd_config"
	chmod 600 "$etc/passwd"                                     # attrib
	echo 'odd' >"$etc/odd"$'\n'"name"                             # one line all the same
	echo x >"$etc/.git/index"                                   # left out
	echo x >"$etc/.hosts.swp"
	echo x >"$etc/hosts~"
	echo x >"$etc/hosts.dpkg-new"
	local want=("$etc/hosts" "$etc/ssh/sshd_config" "$etc/passwd" "$etc/odd"$'\n'"name")
	all_logged() {
		local f
		[ -e "$log" ] || return 1
		for f in "${want[@]}"; do
			grep -qF -- "Z $(sha256sum -- "$f") by " "$log" || return 1
		done
	}
	until_true 20 all_logged
	expect_eq "hash lines" 4 "$(grep -c '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:]*Z ' "$log")"
	! grep -q -e '\.git' -e 'swp' -e '~' -e 'dpkg' -e motd "$log"
	# who: the writer, by its pid (the kernel tells root of all), and its
	# name when it was still there to be read
	if [ "$(id -u)" = 0 ]; then
		grep -E -q -- "/etc/hosts by $(cat "$ROOT/writer") \((sh|\?)\)$" "$log"
	fi
}

@test "rsync.ini: a burst of changes makes one rsync, and the copy matches, deletions included" {
	example rsync.ini
	if ! command -v rsync >/dev/null; then
		# rsync -a --delete SRC/ DST/, as far as the example uses it
		stand rsync <<'EOF'
[ "$1 $2" = "-a --delete" ] && [ $# = 4 ] || { echo "rsync stand-in: unexpected '$*'" >&2; exit 1; }
rm -rf -- "$4" && mkdir -p -- "$4" && exec cp -a -- "$3." "$4"
EOF
	fi
	local www=$ROOT/srv/www mirror=$ROOT/srv/mirror/www i
	mkdir -p "$www/css" "$mirror"
	echo '<h1>home</h1>' >"$www/index.html"
	start_rules rsync.ini
	burst() {
		for i in $(seq 1 20); do
			echo "page $i" >"$www/page$i.html"
		done
		echo 'body {}' >"$www/css/site.css"
		echo 'Require all granted' >"$www/.htaccess"
	}
	# (vigil stopped meanwhile: the burst is one batch on any machine)
	paused burst
	jobs_done 1
	grep -q '\[mirror\] pid [0-9]* started on 22 paths' "$ERR"
	expect_eq rsyncs 1 "$(grep -c 'started on' "$ERR")"
	diff -r "$www" "$mirror"
	# a deletion is carried over by the next run
	rm "$www/page1.html"
	echo '<h1>home, v2</h1>' >"$www/index.html"
	jobs_done 2
	diff -r "$www" "$mirror"
	[ ! -e "$mirror/page1.html" ]
	! grep -q 'exited [1-9]' "$ERR"
}

@test "handoff.ini: each complete input is processed into the outbox and moved to done/; a failed one stays, and is retried at the next start" {
	example handoff.ini
	local h=$ROOT/srv/handoff
	mkdir -p "$h/inbox" "$h/outbox" "$h/done"
	# process-file FILE: the result on stdout; an input "bad" fails halfway
	stand process-file <<'EOF'
if [ "$(cat -- "$1")" = bad ]; then echo partial; echo "process-file: cannot process '$1'" >&2; exit 1; fi
tr a-z A-Z <"$1"
EOF
	echo early >"$h/inbox/early.csv" # there before: initial
	start_rules handoff.ini
	# as rsync sends one: under a name starting with '.', then renamed
	echo order >"$h/inbox/.order.csv.Ab12Cd"
	mv "$h/inbox/.order.csv.Ab12Cd" "$h/inbox/order.csv"
	# as scp and mv do: NAME.part, then renamed
	echo parted >"$h/inbox/b.csv.part"
	mv "$h/inbox/b.csv.part" "$h/inbox/b.csv"
	# written in place, with a name made to hurt
	local hostile="-n \$(touch pwned) it's.csv"
	echo hostile >"$h/inbox/$hostile"
	echo bad >"$h/inbox/fail.csv"
	echo unfinished >"$h/inbox/c.csv.part" # never renamed
	jobs_done 5
	local n
	for n in early order b "$hostile"; do
		n=${n%.csv}.csv
		[ -f "$h/done/$n" ] || { echo "not in done/: $n" >&2; return 1; }
		expect_eq "result of $n" "$(tr a-z A-Z <"$h/done/$n")" "$(cat "$h/outbox/$n")"
	done
	expect_eq outbox 4 "$(ls -A "$h/outbox" | wc -l)"
	expect_eq "left in inbox" "$(printf '%s\n' c.csv.part fail.csv)" "$(ls -A "$h/inbox")"
	grep -q "\[handoff\] pid [0-9]* exited 1 after [0-9.]*s on '$h/inbox/fail.csv'" "$ERR"
	grep -q "cannot process '$h/inbox/fail.csv'" "$ERR"
	[ ! -e pwned ] && [ ! -e "$h/inbox/pwned" ]
	# once the program is fixed, a restart handles what was left
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq "exit status" 0 "$status"
	stand process-file <<'EOF'
tr a-z A-Z <"$1"
EOF
	start_rules handoff.ini
	jobs_done 1
	expect_eq "fail.csv, retried" BAD "$(cat "$h/outbox/fail.csv")"
	[ -f "$h/done/fail.csv" ]
	expect_eq "left in inbox" c.csv.part "$(ls -A "$h/inbox")"
}

@test "mounted-handoff.ini: on a mount from another machine (bindfs), files dropped behind its back are processed once each, when complete" {
	[ -e /dev/fuse ] && command -v bindfs >/dev/null || skip "FUSE or bindfs is not available here"
	example mounted-handoff.ini
	local disk=$TEST_DIR/a-disk h=$ROOT/mnt/a/handoff # A's disk, B's mount of it
	mkdir -p "$disk/inbox" "$disk/outbox" "$disk/done" "$h"
	bindfs --no-allow-other "$disk" "$h"
	MOUNTED=$h
	stand process-file <<'EOF'
tr a-z A-Z <"$1"
EOF
	echo early >"$disk/inbox/early.csv" # there before: initial
	start_rules mounted-handoff.ini
	grep -q "polling '$h' (fuse from $disk) every 2s" "$ERR"
	# A writes, on its own disk: one file at once, one in pieces closer
	# together than the settle time, one as NAME.part, then renamed
	echo order >"$disk/inbox/order.csv"
	local k
	for k in 1 2 3 4 5; do
		printf 'slow%s\n' "$k" >>"$disk/inbox/slow.csv"
		sleep 1
	done
	echo parted >"$disk/inbox/b.csv.part"
	mv "$disk/inbox/b.csv.part" "$disk/inbox/b.csv"
	jobs_done 4
	local n
	for n in early order slow b; do
		[ -f "$disk/done/$n.csv" ] || { echo "not in done/: $n" >&2; return 1; }
		expect_eq "result of $n" "$(tr a-z A-Z <"$disk/done/$n.csv")" "$(cat "$disk/outbox/$n.csv")"
	done
	expect_eq "jobs" 4 "$(grep -c '\] pid [0-9]* exited 0' "$ERR")"
	expect_eq "left in inbox" "" "$(ls -A "$disk/inbox")"
}

@test "vigil-run@.service: systemd-analyze verify finds nothing to say" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	local unit=$SRC/contrib/systemd/vigil-run@.service
	grep -q '^ExecStart=/usr/local/bin/vigil run --rules /etc/vigil/%i.ini --state %S/vigil/%i$' "$unit"
	grep -qx 'StateDirectory=vigil/%i' "$unit"
	# the vigil built here stands where the unit expects one installed
	sed "s|/usr/local/bin/vigil |$VIGIL |" "$unit" >"$TEST_DIR/vigil-run@.service"
	# and its man pages, named by Documentation=, where man finds them
	mkdir -p "$TEST_DIR/man/man1" "$TEST_DIR/man/man5"
	cp "$SRC/man/vigil-run.1" "$TEST_DIR/man/man1/"
	cp "$SRC/man/vigil-rules.5" "$TEST_DIR/man/man5/"
	local inst
	for inst in 'vigil-run@.service' 'vigil-run@photos.service'; do
		[ "$inst" = 'vigil-run@.service' ] || cp "$TEST_DIR/vigil-run@.service" "$TEST_DIR/$inst"
		run env MANPATH="$TEST_DIR/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$TEST_DIR/$inst"
		expect_eq "$inst status" 0 "$status"
		expect_eq "$inst says" "" "$output"
	done
}

@test "vigil-run@.service: stopping gives vigil's jobs their whole grace" {
	local unit=$SRC/contrib/systemd/vigil-run@.service
	grep -qx 'Type=notify' "$unit"
	grep -qx 'KillMode=mixed' "$unit"
	grep -qxF 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"
	# SIGTERM leaves a job alone for --stop-timeout, then sends it the stop
	# signal and waits --stop-timeout again before SIGKILL: systemd's own
	# SIGKILL must come later than that
	local stop_timeout timeout_stop
	stop_timeout=$("$VIGIL" run --help | sed -n 's/.*before SIGKILL (default \([0-9]*\)s).*/\1/p')
	timeout_stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
	[ -n "$stop_timeout" ] && [ -n "$timeout_stop" ]
	[ "$timeout_stop" -gt $((2 * stop_timeout)) ] || {
		echo "TimeoutStopSec=${timeout_stop}s, --stop-timeout ${stop_timeout}s" >&2
		return 1
	}
}

# broker: a mosquitto of this test's, on a free port ($PORT), as
# tests/cli/mqtt.bats starts one.
broker() {
	command -v mosquitto >/dev/null || skip "no mosquitto (the bootstrap installs it)"
	[ "${VIGIL_MQTT:-1}" = 1 ] || skip "vigil is built without MQTT"
	PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$TEST_DIR/broker"
	printf '%s\n' "listener $PORT 127.0.0.1" "allow_anonymous true" "persistence true" \
		"persistence_location $TEST_DIR/broker/" "user root" "log_dest stderr" \
		"log_type information" "log_type subscribe" >"$TEST_DIR/broker/conf"
	mosquitto -c "$TEST_DIR/broker/conf" >"$TEST_DIR/broker/log" 2>&1 3>&- &
	EXTRA_PIDS+=($!)
	wait_for_line "$TEST_DIR/broker/log" ' running$' 20
}

# on_broker NAME: example NAME, its broker (localhost) the test's.
on_broker() {
	example "$1"
	sed -i "s|mqtt://localhost/|mqtt://127.0.0.1:$PORT/|" "$TEST_DIR/$1"
}

@test "fanout.ini: each complete file in the inbox is one message on vigil/HOST/incoming, nothing run" {
	broker
	on_broker fanout.ini
	mkdir -p "$ROOT/srv/incoming/scans" "$ROOT/var/lib/vigil"
	mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'vigil/+/incoming' -q 1 -C 2 -W 60 -i fanout-sub \
		>"$OUT.sub" 3>&- &
	local sub=$!
	EXTRA_PIDS+=($sub)
	wait_for_line "$TEST_DIR/broker/log" 'fanout-sub 1 vigil/\+/incoming' 20
	start_rules fanout.ini
	wait_for_line "$ERR" "\[incoming\] connected to"
	echo scan >"$ROOT/srv/incoming/scans/.scan.pdf.part"
	mv "$ROOT/srv/incoming/scans/.scan.pdf.part" "$ROOT/srv/incoming/scans/scan.pdf"
	echo skip >"$ROOT/srv/incoming/x.part"
	echo note >"$ROOT/srv/incoming/note.txt"
	wait "$sub"
	grep -q "\"path\":\"$ROOT/srv/incoming/scans/scan.pdf\",\"events\":\[\"MOVED_TO\"\]" "$OUT.sub"
	grep -q "\"path\":\"$ROOT/srv/incoming/note.txt\",\"events\":\[\"CLOSE_WRITE\",\"CLOSE\"\],\"size\":5," "$OUT.sub"
	grep -q "\"host\":\"$(hostname)\",\"rule\":\"incoming\"}" "$OUT.sub"
	! grep -q 'x.part' "$OUT.sub"
}

@test "broker-handoff.ini, broker-worker.ini: A announces each complete file; two workers share them, each processed once through A's folder" {
	broker
	on_broker broker-handoff.ini
	on_broker broker-worker.ini
	local h=$ROOT/srv/handoff k i
	mkdir -p "$h/inbox" "$h/outbox" "$h/done" "$ROOT/mnt/a" "$ROOT/var/lib/vigil"
	ln -s "$h" "$ROOT/mnt/a/handoff" # A's folder, as the workers mount it
	stand process-file <<'STAND'
printf '%s\n' "$1" >>"$LOG"
tr a-z A-Z <"$1"
STAND
	for k in 1 2; do
		sed "s|handoff-work|handoff-work$k|" "$TEST_DIR/broker-worker.ini" >"$TEST_DIR/worker$k.ini"
		chmod 0644 "$TEST_DIR/worker$k.ini"
		PATH="$BIN:$PATH" "$VIGIL" run --rules "$TEST_DIR/worker$k.ini" >"$OUT.$k" 2>"$ERR.$k" 3>&- &
		EXTRA_PIDS+=($!)
		wait_for_line "$ERR.$k" "\[work\] connected to .*subscribed to '.share/workers/handoff/inbox'" 30
	done
	start_rules broker-handoff.ini
	wait_for_line "$ERR" "\[announce\] connected to"
	for ((i = 0; i < 20; i++)); do
		echo "order $i" >"$h/inbox/.o$i.tmp"
		mv "$h/inbox/.o$i.tmp" "$h/inbox/o$i.csv"
	done
	local end=$((SECONDS + 60))
	until [ "$(ls "$h/done" | wc -l)" -ge 20 ]; do
		[ $SECONDS -lt $end ] || { cat "$ERR" "$ERR.1" "$ERR.2" >&2; return 1; }
		wait_for_line "$LOG" . 1 2>/dev/null || true
	done
	expect_eq "processed" 20 "$(wc -l <"$LOG")"
	expect_eq "once each" 20 "$(sort -u "$LOG" | wc -l)"
	expect_eq "result" "ORDER 7" "$(cat "$h/outbox/o7.csv")"
	expect_eq "inbox" "" "$(ls -A "$h/inbox")"
	# both took some
	grep -q "started on" "$ERR.1" && grep -q "started on" "$ERR.2"
}
