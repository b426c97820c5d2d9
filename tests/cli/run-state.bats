#!/usr/bin/env bats
# vigil run --state: a journal (SQLite) that keeps what vigil run must not
# lose across restarts and failures; retries; --list and --retry-failed;
# what it does when the state cannot be kept.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers

setup_file() {
	[ "${VIGIL_SQLITE:-1}" = 1 ] || skip "vigil is built without SQLite: no --state"
}

# The jobs: REC (run_helpers.bash), and the attempt they were told of.
REC_ATTEMPT='printf "%s %s\n" "$VIGIL_ATTEMPT" "$1" >>"$LOG"'

# stop_run: SIGTERM, and wait for the summary.
stop_run() {
	kill -TERM "$VIGIL_PID"
	wait "$VIGIL_PID" || status=$?
	VIGIL_PID=
}

# sql QUERY: the state database's answer (sqlite3, read-only).
sql() {
	sqlite3 -readonly "$TEST_DIR/state/vigil.db" "$1"
}

# waiting_rows N: whether N rows of the state are waiting.
waiting_rows() {
	[ "$(sql 'select count(*) from paths where state = 0' 2>/dev/null)" = "$1" ]
}

@test "files added, changed, unchanged and deleted while vigil is down: new and changed ones run, once" {
	local st=$TEST_DIR/state
	echo 1 >"$W/kept"
	echo 1 >"$W/changed"
	echo 1 >"$W/deleted"
	start_run --state "$st" "$W" -- sh -c "$REC" rec {}
	jobs_done 3
	stop_run
	# while it is down
	echo 2 >>"$W/changed"
	rm "$W/deleted"
	echo 1 >"$W/added"
	: >"$LOG"
	start_run --state "$st" "$W" -- sh -c "$REC" rec {}
	jobs_done 2
	grep -q "caught up with '$st': 2 paths new or changed, 0 waiting from before, 0 failed, 1 gone" "$ERR"
	stop_run
	expect_eq "run on" "$W/added| $W/changed|" "$(recorded | sort | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "rows" "$W/added $W/changed $W/kept" "$(sql 'select path from paths order by path' | tr '\n' ' ' | sed 's/ $//')"
}

@test "a file renamed while vigil runs is not run on again at the next start" {
	local st=$TEST_DIR/state
	start_run --state "$st" "$W" -- sh -c "$REC" rec {}
	echo 1 >"$W/a"
	jobs_done 1
	mv "$W/a" "$W/b" # close_write,moved_to: a rename runs (moved_to)
	jobs_done 2
	stop_run
	: >"$LOG"
	start_run --state "$st" "$W" -- sh -c "$REC" rec {}
	grep -q "caught up with '$st': 0 paths new or changed" "$ERR"
	stop_run
	expect_eq "run on" "" "$(recorded)"
}

@test "a job cut short by SIGKILL of vigil runs again at the start, with VIGIL_ATTEMPT=2" {
	local st=$TEST_DIR/state
	# the first attempt waits for a file that never comes: in flight
	start_run --state "$st" "$W" -- sh -c "$REC_ATTEMPT"'; [ "$VIGIL_ATTEMPT" -gt 1 ] ||
		{ echo $$ >"$LOG.pid"; exec sleep 300; }' job {}
	echo 1 >"$W/a"
	wait_for_line "$LOG" "^1 $W/a\$"
	expect_eq "row" "1|1" "$(sql 'select state, attempts from paths')" # running, 1
	kill -KILL "$VIGIL_PID"
	wait "$VIGIL_PID" || true
	wait_for_line "$LOG.pid" '^[0-9]+$'
	kill "$(cat "$LOG.pid")"
	start_run --state "$st" "$W" -- sh -c "$REC_ATTEMPT" job {}
	jobs_done 1
	grep -q "1 waiting from before" "$ERR"
	stop_run
	expect_eq "attempts" "1 $W/a
2 $W/a" "$(cat "$LOG")"
	expect_eq "row" "2|2|0" "$(sql 'select state, attempts, status from paths')"
}

@test "a stop by SIGTERM keeps what waits; the next start runs it" {
	local st=$TEST_DIR/state
	start_run --state "$st" --settle 1h "$W" -- sh -c "$REC" rec {}
	echo 1 >"$W/a"
	echo 1 >"$W/b"
	until_true 10 waiting_rows 2
	stop_run
	grep -q "2 left waiting" "$ERR"
	start_run --state "$st" --settle 0 "$W" -- sh -c "$REC" rec {}
	jobs_done 2
	grep -q "2 waiting from before" "$ERR"
	stop_run
	expect_eq "run on" "$W/a| $W/b|" "$(recorded | sort | tr '\n' ' ' | sed 's/ $//')"
}

@test "--retry with backoff: delays double, with jitter, up to the cap; then the path is failed and kept" {
	local st=$TEST_DIR/state
	start_run --state "$st" --retry 3 --retry-delay 400ms --retry-max-delay 1s "$W" \
		-- sh -c "$REC_ATTEMPT"'; exit 3' job {}
	echo 1 >"$W/bad"
	wait_for_line "$ERR" "failed after 4 attempts" 30
	# what vigil decided, from its log: each delay within its half
	# (jitter) of 400ms, 800ms, then 1s (the cap)
	local d1 d2 d3
	read -r d1 d2 d3 <<<"$(grep -o 'retry [0-9] of 3 in [0-9.]*s' "$ERR" | sed 's/.* in //; s/s$//' | tr '\n' ' ')"
	awk -v a="$d1" -v b="$d2" -v c="$d3" 'BEGIN { exit !(a >= 0.2 && a <= 0.4 && b >= 0.4 && b <= 0.8 && c >= 0.5 && c <= 1.0) }' ||
		{ echo "delays $d1 $d2 $d3" >&2; return 1; }
	expect_eq "attempts told" "1 2 3 4" "$(cut -d' ' -f1 "$LOG" | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "row" "3|4|768" "$(sql 'select state, attempts, status from paths')" # failed, exit 3
	run "$VIGIL" run --state "$st" --list failed
	expect_eq "--list failed" "failed  [run] '$W/bad': 4 attempts, exited 3, at " "${output%????-??-??T*}"
	stop_run
}

@test "--success-exit-status: the statuses and signals given count as success" {
	local st=$TEST_DIR/state
	start_run --state "$st" --success-exit-status 0,75,TERM "$W" \
		-- sh -c 'case $1 in *75) exit 75;; *term) kill -TERM $$;; *) exit 1;; esac' job {}
	echo >"$W/x75"
	echo >"$W/xterm"
	echo >"$W/x1"
	jobs_done 3
	stop_run
	expect_eq "rows" "$W/x1|3 $W/x75|2 $W/xterm|2" \
		"$(sql 'select path, state from paths order by path' | tr '\n' ' ' | sed 's/ $//')"
	run -1 "$VIGIL" run --success-exit-status 0,300 "$W" -- true
	expect_eq "bad status" "vigil run: '--success-exit-status': '300' is neither an exit status (0 to 255) nor a signal name" "$output"
}

@test "--list and --retry-failed while vigil runs on the same state: the failed path runs again" {
	local st=$TEST_DIR/state
	start_run --state "$st" --exclude '*.ok' "$W" -- sh -c "$REC_ATTEMPT"'; [ -e "$1.ok" ]' job {}
	echo 1 >"$W/a"
	echo 1 >"$W/b.ok"
	echo 1 >"$W/b"
	wait_for_line "$ERR" "'$W/a' failed after 1 attempt; kept as failed"
	jobs_done 2
	run "$VIGIL" run --state "$st" --list failed --json
	expect_eq "--list failed --json" 1 "${#lines[@]}"
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["state"] == "failed" and d["path"] == sys.argv[2] and d["attempts"] == 1 and d["status"] == 1, d
' "${lines[0]}" "$W/a"
	run "$VIGIL" run --state "$st" --list
	expect_eq "--list" "failed  [run] '$W/a': 1 attempt, exited 1, at
done    [run] '$W/b': 1 attempt, exited 0, at" "$(printf '%s\n' "${lines[@]}" | sed 's/ [0-9T:.-]*Z$//')"
	echo 1 >"$W/a.ok"
	run "$VIGIL" run --state "$st" --retry-failed "$W/nothing"
	expect_eq "not failed" "vigil run: 0 failed paths queued again in '$st'; nothing to do
vigil run: '$W/nothing': not a failed path in '$st'" "$output"
	expect_eq "status" 1 "$status"
	run "$VIGIL" run --state "$st" --retry-failed "$W/a"
	expect_eq "queued" "vigil run: 1 failed path queued again in '$st'; the running vigil takes them now" "$output"
	wait_for_line "$ERR" "1 failed path queued again \(--retry-failed\)"
	jobs_done 3
	stop_run
	expect_eq "row" "2|2" "$(sql "select state, attempts from paths where cast(path as text) = '$W/a'")"
	expect_eq "the attempts" "1 $W/a
2 $W/a" "$(grep " $W/a\$" "$LOG")"
}

@test "--retry-failed while vigil is down: the next start runs it" {
	local st=$TEST_DIR/state
	start_run --state "$st" --exclude '*.ok' "$W" -- sh -c "$REC_ATTEMPT"'; [ -e "$1.ok" ]' job {}
	echo 1 >"$W/a"
	wait_for_line "$ERR" "kept as failed"
	stop_run
	: >"$W/a.ok"
	run "$VIGIL" run --state "$st" --retry-failed
	expect_eq "queued" "vigil run: 1 failed path queued again in '$st'; they run at the next start of vigil run on it" "$output"
	: >"$LOG"
	start_run --state "$st" --exclude '*.ok' "$W" -- sh -c "$REC_ATTEMPT"'; [ -e "$1.ok" ]' job {}
	wait_for_line "$LOG" "^2 $W/a\$"
	stop_run
}

@test "a second vigil on one state refuses, naming the pid that holds it" {
	local st=$TEST_DIR/state
	start_run --state "$st" "$W" -- true
	run -1 "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "second" "vigil run: the state in '$st' is in use by pid $VIGIL_PID; one vigil at a time keeps a state" "$output"
	stop_run
}

@test "a corrupt database, or not vigil's, is refused in one line and left as it is" {
	local st=$TEST_DIR/state
	mkdir "$st"
	head -c 16384 /dev/urandom >"$st/vigil.db"
	local sum
	sum=$(md5sum <"$st/vigil.db")
	run -1 "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "garbage" "vigil run: '$st/vigil.db' is not a vigil state, or is corrupt (file is not a database); it is left as it is" "$output"
	expect_eq "left as it is" "$sum" "$(md5sum <"$st/vigil.db")"
	# a good one with a page broken
	rm -rf "$st"
	start_run --state "$st" "$W" -- true
	stop_run
	printf '\125\125\125\125' | dd of="$st/vigil.db" bs=1 seek=4096 conv=notrunc status=none
	sum=$(md5sum <"$st/vigil.db")
	run -1 "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "lines" 1 "${#lines[@]}"
	[[ $output == "vigil run: the state in '$st' is corrupt ("*"); it is left as it is" ]]
	expect_eq "left as it is" "$sum" "$(md5sum <"$st/vigil.db")"
	# another program's database
	rm -rf "$st"
	mkdir "$st"
	sqlite3 "$st/vigil.db" 'create table t(x)'
	run -1 "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "another program's" "vigil run: '$st/vigil.db' is not a vigil state (another program's database); it is left as it is" "$output"
	# a link to elsewhere
	rm "$st/vigil.db"
	ln -s /etc/passwd "$st/vigil.db"
	run -1 "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "a link" "vigil run: '$st/vigil.db' is not a regular file; a state is a file of its own, never followed elsewhere" "$output"
}

@test "a state of a newer format is refused; one of the older format 1 is migrated, its rows kept" {
	local st=$TEST_DIR/state
	start_run --state "$st" "$W" -- true
	stop_run
	sqlite3 "$st/vigil.db" 'pragma user_version = 3'
	run -1 "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "newer" "vigil run: the state in '$st' is of a newer format (3) than this vigil reads (2); run a newer vigil, or give another --state" "$output"
	# format 1, as the first vigil with --state wrote it: no definitions
	rm -rf "$st"
	mkdir "$st"
	echo 1 >"$W/done"
	sqlite3 "$st/vigil.db" "
		pragma application_id = 1986619244;
		create table rules(id integer primary key, name text not null unique);
		create table paths(rule integer not null, path blob not null, state integer not null,
			events integer not null default 0, origin blob, attempts integer not null default 0,
			failures integer not null default 0, status integer, time integer, retry_at integer,
			requested integer not null default 0, dev integer, ino integer, size integer,
			mtime integer, ctime integer, primary key(rule, path)) without rowid;
		insert into rules values(1, 'run');
		insert into paths values(1, cast('$W/done' as blob), 2, 8, null, 1, 0, 0, 1, null, 0,
			$(stat -c '%d, %i, %s' "$W/done"), $(stat -c '%.9Y' "$W/done" | tr -d .),
			$(stat -c '%.9Z' "$W/done" | tr -d .));
		insert into paths values(1, cast('$W/waiting' as blob), 0, 8, null, 0, 0, null, 1, null, 0,
			null, null, null, null, null);
		pragma user_version = 1;"
	echo 1 >"$W/waiting"
	start_run --state "$st" "$W" -- sh -c "$REC" rec {}
	jobs_done 1
	stop_run
	expect_eq "format" 2 "$(sql 'pragma user_version')"
	expect_eq "run on" "$W/waiting|" "$(recorded)"
	grep -q "0 paths new or changed, 1 waiting from before" "$ERR"
	[ -n "$(sql "select definition from rules where name = 'run'")" ]
}

@test "a read-only state directory is refused in one line, before any job" {
	local st=$TEST_DIR/state
	start_run --state "$st" "$W" -- true
	stop_run
	echo 1 >"$W/a"
	# a read-only mount of it, in a mount namespace of its own
	unshare -m true 2>/dev/null || skip "no mount namespaces here"
	run -1 unshare -m --propagation private sh -c '
		mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
		exec "$2" run --state "$1" "$3" -- sh -c "$4" rec {}' sh "$st" "$VIGIL" "$W" "$REC"
	[ "$status" != 99 ] || skip "cannot mount read-only here"
	expect_eq "read-only" "vigil run: cannot use '$st' as a state directory: read-only file system" "$output"
	expect_eq "run on" "" "$(recorded)"
	# and a directory the user may not write
	chmod 755 "$TEST_DIR"
	chmod 555 "$st"
	chmod 644 "$st"/*
	run -1 setpriv --reuid=nobody --regid=nogroup --clear-groups "$VIGIL" run --state "$st" "$W" -- true
	expect_eq "not writable" "vigil run: cannot use '$st' as a state directory: permission denied" "$output"
}

# in_tmpfs KB SCRIPT ARGS...: SCRIPT (sh) in a mount namespace of its own
# with a KB tmpfs on $TEST_DIR/small (gone with the namespace).
in_tmpfs() {
	local kb=$1
	shift
	mkdir -p "$TEST_DIR/small"
	unshare -m --propagation private sh -c \
		'mount -t tmpfs -o size='"$kb"'k tmpfs "$SMALL" || exit 99; '"$1" sh "${@:2}"
}

@test "a state on a tiny tmpfs that fills: one line, exit 1, at the start and while it runs" {
	unshare -m true 2>/dev/null || skip "no mount namespaces here"
	export SMALL=$TEST_DIR/small V=$VIGIL WD=$W
	# full before the start
	run -1 in_tmpfs 64 'dd if=/dev/zero of="$SMALL/fill" bs=4k status=none 2>/dev/null
		exec "$V" run --state "$SMALL/st" "$WD" -- true'
	[ "$status" != 99 ] || skip "cannot mount a tmpfs here"
	expect_eq "full at the start" "vigil run: cannot write the state in '$SMALL/st': no space left on device" "$output"
	# full while it runs: files come, the journal grows, the disk is full
	run in_tmpfs 128 '
		"$V" run --state "$SMALL/st" "$WD" -- true 2>"$SMALL/../err" & pid=$!
		until grep -qs "watching:" "$SMALL/../err"; do sleep 0.05; done
		dd if=/dev/zero of="$SMALL/fill" bs=4k status=none 2>/dev/null
		i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100000 ]; do echo $i >"$WD/f$i"; i=$((i + 1)); done
		wait $pid; echo "exit $?"'
	expect_eq "exit" "exit 1" "$output"
	grep -q "^vigil run: cannot write the state in '$SMALL/st': no space left on device; stopping, as the state is what makes sure that no file is lost or done twice\$" "$TEST_DIR/err"
	expect_eq "said once" 1 "$(grep -c 'cannot write the state' "$TEST_DIR/err")"
}

@test "SIGHUP: a rule renamed keeps its state; a rule removed keeps what waited in it" {
	local st=$TEST_DIR/state
	mkdir "$W/a" "$W/b"
	rules "$TEST_DIR/r.ini" "[defaults]
state = $st
command = sh -c '$REC' rec {}
[one]
path = $W/a
[two]
path = $W/b
settle = 1h"
	start_run --rules "$TEST_DIR/r.ini"
	echo 1 >"$W/a/x"
	jobs_done 1
	echo 1 >"$W/b/y" # waits an hour
	until_true 10 waiting_rows 1
	rules "$TEST_DIR/r.ini" "[defaults]
state = $st
command = sh -c '$REC' rec {}
[uno]
path = $W/a"
	kill -HUP "$VIGIL_PID"
	wait_for_line "$ERR" "reloaded"
	grep -q "\[uno\] renamed from \[one\]: its state carries over" "$ERR"
	grep -q "\[two\] no longer in '$TEST_DIR/r.ini': 1 waiting path kept in '$st'" "$ERR"
	echo 2 >>"$W/a/x"
	jobs_done 2
	stop_run
	expect_eq "rules" "two uno" "$(sql 'select name from rules order by name' | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "kept waiting" "$W/b/y|0" "$(sql "select p.path, p.state from paths p join rules r on r.id = p.rule where r.name = 'two'")"
	# renamed again while vigil is down: the state still carries over
	rules "$TEST_DIR/r.ini" "[defaults]
state = $st
command = sh -c '$REC' rec {}
[eins]
path = $W/a
[two]
path = $W/b
settle = 0"
	: >"$LOG"
	start_run --rules "$TEST_DIR/r.ini"
	jobs_done 1
	grep -q "\[eins\] the rule \[uno\] of '$st' renamed: its state carries over" "$ERR"
	grep -q "\[eins\] caught up with '$st': 0 paths new or changed" "$ERR"
	stop_run
	expect_eq "run on" "$W/b/y|" "$(recorded)"
}

@test "--rules with --state: each rule without its own 'state' keeps it there (the systemd unit's way)" {
	local st=$TEST_DIR/state
	mkdir "$W/a" "$W/b"
	rules "$TEST_DIR/r.ini" "[a]
path = $W/a
command = sh -c '$REC' rec {}
[b]
path = $W/b
state = $TEST_DIR/own
command = sh -c '$REC' rec {}"
	echo 1 >"$W/a/x"
	echo 1 >"$W/b/y"
	start_run --rules "$TEST_DIR/r.ini" --state "$st"
	jobs_done 2
	stop_run
	expect_eq "in --state" "$W/a/x" "$(sql 'select path from paths')"
	expect_eq "in its own" "$W/b/y" "$(sqlite3 -readonly "$TEST_DIR/own/vigil.db" 'select path from paths')"
	run -1 "$VIGIL" run --rules "$TEST_DIR/r.ini" --state "$st" --settle 1s
	expect_eq "other options" "vigil run: rules come from '$TEST_DIR/r.ini' or from the command line, not both" "$output"
}


@test "a row of the state naming a path the rule does not see is not run on" {
	local st=$TEST_DIR/state
	start_run --state "$st" -e close_write,delete "$W" -- sh -c "$REC" rec {}
	stop_run
	# as if someone had written the database: a deletion waiting outside
	# the tree, and a failed path outside it asked to be retried
	sqlite3 "$st/vigil.db" "insert into paths(rule, path, state, events) values(1, cast('/etc/passwd' as blob), 0, 512);
		insert into paths(rule, path, state, events, requested) values(1, cast('/etc/shadow' as blob), 0, 8, 1)"
	start_run --state "$st" -e close_write,delete "$W" -- sh -c "$REC" rec {}
	grep -q "2 waiting from before, 0 failed, 2 gone" "$ERR" || { cat "$ERR" >&2; false; }
	echo 1 >"$W/a"
	jobs_done 1
	stop_run
	expect_eq "run on" "$W/a|" "$(recorded)"
	expect_eq "rows" "$W/a" "$(sql 'select cast(path as text) from paths')"
}

@test "--state-sync full, group, normal and off: each keeps what was handled across a restart" {
	local mode
	for mode in full group normal off; do
		local st=$TEST_DIR/state-$mode
		mkdir "$W/$mode"
		: >"$LOG"
		start_run --state "$st" --state-sync "$mode" "$W/$mode" -- sh -c "$REC" rec {}
		echo "$mode" >"$W/$mode/f"
		jobs_done 1
		stop_run
		start_run --state "$st" --state-sync "$mode" "$W/$mode" -- sh -c "$REC" rec {}
		grep -q "caught up with '$st': 0 paths new or changed, 0 waiting from before" "$ERR"
		stop_run
		expect_eq "$mode: run on" "$W/$mode/f|" "$(recorded)"
	done
	run -1 "$VIGIL" run --state-sync always "$W" -- true
	expect_eq "bad mode" "vigil run: '--state-sync': 'always' is not one of group, full, normal or off" "$output"
}
