#!/usr/bin/env bats
# vigil run's loop guard: a path that its own jobs keep changing is caught
# and slowed; an inbox of distinct files, however busy, never is.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers

# stop_run: SIGTERM, and wait for the summary.
stop_run() {
	kill -TERM "$VIGIL_PID"
	wait "$VIGIL_PID" || status=$?
	VIGIL_PID=
}

@test "a job that rewrites its own input is caught by the loop guard, and slowed" {
	echo 0 >"$W/f"
	start_run --settle 0 --loop-burst 5 "$W" -- sh -c 'echo x >>"$1"' job {}
	echo 1 >>"$W/f"
	wait_for_line "$ERR" "'$W/f' changed again while or right after each of its last 5 jobs ran" 30
	# found at its 6th job: the 5 before it were each followed by a change
	local at
	at=$(grep -n 'changed again' "$ERR" | cut -d: -f1)
	expect_eq "jobs before" 6 "$(head -n "$at" "$ERR" | grep -c 'started on')"
	expect_eq "said once" 1 "$(grep -c 'changed again' "$ERR")"
}

@test "5,000 distinct files at full speed, then 1,000 a job each: the loop guard never holds one back" {
	start_run --settle 0 --batch 500 --batch-wait 10ms --loop-burst 2 --stdin paths0 \
		"$W" -- sh -c 'tr "\0" "\n" >>"$LOG"'
	local i
	for ((i = 0; i < 5000; i++)); do : >"$W/f$i"; done
	wait_distinct "$LOG" 5000 60
	stop_run
	expect_eq "handled" 5000 "$(sort -u "$LOG" | wc -l)"
	expect_eq "guard lines" 0 "$(grep -c 'changed again' "$ERR")"
	# one at a time too, without a batch: a process per file, 1,000 of
	# them (5,000 took over 1,000 s under ASan on 2 busy cores)
	[ -x "${APPENDER:-}" ] || skip "no APPENDER (tests/cli/appender.c, built by meson)"
	: >"$LOG"
	start_run --settle 0 --loop-burst 2 "$W/" -- "$APPENDER" "$LOG" {}
	for ((i = 0; i < 1000; i++)); do : >"$W/g$i"; done
	wait_distinct "$LOG" 1000 60
	stop_run
	expect_eq "guard lines" 0 "$(grep -c 'changed again' "$ERR")"
	grep -q "stopped: 1000 jobs run, 0 failed, 1000 paths seen" "$ERR"
}
