# Shared by the CLI tests: each test runs the real binary in a fresh
# temporary directory and waits for what it expects to see, never for a
# fixed time.

VIGIL=$(readlink -f "${VIGIL:-$BATS_TEST_DIRNAME/../../build/vigil}")

# Every process a test starts carries this mark in its environment (bats
# runs each test in a process of its own, which loads this file), so that
# the test's teardown ends what the test left running: a daemon whose pid
# it could not learn, a background job of a test that failed half-way.
export VIGIL_TEST_MARK="${BATS_TEST_FILENAME##*/}:$BASHPID"

# end_test_processes: TERM to every process with this test's mark, and
# KILL to those left a second later.
end_test_processes() {
	local pids n
	for n in 1 2; do
		# (the grep has the mark too, and is gone by the kill)
		pids=$(grep -lzxF -s "VIGIL_TEST_MARK=$VIGIL_TEST_MARK" /proc/[0-9]*/environ |
			sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p')
		[ -n "$pids" ] || return 0
		[ "$n" = 1 ] || { kill -KILL $pids 2>/dev/null; return 0; }
		kill -TERM $pids 2>/dev/null
		local i
		for ((i = 0; i < 20; i++)); do
			sleep 0.05
			pids=$(grep -lzxF -s "VIGIL_TEST_MARK=$VIGIL_TEST_MARK" /proc/[0-9]*/environ)
			[ -n "$pids" ] || return 0
		done
	done
}

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-test.XXXXXX")
	W=$TEST_DIR/w          # the watched tree
	OUT=$TEST_DIR/out      # vigil's stdout
	ERR=$TEST_DIR/err      # vigil's stderr
	mkdir "$W"
	cd "$W" || return 1
	VIGIL_PID=
}

teardown() {
	stop_vigil
	end_test_processes
	cd / && rm -rf "$TEST_DIR"
}

# start_vigil ARGS...: run `vigil ARGS...` in the background, stdout to $OUT,
# stderr to $ERR, and return once it says its watches are established.
start_vigil() {
	: >"$OUT"
	: >"$ERR"
	# fd 3 is bats' own: a background process holding it stalls the run
	"$VIGIL" "$@" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established\.' 30 || {
		echo "vigil did not set up its watches; stderr:" >&2
		cat "$ERR" >&2
		return 1
	}
}

# wait_vigil: wait for the background vigil to exit on its own; its exit
# status goes to $status.
wait_vigil() {
	status=0
	wait "$VIGIL_PID" || status=$?
	VIGIL_PID=
}

stop_vigil() {
	if [ -n "${VIGIL_PID:-}" ]; then
		kill "$VIGIL_PID" 2>/dev/null
		wait "$VIGIL_PID" 2>/dev/null || true
		VIGIL_PID=
	fi
	return 0
}

# wait_for_line FILE REGEX [SECONDS]: block until a line of FILE matches the
# extended REGEX (tail -f wakes on the write itself). Fails after SECONDS.
wait_for_line() {
	local file=$1 re=$2 secs=${3:-20} i
	# (a failing pipeline must not end the test before it says why)
	local rc=1
	# tail -f misses a line written while it sets up its own watch, which
	# a loaded machine makes likely: it starts again from the top each
	# second. -F, not -f: a file not made yet is waited for, not given up
	# on at once (that ran the 20 tries out in a blink)
	# on: grep is fed through a process substitution, not a pipe, so that
	# it returns as soon as it matches (a pipeline would last until tail
	# did, up to its second); in a subshell, so that the caller's $! stays
	# its own, and tail leaves bats' fd 3 alone (bats waits for it)
	for ((i = 0; i < secs && rc != 0; i++)); do
		rc=0
		(grep -E -q -m1 -- "$re" < <(timeout 1 tail -n +1 -F "$file" 2>/dev/null 3>&-)) || rc=$?
	done
	if [ "$rc" != 0 ]; then
		echo "timed out after ${secs}s waiting for /$re/ in $file; it holds:" >&2
		head -c 4000 "$file" >&2
		return 1
	fi
}

# start_gate DIR CMD [ARG]...: tests/cli/gate holds the first open of
# DIR by anyone else (vigil's walk or listing) while it runs CMD, then lets
# the open go on; returns once the gate is in place, and skips the test
# where there are no fanotify permission events (they need CAP_SYS_ADMIN
# and a kernel built with them). gate_done checks how CMD ended.
start_gate() {
	local gate
	gate=$(readlink -f "${GATE:-$BATS_TEST_DIRNAME/../../build/tests/cli/gate}")
	"$gate" "$@" >"$TEST_DIR/gate.out" 2>"$TEST_DIR/gate.err" 3>&- &
	GATE_PID=$!
	wait_for_line "$TEST_DIR/gate.out" '^ready$' 10 || {
		wait "$GATE_PID"
		skip "no fanotify permission events here: $(cat "$TEST_DIR/gate.err")"
	}
}

gate_done() {
	local rc=0
	wait "$GATE_PID" || rc=$?
	expect_eq "the gate's status ($(cat "$TEST_DIR/gate.err"))" 0 "$rc"
}

# sentinel NAME: create NAME in the watched tree and wait until vigil has
# reported it, so everything done before it has been reported too.
sentinel() {
	local name=${1:-sentinel}
	: >"$W/$name"
	wait_for_line "$OUT" "$name" 20
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" != "$3" ]; then
		printf '%s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
		return 1
	fi
}

# watch_count PID: the number of inotify watches PID holds.
watch_count() {
	local pid=$1 fd n=0
	for fd in /proc/"$pid"/fd/*; do
		if [ "$(readlink "$fd")" = "anon_inode:inotify" ]; then
			n=$((n + $(grep -c '^inotify wd:' /proc/"$pid"/fdinfo/"${fd##*/}")))
		fi
	done
	echo "$n"
}

# wait_for_watches PID N [SECONDS]: block until PID holds N watches. Some
# changes are not events (a directory moved out is let go of a few
# milliseconds after the queue runs dry), so this checks the condition
# itself until it holds.
wait_for_watches() {
	local pid=$1 want=$2 secs=${3:-10} have
	local end=$((SECONDS + secs))
	while have=$(watch_count "$pid"); [ "$have" != "$want" ]; do
		if [ "$SECONDS" -ge "$end" ]; then
			printf 'watches\n  expected: %s\n  actual:   %s\n' "$want" "$have" >&2
			return 1
		fi
		sleep 0.01
	done
}

# json_names_are_listing OUT DIR: each line of OUT is a --json event whose
# path is dir + name, and their names, back in bytes (\udcXX is byte XX),
# are exactly the entries of DIR.
json_names_are_listing() {
	python3 - "$1" "$2" <<'PY'
import json, os, sys
out, w = sys.argv[1], sys.argv[2]
names = []
for line in open(out, encoding="utf-8"):
    ev = json.loads(line)
    assert ev["path"] == ev["dir"] + ev["name"], ev
    names.append(ev["name"].encode("utf-8", "surrogateescape"))
expected = sorted(os.listdir(w.encode()))
if sorted(names) != expected:
    sys.exit("expected %r\nactual   %r" % (expected, sorted(names)))
PY
}

# rss_kib PID
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status
}

# Run a test only where the inotify sysctls can be written.
require_writable_sysctl() {
	if ! [ -w /proc/sys/fs/inotify/max_queued_events ] ||
		! (echo "$(cat /proc/sys/fs/inotify/max_queued_events)" >/proc/sys/fs/inotify/max_queued_events) 2>/dev/null; then
		skip "/proc/sys/fs/inotify is not writable here (needs root)"
	fi
}

require_userns() {
	unshare --user --map-root-user true 2>/dev/null ||
		skip "cannot create a user namespace here (unshare --user)"
}

# for_others [VAR]...: what a test runs under a dropped uid, copied where
# that uid can run it: the checkout may lie where others cannot go (root's
# home is 0700 on Debian). $VIGIL becomes a copy in $TEST_DIR/others (and,
# under valgrind, the vigil it runs, VIGIL_VALGRIND_BIN, too), as does each
# variable named ($HOLDER, say).
for_others() {
	local dir=$TEST_DIR/others name file
	mkdir -p "$dir"
	chmod 755 "$TEST_DIR" "$dir"
	for name in VIGIL "$@"; do
		file=${!name}
		cp "$file" "$dir/${file##*/}"
		chmod 755 "$dir/${file##*/}"
		printf -v "$name" '%s' "$dir/${file##*/}"
	done
	if [ -n "${VIGIL_VALGRIND_BIN:-}" ]; then
		cp "$VIGIL_VALGRIND_BIN" "$dir/vigil"
		chmod 755 "$dir/vigil"
		export VIGIL_VALGRIND_BIN=$dir/vigil
	fi
}
