#!/usr/bin/env bats
# vigil stats (inotifywatch): options, the table, signals, messages in both
# wordings, and the real inotifywatch side by side.
#
# Counting is deterministic here without waiting: the kernel queues an
# event within the system call that causes it, and vigil counts everything
# queued before the signal (or the timeout) that ends the count.

load helpers

# start_as COMMAND...: run COMMAND in the background, stdout to $OUT,
# stderr to $ERR; return once it has begun counting.
start_as() {
	: >"$OUT"
	: >"$ERR"
	"$@" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" '^Finished establishing watches' 30 || {
		echo "no 'Finished establishing watches' line; stderr:" >&2
		cat "$ERR" >&2
		return 1
	}
}

start_stats() { start_as "$VIGIL" stats "$@"; }

# inotifywatch: vigil under that name, through a link in the test directory.
compat() {
	ln -sf "$(readlink -f "$VIGIL")" "$TEST_DIR/inotifywatch"
	echo "$TEST_DIR/inotifywatch"
}

start_compat() { start_as "$(compat)" "$@"; }

# end_stats [SIGNAL]: end the count (SIGINT by default) and wait for the
# exit; its status goes to $status.
end_stats() {
	kill -"${1:-INT}" "$VIGIL_PID"
	wait_vigil
}

# expect_out EXPECTED: stdout, whole.
expect_out() {
	expect_eq stdout "$1" "$(cat "$OUT")"
}

# --- the table ---------------------------------------------------------------

@test "stats: --help prints the usage and exits 0" {
	run "$VIGIL" stats --help
	expect_eq status 0 "$status"
	[[ "${lines[0]}" == "Usage: vigil stats [OPTION]... FILE..." ]]
	[[ "$output" == *"--ascending"* ]]
	run "$VIGIL" help stats
	expect_eq status 0 "$status"
	[[ "${lines[0]}" == "Usage: vigil stats [OPTION]... FILE..." ]]
}

@test "stats: one row per watched directory, with its trailing slash" {
	mkdir d
	echo one >d/f
	start_stats d
	echo more >>d/f
	cat d/f >/dev/null
	end_stats
	expect_eq status 0 "$status"
	expect_out "total  access  modify  close_write  close_nowrite  open  filename
6      1       1       1            1              2     d/"
	expect_eq stderr "Establishing watches...
Finished establishing watches, now collecting statistics." "$(cat "$ERR")"
}

@test "stats: a file watched directly has a row of its own, without a slash" {
	echo one >lone
	start_stats lone
	echo more >>lone
	chmod 600 lone
	end_stats
	expect_out "total  modify  attrib  close_write  open  filename
4      1       1       1            1     lone"
}

@test "stats: with no event, 'No events occurred.' on stderr and exit 0" {
	mkdir d
	start_stats d
	end_stats
	expect_eq status 0 "$status"
	expect_out ""
	expect_eq "last line of stderr" "No events occurred." "$(tail -n 1 "$ERR")"
}

@test "stats: -v says how many watches, each FILE with -r, and the timeout" {
	mkdir -p d/sub
	run "$VIGIL" stats -v -r -t 0.1 d
	expect_eq status 0 "$status"
	expect_eq output "Establishing watches...
Setting up watch(es) on d
OK, d is now being watched.
Total of 2 watches.
Finished establishing watches, now collecting statistics.
Will listen for events for 0.1 seconds.
No events occurred." "$output"
}

@test "stats: -z prints the rows and columns of zeros too" {
	mkdir -p d/quiet
	start_stats -z -r -e create,delete,modify d
	touch d/new
	end_stats
	expect_out "total  modify  create  delete  filename
1      0       1       0       d/
0      0       0       0       d/quiet/"
}

# sort_tree: d/x/ gets 12 events, d/y/ 7 of which one access, d/ 4.
sort_tree() {
	rm -rf d
	mkdir -p d/x d/y
}

sort_tree_ops() {
	touch d/x/1 d/x/2 d/x/3
	echo a >d/y/1
	cat d/y/1 >/dev/null
	touch d/2
}

@test "stats: -a sorts smallest first, ties in inotifywatch's watch order" {
	sort_tree
	start_stats -r -a total d
	sort_tree_ops
	end_stats
	# a directory is watched after the ones below it: d/ comes last of 4s
	expect_out "total  access  modify  attrib  close_write  close_nowrite  open  create  filename
4      0       0       1       1            0              1     1       d/
7      1       1       0       1            1              2     1       d/y/
12     0       0       3       3            0              3     3       d/x/"
	sort_tree
	start_stats -r -a access d
	sort_tree_ops
	end_stats
	[[ "$(cut -c 74- "$OUT" | tr '\n' ' ')" == "filename d/x/ d/ d/y/ " ]]
}

@test "stats: -d sorts largest first, by the event named (-d access too)" {
	sort_tree
	start_stats -r -d access d
	sort_tree_ops
	end_stats
	# inotifywatch sorts '-d access' as '-d total' (d/x/ first)
	expect_out "total  access  modify  attrib  close_write  close_nowrite  open  create  filename
7      1       1       0       1            1              2     1       d/y/
12     0       0       3       3            0              3     3       d/x/
4      0       0       1       1            0              1     1       d/"
	sort_tree
	start_stats -r -d attrib d
	sort_tree_ops
	end_stats
	[[ "$(cut -c 74- "$OUT" | tr '\n' ' ')" == "filename d/x/ d/ d/y/ " ]]
}

@test "stats: -r counts each event in the row of the directory holding it" {
	mkdir -p d/a/b
	start_stats -r -e create d
	touch d/a/b/1 d/a/b/2 d/a/1 d/1 d/2 d/3
	end_stats
	expect_out "total  create  filename
3      3       d/
2      2       d/a/b/
1      1       d/a/"
}

@test "stats: -P watches a symbolic link itself" {
	echo one >target
	ln -s target link
	start_stats -P link
	echo more >>target
	touch -h link
	end_stats
	expect_out "total  attrib  filename
1      1       link"
	start_stats link
	echo more >>target
	end_stats
	expect_out "total  modify  close_write  open  filename
3      1       1            1     link"
}

@test "stats: -e counts only the events named, in columns of their own" {
	mkdir d
	start_stats -e modify -e close_write,delete d
	echo one >d/f
	rm d/f
	end_stats
	expect_out "total  modify  close_write  delete  filename
3      1       1            1       d/"
}

@test "stats: -t counts for that long in all, however many events come" {
	mkdir d
	: >"$ERR"
	# events without a pause, from before vigil starts until it has ended
	# (or a minute): a timeout that restarted with each event would never
	# pass. (Started after wait_for_line, which can take a second, the
	# touching could begin after -t 1 was over: no events, no table.)
	(
		end=$((SECONDS + 60))
		while ((SECONDS < end)); do touch d/f; done
	) 3>&- &
	local toucher=$!
	"$VIGIL" stats -t 1 d >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	local end=$((SECONDS + 60))
	while kill -0 "$VIGIL_PID" 2>/dev/null && ((SECONDS < end)); do
		sleep 0.1
	done
	kill "$toucher" 2>/dev/null || true
	wait "$toucher" 2>/dev/null || true
	if kill -0 "$VIGIL_PID" 2>/dev/null; then
		echo "-t 1: still counting after a minute of events" >&2
		return 1
	fi
	wait_vigil
	expect_eq status 0 "$status"
	# a table (which columns depends on whether d/f was made before the
	# watch or after)
	[[ "$(head -n 1 "$OUT")" == "total  attrib  close_write  open  "*filename ]]
	[[ "$(sed -n 2p "$OUT")" == [0-9]*" d/" ]]
}

@test "stats: --fromfile reads the FILEs to watch, @ lines exclude" {
	mkdir -p d/sub d/skip
	echo one >lone
	printf '%s\n' d lone @d/skip >"$TEST_DIR/list"
	start_stats -r --fromfile "$TEST_DIR/list"
	touch d/sub/a d/skip/b
	echo more >>lone
	end_stats
	expect_out "total  modify  attrib  close_write  open  create  filename
4      0       1       1            1     1       d/sub/
3      1       0       1            1     0       lone"
}

@test "stats: @PATH is neither watched nor counted" {
	mkdir -p d/skip d/keep
	start_stats -z -r -e create d @d/skip
	touch d/skip/a d/keep/b
	end_stats
	expect_out "total  create  filename
1      1       d/keep/
0      0       d/"
}

@test "stats: --exclude leaves out matching paths" {
	mkdir d
	start_stats -e create d --exclude '\.tmp$'
	touch d/a.tmp d/b.txt d/c.TMP
	end_stats
	expect_out "total  create  filename
2      2       d/"
}

@test "stats: --excludei leaves out matching paths, ignoring case" {
	mkdir d
	start_stats -e create d --excludei '\.tmp$'
	touch d/a.tmp d/b.txt d/c.TMP
	end_stats
	expect_out "total  create  filename
1      1       d/"
}

@test "stats: --include counts matching paths only" {
	mkdir d
	start_stats -e create d --include '\.c$'
	touch d/a.c d/b.h d/c.C
	end_stats
	expect_out "total  create  filename
1      1       d/"
}

@test "stats: --includei counts matching paths only, ignoring case" {
	mkdir d
	start_stats -e create d --includei '\.c$'
	touch d/a.c d/b.h d/c.C
	end_stats
	expect_out "total  create  filename
2      2       d/"
}

@test "stats: every regex filter given applies, also as inotifywatch" {
	mkdir d
	start_compat -e create d --exclude '^d/a' --exclude '^d/b' --excludei 'X' --include '\.c$'
	touch d/a.c d/b.c d/x.c d/c.c d/c.h
	end_stats
	expect_out "total  create  filename
1      1       d/"
}

@test "stats: --json prints the counts as one object; names as \\udcXX" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	mkdir -p d/$'caf\xe9'
	start_stats -r -e create,modify --json d
	touch d/$'caf\xe9'/1 d/$'caf\xe9'/2 d/1
	end_stats
	expect_eq status 0 "$status"
	expect_eq lines 1 "$(wc -l <"$OUT")"
	grep -qF '"path":"d/caf\udce9/"' "$OUT"
	python3 - "$OUT" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["total"] == {"total": 3, "events": {"modify": 0, "create": 3}}, doc["total"]
files = doc["files"]
assert [f["path"].encode("utf-8", "surrogateescape") for f in files] == \
    [b"d/caf\xe9/", b"d/"], files
assert files[0] == {"path": files[0]["path"], "total": 2,
                    "events": {"modify": 0, "create": 2}}, files[0]
EOF
}

@test "stats: --json with no event prints an empty list" {
	mkdir d
	start_stats --json -e open d
	end_stats
	expect_out '{"total":{"total":0,"events":{"open":0}},"files":[]}'
	expect_eq "last line of stderr" "No events occurred." "$(tail -n 1 "$ERR")"
}

@test "stats: SIGUSR1 prints the table so far, and counting goes on" {
	mkdir d
	start_stats -e create d
	touch d/1
	kill -USR1 "$VIGIL_PID"
	wait_for_line "$OUT" '^$'
	kill -0 "$VIGIL_PID"
	touch d/2
	kill -USR1 "$VIGIL_PID"
	wait_for_line "$OUT" '^2 '
	touch d/3
	end_stats
	expect_eq status 0 "$status"
	expect_out "total  create  filename
1      1       d/

total  create  filename
2      2       d/

total  create  filename
3      3       d/"
}

@test "stats: SIGUSR1 before any event says so and goes on" {
	mkdir d
	start_stats d
	kill -USR1 "$VIGIL_PID"
	wait_for_line "$ERR" '^No events occurred\.$'
	kill -0 "$VIGIL_PID"
	end_stats
	expect_eq status 0 "$status"
}

@test "stats: SIGTERM ends the count with the table, exit 0" {
	mkdir d
	start_stats -e create d
	touch d/1
	end_stats TERM
	expect_eq status 0 "$status"
	expect_out "total  create  filename
1      1       d/"
}

@test "stats: SIGHUP ends the count with the table, exit 0" {
	mkdir d
	start_stats -e create d
	touch d/1
	end_stats HUP
	expect_eq status 0 "$status"
	expect_out "total  create  filename
1      1       d/"
}

# wait_for_sigint_caught PID: until vigil, not the shell that forked it,
# has its SIGINT handler in place and waits in the FIFO's open: between fork and exec the child is bash, whose own handler
# shows in SigCgt too, and a SIGINT there is lost (seen on a loaded machine).
wait_for_sigint_caught() {
	local end=$((SECONDS + 20))
	until [ "$(cat /proc/"$1"/wchan 2>/dev/null)" = wait_for_partner ] &&
		(($(printf '%d' "0x$(awk '/^SigCgt:/ { print $2 }' /proc/"$1"/status)") & 2)); do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# The setup is held up on a FIFO that --fromfile reads: a SIGINT then is
# one before the watches are set.
interrupt_setup() {
	mkfifo "$TEST_DIR/fifo"
	: >"$ERR"
	"$@" --fromfile "$TEST_DIR/fifo" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_sigint_caught "$VIGIL_PID"
	kill -INT "$VIGIL_PID"
	wait_for_line "$ERR" 'again'
	kill -0 "$VIGIL_PID"
	kill -INT "$VIGIL_PID"
	wait_vigil
}

@test "stats: SIGINT before the watches are set warns; a second one quits" {
	interrupt_setup "$VIGIL" stats
	expect_eq status 1 "$status"
	expect_eq stderr "vigil stats: interrupted while setting up watches, before anything was counted; interrupt again to quit
vigil stats: interrupted again before the watches were set up; nothing counted" "$(cat "$ERR")"
}

@test "inotifywatch: SIGINT before the watches are set, in its words" {
	interrupt_setup "$(compat)"
	expect_eq status 1 "$status"
	expect_eq stderr "No statistics have been collected because I haven't finished establishing
inotify watches yet.  If you are sure you want me to exit, interrupt me again.
No statistics collected, asked to abort before all watches could be established." "$(cat "$ERR")"
}

# --- what vigil counts that inotifywatch does not ----------------------------

@test "stats: entries made in a new directory before its watch count as creates" {
	mkdir d
	start_stats -r -e create d
	# stopped, vigil cannot watch d/new before its files are made
	kill -STOP "$VIGIL_PID"
	mkdir -p d/new/deeper
	touch d/new/1 d/new/deeper/2
	kill -CONT "$VIGIL_PID"
	end_stats
	expect_out "total  create  filename
2      2       d/new/
1      1       d/
1      1       d/new/deeper/"
}

@test "stats: entries found in a new directory are not counted as other events" {
	mkdir d
	start_stats -r -e close_write d
	kill -STOP "$VIGIL_PID"
	mkdir d/new
	echo one >d/new/1
	kill -CONT "$VIGIL_PID"
	# once the table is out, d/new is watched: what follows is the kernel's
	kill -USR1 "$VIGIL_PID"
	wait_for_line "$ERR" '^No events occurred\.$'
	echo two >d/new/2
	end_stats
	expect_out "
total  close_write  filename
1      1            d/new/"
}

@test "stats: a renamed directory's rows follow it, with their counts" {
	mkdir -p d/a/in
	start_stats -r d
	echo one >d/a/in/1
	mv d/a d/b
	echo two >d/b/in/2
	end_stats
	expect_out "total  modify  close_write  open  moved_from  moved_to  move_self  create  filename
8      2       2            2     0           0         0          2       d/b/in/
2      0       0            0     1           1         0          0       d/
1      0       0            0     0           0         1          0       d/b/"
}

@test "stats: a deleted directory keeps its row; made again, it has a new one" {
	mkdir -p d/a
	start_stats -r -e create,delete,delete_self d
	touch d/a/x
	rm -r d/a
	mkdir d/a
	touch d/a/y
	end_stats
	# inotifywatch would count 4 in the first row: the end of the watch too
	expect_out "total  create  delete  delete_self  filename
3      1       1       1            d/a/
2      1       1       0            d/
1      1       0       0            d/a/"
}

# wait_for_lines FILE REGEX N: until N lines of FILE match REGEX.
wait_for_lines() {
	local end=$((SECONDS + 20))
	until [ "$(grep -c -E -- "$2" "$1")" -ge "$3" ]; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "timed out waiting for $3 lines /$2/ in $1" >&2
			return 1
		fi
		sleep 0.01
	done
}

@test "stats: a queue overflow is said once, and counting goes on" {
	local queue n
	queue=$(cat /proc/sys/fs/inotify/max_queued_events)
	((queue <= 100000)) || skip "the event queue holds $queue events: too many to fill here"
	# one create each; at least the default's worth, as another suite on
	# the machine may have lowered the queue for a moment
	n=$(((queue > 16384 ? queue : 16384) + 1000))
	mkdir d
	start_stats -e create d
	local round
	for round in 1 2; do
		# stopped, vigil reads nothing while the queue overflows
		kill -STOP "$VIGIL_PID"
		(cd d && seq -f "$round-%g" "$n" | xargs touch)
		kill -CONT "$VIGIL_PID"
		# the table comes once all before it is read: the queue is
		# empty again for the next round
		kill -USR1 "$VIGIL_PID"
		wait_for_lines "$OUT" '^$' "$round"
	done
	touch d/last
	end_stats
	expect_eq status 0 "$status"
	expect_eq "overflow messages" 1 "$(grep -c 'overflowed' "$ERR")"
	grep -qx 'vigil stats: the kernel event queue overflowed and events were lost; the counts are short' "$ERR"
	[[ "$(tail -n 1 "$OUT")" =~ ^[0-9]+\ +[0-9]+\ +d/$ ]]
}

# --- argument errors, in vigil's words and in inotifywatch's -----------------

# refused ARGS -- NATIVE -- COMPAT: both refuse ARGS with exit 1, each in
# its words (the whole of stderr).
refused() {
	local args=() native compat_msg
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	native=$1 compat_msg=$3
	run "$VIGIL" stats "${args[@]}"
	expect_eq "status of vigil stats ${args[*]}" 1 "$status"
	expect_eq "vigil stats ${args[*]}" "$native" "$output"
	run "$(compat)" "${args[@]}"
	expect_eq "status of inotifywatch ${args[*]}" 1 "$status"
	expect_eq "inotifywatch ${args[*]}" "$compat_msg" "$output"
}

@test "stats: no FILE to watch" {
	refused -- \
		"vigil stats: no files specified to watch; see 'vigil stats --help'" -- \
		"No files specified to watch!"
}

@test "stats: a sort key that is no event" {
	mkdir d
	refused -a foo d -- \
		"vigil stats: 'foo' is not a valid key for sorting; give an event name or 'total'" -- \
		"'foo' is not a valid key for sorting!"
	refused -d access,modify d -- \
		"vigil stats: 'access,modify' is not a valid key for sorting; give an event name or 'total'" -- \
		"'access,modify' is not a valid key for sorting!"
	refused -e isdir -a isdir d -- \
		"vigil stats: 'isdir' is not a valid key for sorting; give an event name or 'total'" -- \
		"'isdir' is not a valid key for sorting!"
}

@test "stats: -a or -d given twice" {
	mkdir d
	refused -a total -d total d -- \
		"vigil stats: '-a' or '-d' given twice; sort by one key" -- \
		"Please specify -a or -d once only!"
	# inotifywatch lets this one through
	refused -d total -a modify d -- \
		"vigil stats: '-a' or '-d' given twice; sort by one key" -- \
		"Please specify -a or -d once only!"
}

@test "stats: move and close are no sort keys" {
	mkdir d
	refused -a move d -- \
		"vigil stats: 'move' is two events and cannot be a sort key; give 'moved_from' or 'moved_to'" -- \
		"Cannot sort by \`move' event; please use \`moved_from' or \`moved_to'."
	refused -d CLOSE d -- \
		"vigil stats: 'CLOSE' is two events and cannot be a sort key; give 'close_write' or 'close_nowrite'" -- \
		"Cannot sort by \`close' event; please use \`close_write' or \`close_nowrite'."
}

@test "stats: sorting by an event not counted" {
	mkdir d
	refused -e access -a modify d -- \
		"vigil stats: cannot sort by 'modify': it is not among the events counted; add it with -e" -- \
		"Can't sort by an event which isn't being watched for!"
	refused -a unmount d -- \
		"vigil stats: cannot sort by 'unmount': it is not among the events counted; add it with -e" -- \
		"Can't sort by an event which isn't being watched for!"
}

@test "stats: an event name that is no event" {
	mkdir d
	refused -e access,bogus d -- \
		"vigil stats: 'bogus' is not a valid event; see 'vigil stats --help'" -- \
		"'access,bogus' is not a valid event!  Run with the '--help' option to see a list of events."
}

@test "stats: a timeout that is no number of seconds" {
	mkdir d
	refused -t abc d -- \
		"vigil stats: 'abc' is not a valid timeout; give seconds (0: until interrupted)" -- \
		"'abc' is not a valid timeout value.
Please specify a long int value."
	refused -t -1 d -- \
		"vigil stats: '-1' is not a valid timeout; give seconds (0: until interrupted)" -- \
		"'-1' is not a valid timeout value.
Please specify a long int value."
}

@test "stats: --fromfile given twice, or not readable" {
	mkdir d
	refused --fromfile a --fromfile b d -- \
		"vigil stats: '--fromfile' given twice; give one list" -- \
		"Multiple --fromfile options given."
	refused --fromfile "$TEST_DIR/nope" -- \
		"vigil stats: cannot read '$TEST_DIR/nope': no such file or directory" -- \
		"Couldn't open $TEST_DIR/nope: No such file or directory"
}

@test "stats: a regular expression that does not compile" {
	mkdir d
	refused --exclude '(' d -- \
		"vigil stats: '(' is not a valid regular expression" -- \
		"Error in \`exclude' regular expression."
	refused --includei '(' d -- \
		"vigil stats: '(' is not a valid regular expression" -- \
		"Error in \`include' regular expression."
}

@test "stats: an unknown option" {
	mkdir d
	refused --bogus d -- \
		"vigil stats: unrecognized option '--bogus'" -- \
		"inotifywatch: unrecognized option '--bogus'"
	refused -x d -- \
		"vigil stats: invalid option -- 'x'" -- \
		"inotifywatch: invalid option -- 'x'"
}

@test "stats: a FILE that cannot be watched" {
	refused nope -- \
		"Establishing watches...
vigil stats: cannot watch 'nope': no such file or directory" -- \
		"Establishing watches...
Failed to watch nope: No such file or directory"
}

# --- side by side with the real inotifywatch ---------------------------------

# The tree and the operations of the side-by-side cases. None of them
# creates or deletes a directory, or makes the kernel queue two equal
# events in a row (a listing, a double write), which inotifywatch counts
# differently from run to run. Rows tie (d/other/ and d/twin/, the empty
# ones with -z), so that their order is compared too.
side_tree() {
	mkdir -p d/sub/deep/deeper d/other d/twin d/skip d/empty
	echo one >d/file
	echo two >d/sub/inner
	echo three >d/sub/deep/bottom
	echo four >d/skip/x
	echo five >lone
}

side_ops() {
	echo more >>d/file
	chmod 600 d/file
	cat d/file >/dev/null
	: >d/new
	mv d/new d/renamed
	mv d/renamed d/sub/moved
	rm d/sub/moved
	echo again >>d/sub/inner
	cat d/sub/deep/bottom >/dev/null
	touch d/other/o d/twin/t d/sub/deep/b2
	echo six >>d/skip/x
	echo seven >>lone
	chmod 640 d/sub/deep/bottom
}

# side_by_side ARGS...: inotifywatch and vigil as inotifywatch, each in a
# fresh copy of the tree, at once, through the same operations; each
# counts for 4 seconds (its start, the other's and the changes must fit in
# them on a loaded machine). Output in $TEST_DIR/{ref,vig}.{out,err}, exit
# statuses in REF_RC and VIG_RC.
side_by_side() {
	local side pids=()
	for side in ref vig; do
		rm -rf "$TEST_DIR/$side"
		mkdir "$TEST_DIR/$side"
		(cd "$TEST_DIR/$side" && side_tree)
		# there, and empty, before the tools start: the lines waited
		# for must be this run's
		: >"$TEST_DIR/$side.out"
		: >"$TEST_DIR/$side.err"
	done
	(cd "$TEST_DIR/ref" && exec /usr/bin/inotifywatch -t 4 "$@") \
		>"$TEST_DIR/ref.out" 2>"$TEST_DIR/ref.err" 3>&- &
	pids+=($!)
	(cd "$TEST_DIR/vig" && exec "$(compat)" -t 4 "$@") \
		>"$TEST_DIR/vig.out" 2>"$TEST_DIR/vig.err" 3>&- &
	pids+=($!)
	for side in ref vig; do
		wait_for_line "$TEST_DIR/$side.err" '^Finished establishing' 20
	done
	# both at once: -t 4 counts from each tool's start, and one side's
	# changes must not wait for the other's on a busy machine
	(cd "$TEST_DIR/ref" && side_ops) 3>&- &
	(cd "$TEST_DIR/vig" && side_ops)
	wait $!
	REF_RC=0 VIG_RC=0
	wait "${pids[0]}" || REF_RC=$?
	wait "${pids[1]}" || VIG_RC=$?
}

# same_as_inotifywatch ARGS...: the same stdout, stderr and exit status.
same_as_inotifywatch() {
	side_by_side "$@"
	expect_eq "exit status ($*)" "$REF_RC" "$VIG_RC"
	if ! diff -u "$TEST_DIR/ref.out" "$TEST_DIR/vig.out" >&2 ||
		! diff -u "$TEST_DIR/ref.err" "$TEST_DIR/vig.err" >&2; then
		echo "vigil differs from inotifywatch with: $*" >&2
		return 1
	fi
	# the table is there: the case tested something
	[ -s "$TEST_DIR/ref.out" ]
}

require_inotifywatch() {
	[ -x /usr/bin/inotifywatch ] || skip "inotifywatch is not installed (apt-get install inotify-tools)"
}

@test "side by side: a directory and a file, all events, -e lists" {
	require_inotifywatch
	same_as_inotifywatch d lone
	same_as_inotifywatch -e modify,attrib -e close_write d lone
	# (a file opened twice in a row: the kernel merges the second OPEN
	# into the first while it is unread, so the count depends on when
	# each tool reads; bottom is opened once)
	same_as_inotifywatch -e access -e open d/sub/deep/bottom
}

@test "side by side: -r on a tree that was there before, -z" {
	require_inotifywatch
	same_as_inotifywatch -r d
	same_as_inotifywatch -r -z d lone
	same_as_inotifywatch -r -z -e create,delete,moved_to d
}

@test "side by side: -a and -d keys" {
	require_inotifywatch
	same_as_inotifywatch -r -a total d lone
	same_as_inotifywatch -r -d modify d lone
	same_as_inotifywatch -r -a close_write d lone
	same_as_inotifywatch -r -d attrib -e attrib,create d lone
}

@test "side by side: @PATH, --fromfile, --exclude" {
	require_inotifywatch
	same_as_inotifywatch -r d @d/skip
	printf '%s\n' d/sub lone @d/sub/deep >"$TEST_DIR/list"
	same_as_inotifywatch -r --fromfile "$TEST_DIR/list"
	same_as_inotifywatch -r --exclude 'skip|deep' d
	same_as_inotifywatch -r --include 'file|inner' d
}

@test "side by side, documented: -d access sorts by access, not by total" {
	require_inotifywatch
	# inotifywatch's order is that of -d total
	side_by_side -r -d total d
	cp "$TEST_DIR/ref.out" "$TEST_DIR/by-total"
	side_by_side -r -d access d
	diff -u "$TEST_DIR/by-total" "$TEST_DIR/ref.out"
	# vigil's: d/sub/deep/ and d/ were read once each, the rest not
	expect_eq "rows by access" "d/sub/deep/ d/" \
		"$(awk 'NR > 1 && $2 > 0 { printf "%s%s", sep, $NF; sep = " " }' "$TEST_DIR/vig.out")"
	expect_eq "the same rows" "$(sort "$TEST_DIR/ref.out")" "$(sort "$TEST_DIR/vig.out")"
}

@test "side by side, documented: a directory a regex excludes has no row with -z" {
	require_inotifywatch
	side_by_side -r -z --exclude skip d
	# inotifywatch watches d/skip/ all the same, and prints its zeros
	grep -q ' d/skip/$' "$TEST_DIR/ref.out"
	expect_eq "the rest" "$(grep -v ' d/skip/$' "$TEST_DIR/ref.out")" "$(cat "$TEST_DIR/vig.out")"
}
