#!/usr/bin/env bats
# vigil wait: argument errors in vigil's own words, -h, -d and -s.
# (How each option changes the output is checked against inotifywait
# itself in compat-wait.bats.)

bats_require_minimum_version 1.5.0
load helpers

teardown() {
	[ -z "${SYSLOG_PID:-}" ] || kill "$SYSLOG_PID" 2>/dev/null
	stop_vigil
	end_test_processes
	cd / && rm -rf "$TEST_DIR"
}

# refused ARGS... MESSAGE: `vigil wait ARGS` prints MESSAGE as its only
# line and exits 1, printing nothing on stdout.
refused() {
	local msg=${*: -1}
	set -- "${@:1:$#-1}"
	run --separate-stderr "$VIGIL" wait "$@"
	expect_eq "exit status of 'vigil wait $*'" 1 "$status"
	expect_eq "stderr of 'vigil wait $*'" "$msg" "$stderr"
	expect_eq "stdout of 'vigil wait $*'" "" "$output"
}

@test "argument error: no path" {
	refused "vigil wait: no files specified to watch; see 'vigil wait --help'"
}

@test "argument error: unknown short and long options" {
	refused -x . "vigil wait: invalid option -- 'x'"
	refused --bogus . "vigil wait: unrecognized option '--bogus'"
}

@test "argument error: an option without its argument" {
	refused -e "vigil wait: option requires an argument -- 'e'"
	refused . --format "vigil wait: option '--format' requires an argument"
}

@test "argument error: an unknown event, alone or in a list" {
	refused -e foo . "vigil wait: 'foo' is not a valid event; see 'vigil wait --help'"
	refused -e modify,foo,attrib . "vigil wait: 'foo' is not a valid event; see 'vigil wait --help'"
	refused -e 'modify, attrib' . "vigil wait: ' attrib' is not a valid event; see 'vigil wait --help'"
}

@test "argument error: a timeout that is not a number of seconds" {
	refused -t abc . "vigil wait: 'abc' is not a valid timeout; give seconds"
	refused -t 1s . "vigil wait: '1s' is not a valid timeout; give seconds"
	refused -t inf . "vigil wait: 'inf' is not a valid timeout; give seconds"
}

@test "argument error: --fromfile or --outfile twice" {
	refused --fromfile a --fromfile b . "vigil wait: '--fromfile' given twice; give one list"
	refused -o a -o b . "vigil wait: '--outfile' given twice; give one file"
}

@test "argument error: output options that do not go together" {
	refused -c --format %w . "vigil wait: '--csv' and '--format' cannot both be given"
	refused --json -c . "vigil wait: '--json' and '--csv' cannot both be given"
	refused --json --format %w . "vigil wait: '--json' and '--format' cannot both be given"
	refused --no-newline . "vigil wait: '--no-newline' needs '--format'"
	refused --timefmt %H . "vigil wait: '--timefmt' needs '--format'"
	refused --format %T . "vigil wait: '%T' in '--format' needs '--timefmt'"
}

@test "argument error: -d without -o" {
	refused -d . "vigil wait: '--daemon' needs '--outfile'"
}

@test "argument error: a regular expression that does not compile" {
	refused --exclude '(' . "vigil wait: '(' is not a valid regular expression"
	refused --includei '[a' . "vigil wait: '[a' is not a valid regular expression"
}

# glibc's regcomp() copies what '+' and {m,n} repeat: the first took 12 GiB
# and 40 s to compile before it was refused; the second 4.8 GiB and 10 s, a
# chain of optional pieces; the third ran for minutes, a repetition of what
# can match nothing. timeout makes a regression a failure, not a machine
# out of memory.
@test "argument error: a regular expression too costly to compile is refused at once" {
	local big='a++++++++++++++++++++++++' why="compiling it would take too much memory or time"
	run --separate-stderr timeout 10 "$VIGIL" wait --exclude "$big" .
	expect_eq "exit status" 1 "$status"
	expect_eq stderr "vigil wait: '$big' is too complex a regular expression: $why" "$stderr"
	run --separate-stderr timeout 10 "$VIGIL" stats -t 1 --include '(a*){1,120}{1,120}' .
	expect_eq "stats' exit status" 1 "$status"
	expect_eq "stats' stderr" "vigil stats: '(a*){1,120}{1,120}' is too complex a regular expression: $why" "$stderr"
	run --separate-stderr timeout 10 "$VIGIL" wait --excludei '(){0,}{2,3}{1,51}' .
	expect_eq "a loop: exit status" 1 "$status"
	expect_eq "a loop: stderr" "vigil wait: '(){0,}{2,3}{1,51}' is too complex a regular expression: $why" "$stderr"
	run --separate-stderr timeout 10 "$VIGIL" wait --exclude 'x{1,100}' --include '^.{0,255}$' -t -1 .
	expect_eq "repetitions that do not multiply: exit status" 0 "$status"
}

@test "argument error: a --fromfile that cannot be read" {
	refused --fromfile "$W/nope" "vigil wait: cannot read '$W/nope': no such file or directory"
	: >"$W/empty"
	refused --fromfile "$W/empty" "vigil wait: no files specified to watch; see 'vigil wait --help'"
}

@test "argument error: an --outfile that cannot be opened" {
	refused -o "$W/no/such/dir" . "vigil wait: cannot open '$W/no/such/dir': no such file or directory"
}

@test "argument error: a path that is not a directory under -r" {
	: >"$W/file"
	run --separate-stderr "$VIGIL" wait -r "$W/file/x"
	expect_eq status 1 "$status"
	expect_eq stderr "$(printf '%s\n' \
		"Setting up watches.  Beware: since -r was given, this may take a while!" \
		"vigil wait: cannot watch '$W/file/x': not a directory")" "$stderr"
}

@test "-h and --help print the usage on stdout and exit 0" {
	run --separate-stderr "$VIGIL" wait -h
	expect_eq status 0 "$status"
	[[ "$output" == "Usage: vigil wait [OPTION]... FILE..."* ]]
	[[ "$output" == *"--daemon"* && "$output" == *"--syslog"* ]]
	expect_eq stderr "" "$stderr"
	run "$VIGIL" wait --help
	[[ "$output" == "Usage: vigil wait"* ]]
}

# daemon_pid FILE: the pid of the background vigil writing to FILE: the
# process that holds FILE open (a daemon's pid is nobody's $!; /proc has
# it without pgrep, which minimal Debian lacks). FILE is open before vigil
# forks into the background, so the daemon has it from its first moment.
daemon_pid() {
	local fd
	for fd in /proc/[0-9]*/fd/*; do
		if [[ $fd -ef $1 ]]; then
			fd=${fd#/proc/}
			echo "${fd%%/*}"
			return 0
		fi
	done
}

# session_of PID: its session id (field 6 of /proc/PID/stat).
session_of() {
	local stat
	stat=$(</proc/"$1"/stat)
	# shellcheck disable=SC2086 # the fields after the command's name
	set -- ${stat##*) }
	echo "$4"
}

@test "-d: sets up its watches, returns, and keeps writing events to the -o file" {
	cd "$W"
	# the daemon must not hold bats' fd 3: a leaked one would stall the run
	run --separate-stderr "$VIGIL" wait -d -o "$OUT" -e create . 3>&-
	expect_eq status 0 "$status"
	expect_eq stderr "$(printf 'Setting up watches.\nWatches established.')" "$stderr"
	VIGIL_PID=$(daemon_pid "$OUT")
	[ -n "$VIGIL_PID" ]
	# a daemon: its own session, no terminal, stdin and stderr on /dev/null
	expect_eq session "$VIGIL_PID" "$(session_of "$VIGIL_PID")"
	expect_eq stdin /dev/null "$(readlink /proc/"$VIGIL_PID"/fd/0)"
	expect_eq stderr /dev/null "$(readlink /proc/"$VIGIL_PID"/fd/2)"
	touch one two
	wait_for_line "$OUT" 'two'
	expect_eq events "$(printf './ CREATE one\n./ CREATE two')" "$(cat "$OUT")"
	expect_eq mode 600 "$(stat -c %a "$OUT")"
}

@test "-d: a path that cannot be watched is the exit status, before going to the background" {
	run --separate-stderr "$VIGIL" wait -d -o "$OUT" "$W/nope" 3>&-
	expect_eq status 1 "$status"
	[[ "$stderr" == *"vigil wait: cannot watch '$W/nope': no such file or directory" ]]
	[ -z "$(daemon_pid "$OUT")" ]
}

# start_syslog: listen on a socket of ours for what would go to /dev/log;
# what arrives is appended to $TEST_DIR/syslog.
start_syslog() {
	unshare -m true 2>/dev/null || skip "no mount namespaces here (unshare -m)"
	local sock=$TEST_DIR/log.sock
	: >"$TEST_DIR/syslog"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
while True:
    out.write(s.recv(65536) + b"\n")
' "$sock" "$TEST_DIR/syslog" 3>&- &
	SYSLOG_PID=$!
	local n=0
	while [ ! -S "$sock" ] && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
	mkdir "$TEST_DIR/dev"
}

# stop_syslog: wait until the listener has LINES lines, then stop it.
stop_syslog() {
	local n=0
	while [ "$(wc -l <"$TEST_DIR/syslog")" -lt "$1" ] && [ $n -lt 1000 ]; do
		sleep 0.01
		n=$((n + 1))
	done
	kill "$SYSLOG_PID"
	wait "$SYSLOG_PID" 2>/dev/null || true
	SYSLOG_PID=
}

# with_syslog COMMAND...: run COMMAND in a mount namespace of its own where
# /dev/log is start_syslog's socket.
with_syslog() {
	local sock=$TEST_DIR/log.sock
	unshare -m sh -c '
		mount --bind /dev "$1" && mount -t tmpfs none /dev &&
		: >/dev/null && mount --bind "$1/null" /dev/null &&
		ln -s "$2" /dev/log && shift 2 && exec "$@"' sh "$TEST_DIR/dev" "$sock" "$@"
}

@test "-s: set-up lines and errors go to syslog, not stderr" {
	start_syslog
	run --separate-stderr with_syslog "$VIGIL" wait -s "$W" "$W/nope"
	stop_syslog 2
	expect_eq status 1 "$status"
	expect_eq stderr "" "$stderr"
	grep -q 'vigil\[[0-9]*\]: Setting up watches\.' "$TEST_DIR/syslog"
	grep -q "vigil\[[0-9]*\]: cannot watch '$W/nope': no such file or directory" "$TEST_DIR/syslog"
}

@test "-s as inotifywait: its name and its words in syslog" {
	ln -s "$VIGIL" "$TEST_DIR/inotifywait"
	start_syslog
	run --separate-stderr with_syslog "$TEST_DIR/inotifywait" -s "$W/nope"
	stop_syslog 2
	expect_eq status 1 "$status"
	grep -q "inotifywait\[[0-9]*\]: Couldn't watch $W/nope: No such file or directory" "$TEST_DIR/syslog"
}

@test "options may follow the paths, as with inotifywait; -- ends them" {
	: >"$W/-dash"
	run --separate-stderr "$VIGIL" wait "$W" -t -1
	expect_eq status 0 "$status"
	cd "$W"
	run --separate-stderr "$VIGIL" wait -t -1 -- -dash
	expect_eq status 0 "$status"
	expect_eq stderr "$(printf 'Setting up watches.\nWatches established.')" "$stderr"
}
