#!/usr/bin/env bats
# vigil run against what goes wrong: broken rules files, commands that
# cannot run, jobs that will not stop or leave processes behind, more
# paths than one command line holds.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers

# mistake LINE-AND-MESSAGE CONTENT: CONTENT as a rules file is refused by
# --check and by --rules alike, with exit 1 and the one line
# "vigil run: FILE:LINE-AND-MESSAGE".
mistake() {
	local want="vigil run: $TEST_DIR/r.ini:$1" how
	printf '%b' "$2" >"$TEST_DIR/r.ini"
	chmod 600 "$TEST_DIR/r.ini"
	for how in --check --rules; do
		run --separate-stderr "$VIGIL" run "$how" "$TEST_DIR/r.ini"
		if [ "$status" != 1 ] || [ "$stderr" != "$want" ]; then
			printf '%s with:\n%b\n  expected: %s (exit 1)\n  actual:   %s (exit %s)\n' \
				"$how" "$2" "$want" "$stderr" "$status" >&2
			return 1
		fi
	done
}

@test "a rules file with every kind of mistake: each is named with its file, line and key" {
	local h="[a]\npath = $W\n" c="command = true\n"
	mistake "3: 'bogus': no such key" "${h}bogus = 1\n$c"
	mistake "3: 'just words': no such key (a setting is key = value)" "${h}just words\n$c"
	mistake "3: 'settle' needs a value" "${h}settle =\n$c"
	mistake "4: 'settle' is given twice (first on line 3)" "${h}settle = 1s\nsettle = 2s\n$c"
	mistake "3: 'settle' takes one value, not 2 words (quote a value with spaces; a comment takes a line of its own)" "${h}settle = 1s 2s\n$c"
	mistake "3: 'settle': '5x' is not a valid duration; give 500ms, 2s, 1.5m or 1h" "${h}settle = 5x\n$c"
	mistake "3: 'timeout': '-1s' is not a valid duration; give 500ms, 2s, 1.5m or 1h" "${h}timeout = -1s\n$c"
	mistake "3: 'jobs': '0' is not a whole number from 1 to 4096" "${h}jobs = 0\n$c"
	mistake "3: 'batch': 'many' is not a whole number from 1 to 100000" "${h}batch = many\n$c"
	mistake "3: 'loop-burst': '2000000' is not a whole number from 0 to 1000000" "${h}loop-burst = 2000000\n$c"
	mistake "3: 'on-busy': 'maybe' is not one of queue, skip, restart or signal" "${h}on-busy = maybe\n$c"
	mistake "3: 'stdin': 'xml' is not one of paths0, lines, json or none" "${h}stdin = xml\n$c"
	mistake "3: 'stop-signal': 'FOO' is not a signal; give a name such as TERM, INT or HUP, or a number" "${h}stop-signal = FOO\n$c"
	mistake "3: 'events': 'bogus' is not an event; give names such as close_write, moved_to, create or delete" "${h}events = bogus\n$c"
	mistake "3: 'recursive': 'maybe' is not yes or no; give yes, no, true, false, 1 or 0" "${h}recursive = maybe\n$c"
	mistake "4: 'dirs': 'files' and 'dirs' contradict each other; give one of them" "${h}files\ndirs\n$c"
	mistake "3: 'exclude-regex': '(' is not a valid regular expression: Unmatched ( or \\(" "${h}exclude-regex = '('\n$c"
	mistake "3: 'exclude-regex': 'a+++++++++++++++++++++++' is too complex a regular expression: compiling it would take too much memory or time" "${h}exclude-regex = a+++++++++++++++++++++++\n$c"
	mistake "3: 'exclude-regex': '(()^()){0,150}' is too complex a regular expression: compiling it would take too much memory or time" "${h}exclude-regex = (()^()){0,150}\n$c"
	mistake "3: 'match': '[[:foo:]]' is not a valid glob: an unknown [:class:], or a [.collating element.] that is not one character" "${h}match = '[[:foo:]]'\n$c"
	mistake "3: 'command': unbalanced ' quote" "${h}command = sh -c 'x\n"
	mistake "3: 'command': unbalanced \" quote" "${h}command = sh -c \"x\n"
	mistake "1: [a]: '{name}' has no single value for a batch of 3 paths; pass them as a lone {} word or on 'stdin'" "${h}batch = 3\ncommand = echo {name}\n"
	mistake "1: [a]: no 'path' to watch (nor a broker to 'subscribe' to)" "[a]\n$c"
	mistake "1: [a]: no 'command' to run (nor a broker to 'publish' to)" "[a]\npath = $W\n"
	mistake "1: 'settle' comes before any [section]; put it under [defaults] or a [rule]" "settle = 1s\n${h}$c"
	mistake "1: '[a': a section header ends with ']'" "[a\npath = $W\n$c"
	mistake "1: 'a b': a rule name may hold only letters, digits, '-', '_' and '.'" "[a b]\npath = $W\n$c"
	mistake "4: [a] is given twice (first on line 1)" "${h}${c}[a]\npath = $W\n$c"
	mistake "4: [defaults] must come before the first rule" "${h}${c}[defaults]\nsettle = 1s\n"
	mistake "3: a NUL byte; a rules file is text" "${h}command = tr\\0ue\n"
	mistake "3: the file ends in a continued line; remove the last backslash" "${h}command = true \\\\"
	# the file itself
	printf '' >"$TEST_DIR/empty.ini"
	run --separate-stderr "$VIGIL" run --check "$TEST_DIR/empty.ini"
	expect_eq empty "vigil run: $TEST_DIR/empty.ini: no rules; a rule is a [section] with a 'path' and a 'command'" "$stderr"
	run --separate-stderr "$VIGIL" run --rules "$TEST_DIR/none.ini"
	expect_eq missing "vigil run: cannot open '$TEST_DIR/none.ini': no such file or directory" "$stderr"
	run --separate-stderr "$VIGIL" run --rules "$TEST_DIR"
	expect_eq directory "vigil run: cannot read '$TEST_DIR': is a directory" "$stderr"
	expect_eq status 1 "$status"
}

@test "a directory that denies access at set-up: said before the watching line, and the rest is watched" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	chmod 755 "$TEST_DIR"
	mkdir -p "$W/closed/inner" "$W/open"
	chmod 000 "$W/closed"
	chown -R 65534:65534 "$W" "$LOG"
	: >"$ERR"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" run -r "$W" -- sh -c "$REC" rec {} >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: '
	expect_eq "the first lines" "vigil run: [run] cannot watch '$W/closed': permission denied
vigil run: watching: 1 rule" "$(head -n 2 "$ERR")"
	echo x >"$W/open/f"
	jobs_done 1
	expect_eq recorded "$W/open/f|" "$(recorded)"
	chmod 755 "$W/closed"
}

@test "a command that does not exist, or cannot run: a line each time, counted as failed, and vigil goes on" {
	printf '#!/bin/sh\n' >"$TEST_DIR/not-executable"
	rules "$TEST_DIR/r.ini" "[missing]
path = $W
match = *.a
command = $TEST_DIR/no-such-command {}

[noexec]
path = $W
match = *.b
command = $TEST_DIR/not-executable {}

[ok]
path = $W
match = *.c
command = sh -c '$REC' rec {}"
	start_run --rules "$TEST_DIR/r.ini"
	echo x >"$W/1.a"
	echo x >"$W/2.a"
	echo x >"$W/1.b"
	echo x >"$W/1.c"
	wait_for_line "$LOG" 1.c
	wait_for_lines "$ERR" "\[missing\] cannot run '$TEST_DIR/no-such-command': no such file or directory" 2
	wait_for_line "$ERR" "\[noexec\] cannot run '$TEST_DIR/not-executable': permission denied"
	kill -USR1 "$VIGIL_PID"
	wait_for_line "$ERR" '\[ok\] 1 jobs run'
	grep -q '\[missing\] 2 jobs run, 2 failed, 2 paths seen' "$ERR"
	grep -q '\[noexec\] 1 jobs run, 1 failed, 1 paths seen' "$ERR"
	grep -q '\[ok\] 1 jobs run, 0 failed, 1 paths seen' "$ERR"
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	grep -q 'stopped: 4 jobs run, 3 failed, 4 paths seen, 0 left waiting' "$ERR"
}

@test "a command name is looked for in PATH as execvp does: dirs without it, or where it cannot run, are passed over" {
	mkdir "$TEST_DIR/none" "$TEST_DIR/noexec" "$TEST_DIR/bin"
	printf '#!/bin/sh\necho wrong >>"$LOG"\n' >"$TEST_DIR/noexec/mycmd"
	printf '#!/bin/sh\necho "right $1" >>"$LOG"\n' >"$TEST_DIR/bin/mycmd"
	chmod 644 "$TEST_DIR/noexec/mycmd"
	chmod 755 "$TEST_DIR/bin/mycmd"
	cp "$TEST_DIR/noexec/mycmd" "$TEST_DIR/noexec/onlyhere"
	rules "$TEST_DIR/r.ini" "[found]
path = $W
match = *.a
command = mycmd {name}

[noexec]
path = $W
match = *.b
command = onlyhere {}

[nowhere]
path = $W
match = *.c
command = no-such-command-anywhere {}"
	PATH="$TEST_DIR/none:$TEST_DIR/noexec:$TEST_DIR/bin:$PATH" start_run --rules "$TEST_DIR/r.ini"
	echo x >"$W/1.a"
	echo x >"$W/1.b"
	echo x >"$W/1.c"
	wait_for_line "$LOG" 'right 1.a'
	wait_for_line "$ERR" "\[noexec\] cannot run 'onlyhere': permission denied"
	wait_for_line "$ERR" "\[nowhere\] cannot run 'no-such-command-anywhere': no such file or directory"
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq log "right 1.a" "$(cat "$LOG")"
}

@test "a job starts with no signal blocked or ignored, whatever vigil was started with" {
	# the shell that starts vigil ignores them; vigil inherits that
	(
		trap '' HUP INT QUIT PIPE TERM USR2 ALRM TTOU
		exec "$VIGIL" run --settle 0 "$W" -- grep -E '^Sig(Blk|Ign):' /proc/self/status
	) >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: ' 20
	grep -q '^SigIgn:.*[^0]' /proc/$VIGIL_PID/status # the set-up holds
	echo x >"$W/a"
	jobs_done 1
	kill -TERM "$VIGIL_PID"
	wait_vigil
	# Signals 32 and 33 are the C library's own (NPTL's): glibc's
	# sigaction() refuses them, so no program resets them through it; they
	# stay as the test itself got them (ninja starts its commands with
	# both ignored, and meson dist runs the tests under ninja)
	local own reserved
	own=$(awk '/^SigIgn:/ { print $2 }' /proc/self/status)
	reserved=$(printf '%016x' $((0x$own & 0x180000000)))
	expect_eq masks "SigBlk:	0000000000000000
SigIgn:	$reserved" "$(cat "$OUT")"
}

@test "vigil started with stdin and stdout closed: its jobs get /dev/null there, not a stray descriptor" {
	"$VIGIL" run --settle 0 "$W" -- sh -c 'cat && echo out && echo "ok $1" >>"$LOG"' sh {} \
		<&- >&- 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: ' 20
	echo x >"$W/a"
	jobs_done 1
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq log "ok $W/a" "$(cat "$LOG")"
	grep -q "exited 0 after" "$ERR"
}

# marked PATTERN: how many processes other than vigil have PATTERN in
# their command line (vigil's has it too: it holds the command), zombies
# (left for init to reap) not counted.
marked() {
	local pid n=0
	for pid in $(pgrep -f -- "$1"); do
		[ "$pid" != "${VIGIL_PID:-}" ] || continue
		case $(ps -o stat= -p "$pid") in
		'' | Z*) ;;
		*) n=$((n + 1)) ;;
		esac
	done
	echo "$n"
}

# alive PATTERN: whether a process other than vigil has PATTERN.
alive() {
	[ "$(marked "$1")" != 0 ]
}

@test "a job that ignores SIGTERM, on a restart: SIGKILL after --stop-timeout, then the new job" {
	# each job, and a child of it, ignore SIGTERM; the marker finds them
	# (the child is forked before the start line: counted once it is seen)
	local mark="hostile-$BATS_TEST_NUMBER-$$"
	start_run "$W" --on-busy restart --stop-timeout 500ms -- \
		sh -c 'trap "" TERM; sh -c "trap \"\" TERM; while :; do sleep 0.05; done" "$0-child" & echo "start $1" >>"$LOG"; while :; do sleep 0.05; done' "$mark" {}
	echo x >"$W/first"
	wait_for_line "$LOG" "start $W/first"
	echo x >"$W/second"
	wait_for_line "$LOG" "start $W/second"
	grep -q "killed by SIGKILL (restart) after .* on '$W/first'" "$ERR"
	local secs
	secs=$(sed -n "s/.*killed by SIGKILL (restart) after \([0-9.]*\)s.*/\1/p" "$ERR")
	awk -v s="$secs" 'BEGIN { exit !(s >= 0.5) }' || { echo "killed after ${secs}s" >&2; return 1; }
	# the first job's child went with it: one job and its child are left
	expect_eq processes 2 "$(marked "$mark")"
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	grep -q "killed by SIGKILL (shutdown) after .* on '$W/second'" "$ERR"
	expect_eq "left running" 0 "$(marked "$mark")"
}

@test "a job that forks a child and exits: a restart stops the child before the new job starts" {
	local mark="hostile-$BATS_TEST_NUMBER-$$"
	cat >"$TEST_DIR/server.sh" <<-'SH'
		# a server that puts itself in the background, as daemons do
		for pid in $(cat "$LOG.pids" 2>/dev/null); do
			# a zombie waiting for init to reap it is gone
			case $(ps -o stat= -p "$pid") in
			'' | Z*) ;;
			*) echo "$pid still there" >>"$LOG" ;;
			esac
		done
		sh -c 'trap "" TERM; while :; do sleep 0.05; done' "$1-child" &
		echo $! >>"$LOG.pids"
		echo "start $2" >>"$LOG"
	SH
	start_run "$W" --on-busy restart --stop-timeout 300ms -- sh "$TEST_DIR/server.sh" "$mark" {}
	echo x >"$W/first"
	wait_for_line "$LOG" "start $W/first"
	wait_for_line "$ERR" "left processes running in its process group; they are stopped at the next restart"
	alive "$mark-child"
	echo x >"$W/second"
	wait_for_line "$LOG" "start $W/second"
	expect_eq log "$(printf '%s\n' "start $W/first" "start $W/second")" "$(cat "$LOG")"
	expect_eq "children" 1 "$(marked "$mark-child")"
	# and at the stop of vigil, the second one's child goes too
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	expect_eq "left running" 0 "$(marked "$mark")"
}

@test "a job that forks a child and exits: the stop of vigil stops the child, SIGKILL if it must" {
	local mark="hostile-$BATS_TEST_NUMBER-$$"
	start_run "$W" --stop-timeout 300ms -- \
		sh -c 'sh -c "trap \"\" TERM; while :; do sleep 0.05; done" "$0-stubborn" & sh -c "while :; do sleep 0.05; done" "$0-meek" & echo started >>"$LOG"' "$mark"
	echo x >"$W/a"
	jobs_done 1
	wait_for_line "$ERR" "left processes running"
	alive "$mark-stubborn"
	alive "$mark-meek"
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	expect_eq "left running" 0 "$(marked "$mark")"
	grep -q 'stopped: 1 jobs run, 0 failed' "$ERR"
}

@test "10000 paths in one batch with a lone {}: split to fit ARG_MAX, none lost, none twice" {
	local max env n name
	max=$(getconf ARG_MAX)
	env=$(env | wc -c)
	# 10000 names of 200 bytes: more than one command line holds
	name=$(printf 'n%.0s' $(seq 190))
	for n in $(seq 10000); do
		: >"$W/$name-$n"
	done
	start_run "$W" --initial --batch 10000 --batch-wait 200ms -- \
		sh -c 'printf "%s\0" "$@" >>"$LOG"; printf "%s %s\n" "$#" "$(printf "%s\0" "$@" | wc -c)" >>"$LOG.sizes"' rec {}
	local end=$((SECONDS + 60))
	until [ -e "$LOG.sizes" ] && [ "$(awk '{ n += $1 } END { print n }' "$LOG.sizes")" -ge 10000 ]; do
		[ $SECONDS -lt $end ] || { cat "$ERR" >&2; return 1; }
		sleep 0.1
	done
	expect_eq "paths, none twice" 10000 "$(tr '\0' '\n' <"$LOG" | sort -u | wc -l)"
	expect_eq "paths in all" 10000 "$(tr '\0' '\n' <"$LOG" | wc -l)"
	for n in 1 5000 10000; do
		grep -qzx "$W/$name-$n" "$LOG"
	done
	# several jobs, each within ARG_MAX less the environment (and a
	# pointer a word)
	local jobs
	jobs=$(wc -l <"$LOG.sizes")
	[ "$jobs" -ge 2 ] || { echo "one job for $(wc -c <"$LOG") bytes of paths" >&2; return 1; }
	awk -v max="$max" -v env="$env" '{ if ($2 + 8 * $1 + env > max) { print "job of " $1 " paths, " $2 " bytes" > "/dev/stderr"; bad = 1 } } END { exit bad }' "$LOG.sizes"
	! grep -q 'cannot run' "$ERR"
}
