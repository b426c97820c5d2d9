#!/usr/bin/env bats
# vigil run loses no file to a queue overflow: it re-crawls and queues what
# is new or changed since. These lower fs.inotify.max_queued_events for the
# whole machine, so they run alone (is_parallel: false) and restore it.

load helpers
load run_helpers

QUEUE=/proc/sys/fs/inotify/max_queued_events

setup_file() {
	export SAVED_QUEUE
	SAVED_QUEUE=$(cat "$QUEUE")
}

teardown_file() {
	[ -w "$QUEUE" ] && echo "$SAVED_QUEUE" >"$QUEUE" || true
}

# start_run_small ARGS...: vigil run with a queue of 64 events.
start_run_small() {
	echo 64 >"$QUEUE"
	"$VIGIL" run "$@" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: ' 20
	local rc=$?
	echo "$SAVED_QUEUE" >"$QUEUE"
	return $rc
}

# wait_lines FILE N: until FILE has N lines (or 60 s pass).
wait_lines() {
	local end=$((SECONDS + 60))
	while [ "$(wc -l <"$1")" -lt "$2" ]; do
		[ $SECONDS -lt $end ] || { echo "$(wc -l <"$1") of $2 lines in $1" >&2; return 1; }
		wait_for_line "$ERR" 'exited' 1 2>/dev/null || true
	done
}

@test "5,000 files written while the queue overflows: each is processed exactly once" {
	require_writable_sysctl
	echo old >"$W/before-start"
	start_run_small "$W" --batch 500 --batch-wait 100ms -- sh -c 'printf "%s\n" "$@" >>"$LOG"' rec {}
	kill -STOP "$VIGIL_PID"
	local i
	for i in $(seq 1 5000); do echo "$i" >"$W/f$i"; done
	kill -CONT "$VIGIL_PID"
	wait_lines "$LOG" 5000
	# let any duplicate show up: one more file, and its job, come after
	echo last >"$W/last"
	wait_lines "$LOG" 5001
	grep -q 'overflowed' "$ERR"
	expect_eq duplicates "" "$(sort "$LOG" | uniq -d | head -5)"
	expect_eq processed 5001 "$(sort -u "$LOG" | wc -l)"
	! grep -q before-start "$LOG"
}

@test "after an overflow, a file changed again is processed again; one unchanged is not" {
	require_writable_sysctl
	start_run_small "$W" -- sh -c 'printf "%s\n" "$1" >>"$LOG"' rec {}
	echo 1 >"$W/changes"
	echo 1 >"$W/stays"
	wait_lines "$LOG" 2
	kill -STOP "$VIGIL_PID"
	echo 2 >>"$W/changes"
	touch "$W"/noise{1..100}
	kill -CONT "$VIGIL_PID"
	wait_lines "$LOG" 103
	echo last >"$W/last"
	wait_lines "$LOG" 104
	grep -q 'overflowed' "$ERR"
	expect_eq "changes" 2 "$(grep -c '/changes$' "$LOG")"
	expect_eq "stays" 1 "$(grep -c '/stays$' "$LOG")"
}
