# Shared by the tests of vigil run (run.bats, run-hostile.bats).

# The jobs record what they were given: each argument followed by a NUL,
# then a newline, appended to $LOG. A shell receives the names as "$@",
# never as text to parse.
REC='for a in "$@"; do printf "%s\0" "$a"; done >>"$LOG"; echo >>"$LOG"'

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-run.XXXXXX")
	W=$TEST_DIR/w
	OUT=$TEST_DIR/out
	ERR=$TEST_DIR/err
	export LOG=$TEST_DIR/log
	mkdir "$W"
	: >"$LOG"
	cd "$TEST_DIR" || return 1
	VIGIL_PID=
}

# start_run ARGS...: `vigil run ARGS` in the background, once its watches
# are set ("watching:" on stderr).
start_run() {
	: >"$OUT"
	: >"$ERR"
	"$VIGIL" run "$@" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: ' 20
}

# paused COMMAND...: run COMMAND while vigil is stopped (SIGSTOP), so that
# vigil reads all the changes COMMAND makes at once when it goes on. A test
# whose changes must reach vigil within one settle time or batch wait holds
# so however slow the machine is: the time COMMAND takes is not vigil's.
paused() {
	kill -STOP "$VIGIL_PID"
	local rc=0
	"$@" || rc=$?
	kill -CONT "$VIGIL_PID"
	return "$rc"
}

# until_true SECONDS COMMAND...: until COMMAND succeeds, waking on each
# job's end line.
until_true() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		if [ $SECONDS -ge $end ]; then
			echo "timed out waiting for: $*; stderr:" >&2
			cat "$ERR" >&2
			return 1
		fi
		wait_for_line "$ERR" '\] pid [0-9]+ (exited|killed)' 1 2>/dev/null || true
	done
}

# jobs_ended N: whether N jobs have ended (their end lines in $ERR).
jobs_ended() {
	[ "$(grep -c '\] pid [0-9]* \(exited\|killed\)' "$ERR")" -ge "$1" ]
}

# jobs_done N: wait until N jobs have ended.
jobs_done() {
	until_true 20 jobs_ended "$1"
}

# wait_for_lines FILE REGEX N [SECONDS]: until N lines of FILE match.
wait_for_lines() {
	local file=$1 re=$2 n=$3 secs=${4:-20} got
	got=$(timeout "$secs" tail -n +1 -F "$file" 2>/dev/null | grep -E -m "$n" -- "$re" | wc -l)
	if [ "$got" -lt "$n" ]; then
		echo "timed out after ${secs}s waiting for $n lines /$re/ in $file ($got); it holds:" >&2
		head -c 4000 "$file" >&2
		return 1
	fi
}

# recorded: the argument lists recorded, one line per job, NULs as '|'.
recorded() {
	tr '\0' '|' <"$LOG"
}

# rules FILE CONTENT: write a rules file (mode 600, as root requires).
rules() {
	printf '%s\n' "$2" >"$1"
	chmod 600 "$1"
}

# wait_distinct FILE N SECONDS: until N different lines are in FILE, woken
# by what is written to it (a second at most), not by polling it. SECONDS
# bounds a stall, not the whole wait: it fails when no new line has come
# for that long, so that a slow machine (a sanitizer build, 2 busy cores)
# that is still getting there is waited for, and a hang is still caught.
wait_distinct() {
	local file=$1 n=$2 secs=$3 end=$((SECONDS + $3)) have last=-1
	while have=$(sort -u "$file" | wc -l) && [ "$have" -lt "$n" ]; do
		if [ "$have" -ne "$last" ]; then
			last=$have end=$((SECONDS + secs))
		elif [ $SECONDS -ge $end ]; then
			echo "timed out: $have of $n different lines in $file, none new for ${secs}s; stderr:" >&2
			tail -n 20 "$ERR" >&2
			return 1
		fi
		timeout 1 tail -n 0 -f "$file" 2>/dev/null | head -n $((n - have)) >/dev/null || true
	done
}
