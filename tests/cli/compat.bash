# Side by side with inotify-tools: run the real inotifywait (or
# inotifywatch) and vigil under the same name, each in its own copy of the
# same tree and at the same time, put both copies through the same file
# operations, and compare what they print byte for byte.
#
# Both tools run in a directory of their own ($TEST_DIR/ref and
# $TEST_DIR/vig) and are given relative paths, so their output is the same
# text when they agree. Cookies are numbered in order of appearance before
# comparing, as the kernel hands each rename a new one.

# require_reference TOOL: skip unless inotify-tools' TOOL is installed.
require_reference() {
	REF_BIN=$(command -v "$1") || skip "$1 is not installed (apt-get install inotify-tools)"
	mkdir -p "$TEST_DIR/bin"
	ln -sf "$(readlink -f "$VIGIL")" "$TEST_DIR/bin/$1"
	VIG_BIN=$TEST_DIR/bin/$1
	mkdir -p "$TEST_DIR/ref" "$TEST_DIR/vig"
}

# in_both FUNCTION [ARGS...]: run FUNCTION in each copy of the tree, both
# at once: with -t 1 (an idle second ends a tool), one side's changes must
# not wait for the other's on a busy machine.
in_both() {
	local ref rc=0
	(cd "$TEST_DIR/ref" && "$@") 3>&- &
	ref=$!
	(cd "$TEST_DIR/vig" && "$@") || rc=$?
	wait "$ref" || rc=$?
	return "$rc"
}

# side_by_side [--quiet N] [--stdin FILE] -- ARGS...: start both tools with
# ARGS and return once both have set their watches: at the "Watches
# established." line, or with --quiet, once each holds N watches.
side_by_side() {
	local quiet= stdin=/dev/null
	while [ "$1" != -- ]; do
		case $1 in
		--quiet) quiet=$2; shift 2 ;;
		--stdin) stdin=$2; shift 2 ;;
		esac
	done
	shift
	local side
	for side in ref vig; do
		local bin=$REF_BIN
		[ "$side" = vig ] && bin=$VIG_BIN
		(cd "$TEST_DIR/$side" && exec "$bin" "$@") <"$stdin" \
			>"$TEST_DIR/$side.out" 2>"$TEST_DIR/$side.err" 3>&- &
		eval "${side^^}_PID=$!"
	done
	for side in ref vig; do
		local pid
		eval "pid=\$${side^^}_PID"
		if [ -n "$quiet" ]; then
			wait_for_watches "$pid" "$quiet" 20
		else
			wait_for_line "$TEST_DIR/$side.err" 'Watches established|Finished establishing' 20
		fi
	done
}

# finish: wait for both tools to exit on their own (-t, or one event);
# their exit statuses go to $REF_RC and $VIG_RC.
finish() {
	REF_RC=0 VIG_RC=0
	wait "$REF_PID" || REF_RC=$?
	wait "$VIG_PID" || VIG_RC=$?
	REF_PID= VIG_PID=
}

# interrupt SIGNAL: send SIGNAL to both (inotifywatch prints on SIGINT),
# then finish.
interrupt() {
	kill -s "$1" "$REF_PID" "$VIG_PID"
	finish
}

# number_cookies: in both outputs, replace each "c=NUMBER" (a --format
# with c=%c) by its order of first appearance, so that two runs compare.
number_cookies() {
	local side
	for side in ref vig; do
		perl -i -pe 's{\bc=([0-9a-f]+)}{"c=" . ($n{$1} //= ++$i)}ge' "$TEST_DIR/$side.out"
	done
}

# same_output [STREAM]: stdout (or err) of both is the same byte for byte;
# otherwise show both. Runs of identical lines count as one: the kernel
# merges an event into an identical one still queued, so how many of a run
# a reader gets depends on when it reads (two ACCESS of one directory
# during 'rm -r', say).
same_output() {
	local s=${1:-out}
	uniq "$TEST_DIR/ref.$s" >"$TEST_DIR/ref.$s.u"
	uniq "$TEST_DIR/vig.$s" >"$TEST_DIR/vig.$s.u"
	if ! cmp -s "$TEST_DIR/ref.$s.u" "$TEST_DIR/vig.$s.u"; then
		echo "inotify-tools and vigil differ on std$s:" >&2
		diff -u --label inotify-tools --label vigil \
			<(cat -A "$TEST_DIR/ref.$s") <(cat -A "$TEST_DIR/vig.$s") >&2
		return 1
	fi
}

# same: stdout, stderr and exit status all equal.
same() {
	same_output out && same_output err &&
		expect_eq "exit status (inotify-tools, vigil)" "$REF_RC" "$VIG_RC"
}

teardown_side_by_side() {
	local pid
	for pid in ${REF_PID:-} ${VIG_PID:-}; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	REF_PID= VIG_PID=
}
