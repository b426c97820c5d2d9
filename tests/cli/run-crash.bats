#!/usr/bin/env bats
# vigil run --state under SIGKILL: every file is handled; none twice but
# the jobs that were in flight at a kill, at most --jobs of them a kill.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers

setup_file() {
	[ "${VIGIL_SQLITE:-1}" = 1 ] || skip "vigil is built without SQLite: no --state"
}

@test "50 SIGKILLs at random moments while 2,000 files pass through --jobs 2: each handled, twice only if in flight at a kill" {
	local rounds=50 per=40 files=2000 r i n pid start=$SECONDS
	[ -x "$APPENDER" ] || skip "no APPENDER (tests/cli/appender.c, built by meson)"
	local -a run=("$VIGIL" run --state "$TEST_DIR/state" --jobs 2 --settle 0 "$W"
		-- "$APPENDER" "$LOG" {})
	# files come whole, renamed into place (as in an inbox): a file a
	# walk finds half written would be run on again once it is closed,
	# rightly, and count here as done twice
	mkdir "$TEST_DIR/stage"
	for ((r = 0; r < rounds; r++)); do
		# half of each round's files come while vigil is down, half
		# while it runs (or starts, or catches up)
		for ((i = 0; i < per / 2; i++)); do echo "$r" >"$TEST_DIR/stage/r$r-a$i"; done
		mv "$TEST_DIR/stage/"* "$W/"
		"${run[@]}" 2>>"$ERR" 3>&- &
		pid=$!
		for ((i = 0; i < per / 2; i++)); do echo "$r" >"$TEST_DIR/stage/r$r-b$i"; done
		mv "$TEST_DIR/stage/"* "$W/"
		# a random moment, up to 0.2s on: the catch-up, a commit, a
		# job's start or end, the wait
		sleep "0.$((RANDOM % 20))"
		kill -KILL "$pid"
		wait "$pid" || true
		# what the state says ran at the kill: what runs again, and
		# all that may be done twice
		n=$(sqlite3 -readonly "$TEST_DIR/state/vigil.db" \
			'select cast(path as text) from paths where state = 1' 2>/dev/null |
			tee -a "$TEST_DIR/in-flight" | wc -l)
		[ "$n" -le 2 ] || {
			echo "$n jobs in flight at kill $r, with --jobs 2" >&2
			return 1
		}
	done
	local killed_at=$((SECONDS - start))
	# a last start, left to finish the work
	start_run "${run[@]:2}"
	wait_distinct "$LOG" "$files" 120
	stop_vigil
	local total distinct twice
	total=$(wc -l <"$LOG")
	distinct=$(sort -u "$LOG" | wc -l)
	twice=$((total - distinct))
	echo "# $rounds kills in ${killed_at}s, $((SECONDS - start))s in all: $distinct files handled," \
		"$twice again ($(sort "$LOG" | uniq -d | wc -l) paths), at most $((2 * rounds)) allowed" >&3
	expect_eq "files handled" "$files" "$distinct"
	# nothing handled that was not dropped
	expect_eq "files in the log that exist" "$files" \
		"$(sort -u "$LOG" | while IFS= read -r p; do [ -f "$p" ] && echo; done | wc -l)"
	[ "$twice" -le $((2 * rounds)) ] || {
		echo "$twice handled twice, more than 2 a kill; these:" >&2
		sort "$LOG" | uniq -c | awk '$1 > 1' | head -20 >&2
		return 1
	}
	# and each of them was in flight at a kill
	touch "$TEST_DIR/in-flight"
	expect_eq "handled twice, not in flight at a kill" "" \
		"$(sort "$LOG" | uniq -d | comm -23 - <(sort -u "$TEST_DIR/in-flight"))"
}
