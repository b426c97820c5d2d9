#!/usr/bin/env bats
# vigil run: files reach the command once, whole and safely, when complete.

bats_require_minimum_version 1.5.0
load helpers
load run_helpers

@test "a file written into the directory: the command runs once on its path" {
	start_run "$W" -- sh -c "$REC" rec {}
	echo hello >"$W/a.txt"
	jobs_done 1
	expect_eq jobs "$W/a.txt|" "$(recorded)"
	grep -q "\[run\] pid [0-9]* started on '$W/a.txt'" "$ERR"
	grep -q "\[run\] pid [0-9]* exited 0 after [0-9.]*s on '$W/a.txt'" "$ERR"
}

@test "placeholders: {} {path} {dir} {name} {event} {rule}, inside words too" {
	start_run "$W" -- sh -c "$REC" rec {} {path} {dir} {name} {event} {rule} x{name}y
	echo x >"$W/p.dat"
	jobs_done 1
	expect_eq args "$W/p.dat|$W/p.dat|$W|p.dat|CLOSE_WRITE,CLOSE|run|xp.daty|" "$(recorded)"
}

@test "the environment: VIGIL_PATH, VIGIL_DIR, VIGIL_NAME, VIGIL_EVENT, VIGIL_RULE, VIGIL_COUNT" {
	start_run "$W" -- sh -c 'printf "%s|" "$VIGIL_PATH" "$VIGIL_DIR" "$VIGIL_NAME" "$VIGIL_EVENT" "$VIGIL_RULE" "$VIGIL_COUNT" "$VIGIL_FROM" >>"$LOG"'
	echo x >"$W/e"
	jobs_done 1
	expect_eq env "$W/e|$W|e|CLOSE_WRITE,CLOSE|run|1||" "$(cat "$LOG")"
}

@test "a rename into place: {from} is the old path, {event} MOVED_TO" {
	mkdir "$TEST_DIR/elsewhere"
	start_run "$W" -- sh -c "$REC" rec {} {from} {event}
	echo x >"$W/.part"
	jobs_done 0
	mv "$W/.part" "$W/final"
	jobs_done 1
	expect_eq args "$W/final|$W/.part|MOVED_TO|" "$(recorded)"
}

@test "hostile names reach the command as exactly those bytes, and nothing else runs" {
	# as {}, as {name} (./-rf for a name starting with '-') and as VIGIL_NAME
	start_run "$W" -- sh -c 'for a in "$@" "$VIGIL_NAME"; do printf "%s\0" "$a"; done >>"$LOG"; echo >>"$LOG"' rec {} {name}
	local names=('$(touch pwned)' '`touch pwned`' 'a;touch pwned' '-rf' 'x"y' "it's" $'new\nline' $'\xff\xfe' '*' '--help' 'a b' '$HOME' '|touch pwned' '\')
	local n
	for n in "${names[@]}"; do
		echo x >"$W/$n"
	done
	jobs_done ${#names[@]}
	[ ! -e "$TEST_DIR/pwned" ] && [ ! -e "$W/pwned" ] && [ ! -e pwned ]
	# jobs run one at a time, in the order the files settled
	for n in "${names[@]}"; do
		case $n in
		-*) printf '%s\0%s\0%s\0\n' "$W/$n" "./$n" "$n" ;;
		*) printf '%s\0%s\0%s\0\n' "$W/$n" "$n" "$n" ;;
		esac
	done >"$TEST_DIR/want"
	cmp "$TEST_DIR/want" "$LOG" || {
		diff <(od -c "$TEST_DIR/want") <(od -c "$LOG") >&2
		return 1
	}
	# and in a batch, one argument each, with the same names on stdin
	stop_vigil
	: >"$LOG"
	start_run "$W" --initial --batch 100 --batch-wait 100ms --stdin paths0 -- \
		sh -c 'printf "%s\0" "$@" >>"$LOG"; cat >"$LOG.stdin"' rec {}
	jobs_done 1
	for n in "${names[@]}"; do
		printf '%s\0' "$W/$n"
	done | sort -z >"$TEST_DIR/want"
	sort -z "$LOG" | cmp "$TEST_DIR/want" -
	sort -z "$LOG.stdin" | cmp "$TEST_DIR/want" -
	[ ! -e "$TEST_DIR/pwned" ] && [ ! -e "$W/pwned" ] && [ ! -e pwned ]
}

@test "a relative name starting with '-' is passed as ./-name" {
	cd "$W"
	start_run . -- sh -c "$REC" rec {} {name}
	echo x >./-rf
	jobs_done 1
	expect_eq args "./-rf|./-rf|" "$(recorded)"
}

@test "--stdin paths0, lines and json" {
	start_run "$W" --stdin paths0 -- sh -c 'cat >>"$LOG"'
	echo x >"$W/one"
	jobs_done 1
	stop_vigil
	expect_eq paths0 "$W/one|" "$(recorded)"
	: >"$LOG"
	start_run "$W" --stdin lines -- sh -c 'cat >>"$LOG"'
	echo x >"$W/two"
	jobs_done 1
	stop_vigil
	expect_eq lines "$W/two" "$(cat "$LOG")"
	: >"$LOG"
	start_run "$W" --stdin json -- sh -c 'cat >>"$LOG"'
	echo x >"$W/thr\"ee"
	jobs_done 1
	python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["path"] == sys.argv[2] and d["events"] == "CLOSE_WRITE,CLOSE" and d["rule"] == "run", d
' "$LOG" "$W/thr\"ee"
}

# write_parts FILE: FILE written in five goes, closed after each.
write_parts() {
	local i
	for i in 1 2 3 4 5; do
		echo "part $i" >>"$1"
	done
}

@test "--settle: a file closed and reopened while it is written becomes one job" {
	start_run "$W" --settle 300ms -- sh -c "$REC" rec {}
	paused write_parts "$W/slow"
	jobs_done 1
	expect_eq jobs "$W/slow|" "$(recorded)"
	expect_eq content 5 "$(wc -l <"$W/slow")"
	# and no second job comes later for the same writes
	echo x >"$W/sentinel"
	jobs_done 2
	expect_eq "jobs" "$(printf '%s\n' "$W/slow|" "$W/sentinel|")" "$(recorded)"
}

@test "--settle: a file deleted while it settles is not run on" {
	start_run "$W" --settle 300ms -- sh -c "$REC" rec {}
	paused sh -c 'echo x >"$1/gone" && rm "$1/gone" && echo x >"$1/kept"' sh "$W"
	jobs_done 1
	expect_eq jobs "$W/kept|" "$(recorded)"
}

@test "--batch with a lone {}: one job, one argument per path" {
	start_run "$W" --batch 5 --batch-wait 10s -- sh -c "$REC" rec {}
	for i in 1 2 3 4 5; do echo x >"$W/f$i"; done
	jobs_done 1
	expect_eq jobs "$W/f1|$W/f2|$W/f3|$W/f4|$W/f5|" "$(recorded)"
	grep -q "started on 5 paths" "$ERR"
}

@test "--batch-wait: a partial batch goes once the wait is over" {
	start_run "$W" --batch 100 --batch-wait 200ms -- sh -c "$REC" rec {}
	paused sh -c 'echo x >"$1/a" && echo x >"$1/b"' sh "$W"
	jobs_done 1
	expect_eq jobs "$W/a|$W/b|" "$(recorded)"
}

@test "--batch: {name} has no single value in a batch, and is refused" {
	run --separate-stderr "$VIGIL" run "$W" --batch 3 -- echo {name}
	expect_eq status 1 "$status"
	[[ "$stderr" == "vigil run: '{name}' has no single value for a batch of 3 paths;"* ]]
}

@test "--jobs 2: two jobs run at the same time" {
	mkfifo "$TEST_DIR/gate"
	# each job says it started, then waits until both have
	start_run "$W" --jobs 2 -- sh -c 'echo "$1" >>"$LOG"; while [ "$(wc -l <"$LOG")" -lt 2 ]; do sleep 0.01; done' job {}
	echo x >"$W/a"
	echo x >"$W/b"
	jobs_done 2
	expect_eq both 2 "$(wc -l <"$LOG")"
}

@test "--jobs 1 (the default): jobs run one after the other" {
	start_run "$W" -- sh -c 'echo "start $1" >>"$LOG"; sleep 0.1; echo "end $1" >>"$LOG"' job {}
	echo x >"$W/a"
	echo x >"$W/b"
	jobs_done 2
	expect_eq order "$(printf '%s\n' "start $W/a" "end $W/a" "start $W/b" "end $W/b")" "$(cat "$LOG")"
}

@test "--min-interval: job starts are spaced" {
	start_run "$W" --min-interval 400ms --log-format json -- true
	paused sh -c 'echo x >"$1/a" && echo x >"$1/b"' sh "$W"
	wait_for_lines "$ERR" '"job":"end"' 2
	# the times vigil logged for the starts: the instants it started the
	# jobs at, to the millisecond (each cut, not rounded: 399 is 400), not
	# when each job got going
	python3 - "$ERR" "$W" <<'PY'
import datetime, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
starts = [l for l in lines if l.get("job") == "start"]
assert [s["paths"] for s in starts] == [[sys.argv[2] + "/a"], [sys.argv[2] + "/b"]], starts
t = [datetime.datetime.strptime(s["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for s in starts]
gap = (t[1] - t[0]).total_seconds() * 1000
assert gap >= 399, "job starts %.0f ms apart" % gap
PY
}

@test "--on-busy skip: paths that come while the job runs are dropped" {
	mkfifo "$TEST_DIR/hold"
	start_run "$W" --on-busy skip -- sh -c 'echo "$1" >>"$LOG"; read x <"$0"' "$TEST_DIR/hold" {}
	echo x >"$W/first"
	wait_for_line "$LOG" first
	echo x >"$W/second"
	wait_for_line "$ERR" '1 path skipped'
	echo go >"$TEST_DIR/hold"
	jobs_done 1
	expect_eq jobs "$W/first" "$(cat "$LOG")"
}

@test "--on-busy restart: the running job is stopped and a new one starts" {
	start_run "$W" --on-busy restart -- sh -c 'echo "$1" >>"$LOG"; trap "echo stopped >>\"\$LOG\"; exit 1" TERM; while :; do sleep 0.05; done' job {}
	echo x >"$W/first"
	wait_for_line "$LOG" first
	echo x >"$W/second"
	wait_for_line "$LOG" second
	expect_eq log "$(printf '%s\n' "$W/first" stopped "$W/second")" "$(cat "$LOG")"
	grep -q "(restart)" "$ERR"
}

@test "--on-busy signal: the running job gets the signal, no new job" {
	start_run "$W" --on-busy signal --stop-signal HUP -- sh -c 'echo "$1" >>"$LOG"; trap "echo hup >>\"\$LOG\"" HUP; while :; do sleep 0.05; done' job {}
	echo x >"$W/first"
	wait_for_line "$LOG" first
	echo x >"$W/second"
	wait_for_line "$LOG" hup
	expect_eq log "$(printf '%s\n' "$W/first" hup)" "$(cat "$LOG")"
}

@test "--timeout: a job that runs too long is stopped, then killed if it ignores it" {
	# (a timeout the job's shell sets its trap within on a loaded machine;
	# it says when it has)
	start_run "$W" --timeout 2s --stop-timeout 200ms -- sh -c 'trap "" TERM; echo ignoring >>"$LOG"; while :; do sleep 0.05; done' job {}
	echo x >"$W/slow"
	jobs_done 1
	expect_eq "the job, before its timeout" ignoring "$(cat "$LOG")"
	grep -q "killed by SIGKILL (timeout)" "$ERR"
}

@test "--initial: the files already there are run on, once" {
	echo x >"$W/old1"
	echo x >"$W/old2"
	start_run "$W" --initial -- sh -c "$REC" rec {}
	jobs_done 2
	expect_eq jobs "$(printf '%s\n' "$W/old1|" "$W/old2|" | sort)" "$(recorded | sort)"
}

@test "--match, --exclude and hidden files" {
	mkdir "$W/sub" "$W/.hid"
	start_run -r "$W" --match '*.jpg' --exclude 'skip*' -- sh -c "$REC" rec {}
	echo x >"$W/a.txt"
	echo x >"$W/skip.jpg"
	echo x >"$W/.dot.jpg"
	echo x >"$W/.hid/in.jpg"
	echo x >"$W/sub/b.jpg"
	echo x >"$W/c.jpg"
	jobs_done 2
	expect_eq jobs "$(printf '%s\n' "$W/sub/b.jpg|" "$W/c.jpg|")" "$(recorded)"
}

@test "SIGTERM: no new jobs, the running one finishes, a summary, exit 0" {
	mkfifo "$TEST_DIR/hold"
	start_run "$W" -- sh -c 'echo "$1" >>"$LOG"; read x <"$0"; echo done >>"$LOG"' "$TEST_DIR/hold" {}
	echo x >"$W/a"
	wait_for_line "$LOG" "$W/a"
	kill -TERM "$VIGIL_PID"
	echo go >"$TEST_DIR/hold"
	wait_vigil
	expect_eq status 0 "$status"
	expect_eq log "$(printf '%s\n' "$W/a" done)" "$(cat "$LOG")"
	grep -q 'stopped: 1 jobs run, 0 failed, 1 paths seen' "$ERR"
}

@test "SIGUSR1: the counters, and it goes on" {
	start_run "$W" -- true
	echo x >"$W/a"
	jobs_done 1
	kill -USR1 "$VIGIL_PID"
	wait_for_line "$ERR" '\[run\] 1 jobs run, 0 failed, 1 paths seen'
	kill -0 "$VIGIL_PID"
}

@test "NOTIFY_SOCKET: READY=1 once the watches are set" {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".bound", "w").close()
while True:
    m = s.recv(4096).decode()
    open(sys.argv[2], "a").write(m + "\n")
' "$TEST_DIR/notify" "$TEST_DIR/notified" 3>&- &
	local py=$!
	while [ ! -e "$TEST_DIR/notify.bound" ]; do sleep 0.01; done
	NOTIFY_SOCKET=$TEST_DIR/notify start_run "$W" -- true
	wait_for_line "$TEST_DIR/notified" '^READY=1$'
	kill "$py"
}

@test "argument errors" {
	run --separate-stderr "$VIGIL" run
	expect_eq "no args" "vigil run: nothing to watch and nothing to run; see 'vigil run --help'" "$stderr"
	run --separate-stderr "$VIGIL" run "$W"
	expect_eq "no command" "vigil run: no command given; put it after '--', as in 'vigil run DIR -- COMMAND {}'" "$stderr"
	run --separate-stderr "$VIGIL" run "$W" --bogus -- true
	expect_eq "unknown" "vigil run: unrecognized option '--bogus'; see 'vigil run --help'" "$stderr"
	run --separate-stderr "$VIGIL" run "$W" --settle 5x -- true
	expect_eq "bad value" "vigil run: '--settle': '5x' is not a valid duration; give 500ms, 2s, 1.5m or 1h" "$stderr"
	run --separate-stderr "$VIGIL" run "$W" --jobs
	expect_eq "missing value" "vigil run: option '--jobs' requires an argument" "$stderr"
	run --separate-stderr "$VIGIL" run "$W" --recursive=yes -- true
	expect_eq "flag with a value" "vigil run: option '--recursive' takes no argument" "$stderr"
	run --separate-stderr "$VIGIL" run "$W" --log-format xml -- true
	expect_eq "log format" "vigil run: 'xml' is not a log format; give text or json" "$stderr"
	run --separate-stderr "$VIGIL" run "$W/nope" -- true
	expect_eq status 1 "$status"
	[[ "$stderr" == *"cannot watch '$W/nope': no such file or directory"* ]]
}

@test "--rules: two rules from a file, each on its own files" {
	rules "$TEST_DIR/r.ini" "[texts]
path = $W
match = *.txt
command = sh -c '$REC' rec {rule} {}

[images]
path = $W
match = *.jpg
command = sh -c '$REC' rec {rule} {}"
	start_run --rules "$TEST_DIR/r.ini"
	grep -q 'watching: 2 rules' "$ERR"
	echo x >"$W/a.txt"
	jobs_done 1
	echo x >"$W/b.jpg"
	jobs_done 2
	expect_eq jobs "$(printf '%s\n' "texts|$W/a.txt|" "images|$W/b.jpg|")" "$(recorded)"
}

@test "--check: a valid file is said so; a broken one names its line" {
	rules "$TEST_DIR/ok.ini" "[a]
path = $W
command = true"
	run --separate-stderr "$VIGIL" run --check "$TEST_DIR/ok.ini"
	expect_eq status 0 "$status"
	expect_eq stdout "$TEST_DIR/ok.ini: 1 rule, all valid" "$output"
	rules "$TEST_DIR/bad.ini" "[a]
path = $W
settle = 5x
command = true"
	run --separate-stderr "$VIGIL" run --check "$TEST_DIR/bad.ini"
	expect_eq status 1 "$status"
	[[ "$stderr" == "vigil run: $TEST_DIR/bad.ini:3: 'settle': '5x' is not a valid duration"* ]]
}

@test "--rules with rules on the command line too is refused" {
	rules "$TEST_DIR/r.ini" "[a]
path = $W
command = true"
	run --separate-stderr "$VIGIL" run --rules "$TEST_DIR/r.ini" "$W" -- true
	expect_eq status 1 "$status"
	expect_eq stderr "vigil run: rules come from '$TEST_DIR/r.ini' or from the command line, not both" "$stderr"
}

@test "as root, a rules file others can write is refused" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	rules "$TEST_DIR/r.ini" "[a]
path = $W
command = true"
	chmod 666 "$TEST_DIR/r.ini"
	run --separate-stderr "$VIGIL" run --rules "$TEST_DIR/r.ini"
	expect_eq status 1 "$status"
	[[ "$stderr" == *"writable by others"* ]]
}

@test "SIGHUP: the rules file is read again" {
	rules "$TEST_DIR/r.ini" "[a]
path = $W
match = *.one
command = sh -c '$REC' rec {rule} {}"
	start_run --rules "$TEST_DIR/r.ini"
	echo x >"$W/x.one"
	jobs_done 1
	rules "$TEST_DIR/r.ini" "[a]
path = $W
match = *.two
command = sh -c '$REC' rec {rule}-v2 {}"
	kill -HUP "$VIGIL_PID"
	wait_for_line "$ERR" "reloaded '$TEST_DIR/r.ini'"
	echo x >"$W/y.one"
	echo x >"$W/z.two"
	jobs_done 2
	expect_eq jobs "$(printf '%s\n' "a|$W/x.one|" "a-v2|$W/z.two|")" "$(recorded)"
}

@test "SIGHUP with a broken rules file keeps the rules in force, and says why" {
	rules "$TEST_DIR/r.ini" "[a]
path = $W
command = sh -c '$REC' rec {}"
	start_run --rules "$TEST_DIR/r.ini"
	rules "$TEST_DIR/r.ini" "[a]
path = $W
bogus = 1
command = true"
	kill -HUP "$VIGIL_PID"
	wait_for_line "$ERR" "cannot reload: .*r.ini:3.*'bogus'.*the rules in force stay"
	echo x >"$W/still"
	jobs_done 1
	expect_eq jobs "$W/still|" "$(recorded)"
}

@test "SIGHUP: a path still settling carries over to the rule of the same name" {
	# a settle time that the reload comes within, however slow the machine
	rules "$TEST_DIR/r.ini" "[a]
path = $W
settle = 60s
command = sh -c '$REC' rec {rule} {}"
	start_run --rules "$TEST_DIR/r.ini"
	echo x >"$W/waiting"
	rules "$TEST_DIR/r.ini" "[a]
path = $W
settle = 100ms
command = sh -c '$REC' rec {rule}-v2 {}"
	kill -HUP "$VIGIL_PID"
	wait_for_line "$ERR" "reloaded"
	jobs_done 1
	expect_eq jobs "a-v2|$W/waiting|" "$(recorded)"
}

@test "--log-format json: one JSON object per line, start and end" {
	start_run "$W" --log-format json -- sh -c 'exit 3'
	echo x >"$W/a b"
	jobs_done 0
	wait_for_line "$ERR" '"job":"end"'
	python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
start = [l for l in lines if l.get("job") == "start"][0]
end = [l for l in lines if l.get("job") == "end"][0]
assert start["rule"] == "run" and start["paths"] == [sys.argv[2]] and start["count"] == 1, start
assert end["status"] == 3 and end["pid"] == start["pid"] and end["seconds"] >= 0, end
assert any("watching" in l.get("message", "") for l in lines), lines
' "$ERR" "$W/a b"
}

@test "-e delete: a file deleted is a job too, with {event} DELETE" {
	echo x >"$W/doomed"
	start_run "$W" -e delete -- sh -c "$REC" rec {} {event}
	rm "$W/doomed"
	jobs_done 1
	expect_eq jobs "$W/doomed|DELETE|" "$(recorded)"
}

@test "SIGTERM: a job that outlives --stop-timeout is killed then, with no second wait" {
	start_run "$W" --stop-timeout 300ms -- sh -c 'trap "" TERM; echo started >>"$LOG"; while :; do sleep 0.05; done'
	echo x >"$W/a"
	wait_for_line "$LOG" started
	kill -TERM "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	grep -q 'killed by SIGKILL (shutdown)' "$ERR"
	grep -q 'stopped: 1 jobs run, 0 failed' "$ERR"
}

@test "a directory renamed while a file below it settles: the job gets the new path" {
	mkdir "$W/d"
	start_run -r "$W" --files --settle 1s -- sh -c "$REC" rec {}
	paused sh -c 'echo x >"$1/d/inside" && mv "$1/d" "$1/renamed"' sh "$W"
	jobs_done 1
	expect_eq jobs "$W/renamed/inside|" "$(recorded)"
}

@test "a directory moved out while a file below it settles: no job" {
	mkdir "$W/d" "$TEST_DIR/outside"
	start_run -r "$W" --settle 500ms -- sh -c "$REC" rec {}
	paused sh -c 'echo x >"$1/d/inside" && mv "$1/d" "$2/outside/" && echo x >"$1/after"' sh "$W" "$TEST_DIR"
	jobs_done 1
	expect_eq jobs "$W/after|" "$(recorded)"
}

@test "--dirs -r: a directory renamed inside the tree is run on under its new name" {
	mkdir "$W/old"
	start_run -r "$W" --dirs -- sh -c "$REC" rec {}
	mv "$W/old" "$W/new"
	jobs_done 1
	expect_eq jobs "$W/new|" "$(recorded)"
}

@test "--initial takes regular files only: not directories, not symlinks" {
	echo x >"$W/file"
	mkdir "$W/dir"
	ln -s file "$W/link"
	start_run "$W" --initial -- sh -c "$REC" rec {}
	jobs_done 1
	echo x >"$W/sentinel"
	jobs_done 2
	expect_eq jobs "$(printf '%s\n' "$W/file|" "$W/sentinel|")" "$(recorded)"
}

@test "--jobs 2: a file changed while its job runs waits for that job" {
	mkfifo "$TEST_DIR/hold"
	start_run "$W" --jobs 2 -- sh -c 'echo "$1" >>"$LOG"; case $1 in */a) read x <"$0";; esac' "$TEST_DIR/hold" {}
	echo x >"$W/a"
	wait_for_line "$ERR" "started on '$W/a'"
	echo y >>"$W/a"
	echo x >"$W/b"
	wait_for_line "$ERR" "started on '$W/b'"
	expect_eq "jobs on a so far" 1 "$(grep -c "started on '$W/a'" "$ERR")"
	echo go >"$TEST_DIR/hold"
	wait_for_line "$ERR" "exited 0 .*on '$W/a'"
	# the second run on a starts once the first is over, and is released
	# (a reader that closes mid-write must not end the feeder: SIGPIPE off)
	( trap '' PIPE; while :; do echo go >"$TEST_DIR/hold"; done ) 2>/dev/null 3>&- &
	local feeder=$!
	jobs_done 3
	kill "$feeder" 2>/dev/null || true
	expect_eq "jobs on a" 2 "$(grep -c "started on '$W/a'" "$ERR")"
}

@test "jobs do not inherit NOTIFY_SOCKET" {
	NOTIFY_SOCKET=$TEST_DIR/nowhere start_run "$W" -- sh -c 'echo "[${NOTIFY_SOCKET:-}]" >>"$LOG"'
	echo x >"$W/a"
	jobs_done 1
	expect_eq env "[]" "$(cat "$LOG")"
}

@test "SIGHUP: a replaced rule's long-running job (on-busy restart) is stopped" {
	cat >"$TEST_DIR/server.sh" <<-'SH'
		echo started >>"$LOG"
		trap 'echo stopped >>"$LOG"; exit 0' TERM
		while :; do sleep 0.05; done
	SH
	rules "$TEST_DIR/r.ini" "[server]
path = $W
on-busy = restart
command = sh $TEST_DIR/server.sh"
	start_run --rules "$TEST_DIR/r.ini"
	echo x >"$W/change"
	wait_for_line "$LOG" started
	kill -HUP "$VIGIL_PID"
	wait_for_line "$LOG" stopped
	wait_for_line "$ERR" '\(restart\)'
}

@test "--exclude on names, and hidden directories: not even watched" {
	mkdir -p "$W/node_modules/a/b" "$W/src/node_modules/x" "$W/src/keep" "$W/.git/objects" "$W/x.tmp"
	start_run -r "$W" --exclude node_modules --exclude '*.tmp' -- sh -c "$REC" rec {}
	# the root, src and src/keep
	wait_for_watches "$VIGIL_PID" 3
	echo x >"$W/src/node_modules/x/f"
	echo x >"$W/.git/objects/o"
	echo x >"$W/src/keep/f"
	jobs_done 1
	expect_eq jobs "$W/src/keep/f|" "$(recorded)"
	expect_eq watches 3 "$(watch_count "$VIGIL_PID")"
}

@test "short options combine as getopt has them: -rqe EVENT, and errors name the letter" {
	mkdir "$W/sub"
	"$VIGIL" run -rqe moved_to "$W" -- sh -c "$REC" rec {} >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	# -r: the root and sub; -q: no "watching:" line to wait for
	wait_for_watches "$VIGIL_PID" 2
	echo x >"$W/sub/written" # close_write: not asked for by -e
	echo x >"$TEST_DIR/f"
	mv "$TEST_DIR/f" "$W/sub/moved"
	wait_for_line "$LOG" moved
	expect_eq jobs "$W/sub/moved|" "$(recorded)"
	expect_eq "quiet log" "" "$(cat "$ERR")"
	run --separate-stderr "$VIGIL" run -rx "$W" -- true
	expect_eq invalid "vigil run: invalid option -- 'x'; see 'vigil run --help'" "$stderr"
	run --separate-stderr "$VIGIL" run -re
	expect_eq missing "vigil run: option requires an argument -- 'e'" "$stderr"
	run --separate-stderr "$VIGIL" run -qremoved_to,bogus "$W" -- true
	expect_eq "-e value" 1 "$status"
	[[ "$stderr" == "vigil run: '--events': 'bogus' is not an event"* ]]
}

@test "--exclude globs with '/', '**', '?' and brackets: their directories are not watched" {
	mkdir -p "$W/build/a/b" "$W/src/Build/x" "$W/src/cache1/y" "$W/src/keep" "$W/src/cache/z"
	start_run -r "$W" --exclude 'build/**' --exclude '[Bb]uild' --exclude 'src/cache?' \
		-- sh -c "$REC" rec {}
	# the root, build (build/** is what is below it), src, src/keep, src/cache
	wait_for_watches "$VIGIL_PID" 5
	mkdir -p "$W/build/new/deep" "$W/src/cache2/deep"
	echo x >"$W/build/a/f"
	echo x >"$W/src/Build/x/f"
	echo x >"$W/src/cache1/y/f"
	echo x >"$W/src/cache/z/f"
	jobs_done 1
	echo x >"$W/src/keep/f"
	jobs_done 2
	expect_eq jobs "$(printf '%s\n' "$W/src/cache/z/f|" "$W/src/keep/f|")" "$(recorded)"
	expect_eq watches 5 "$(watch_count "$VIGIL_PID")"
}

@test "--on-busy restart: a burst of saves is one restart, with every path" {
	cat >"$TEST_DIR/server.sh" <<-'SH'
		echo "start $VIGIL_COUNT" >>"$LOG"
		trap 'echo stopped >>"$LOG"; exit 0' TERM
		while :; do sleep 0.05; done
	SH
	start_run "$W" --on-busy restart --settle 300ms -- sh "$TEST_DIR/server.sh"
	# the first start too: three files, one job
	paused sh -c 'for i in 1 2 3; do echo x >"$1/a$i"; done' sh "$W"
	wait_for_line "$LOG" '^start'
	paused sh -c 'for i in 1 2 3 4 5; do echo x >"$1/b$i"; done' sh "$W"
	wait_for_line "$LOG" '^start 5'
	echo x >"$W/sentinel"
	jobs_done 2
	wait_for_line "$LOG" '^start 1'
	expect_eq log "$(printf '%s\n' "start 3" stopped "start 5" stopped "start 1")" "$(cat "$LOG")"
	grep -q "started on 5 paths" "$ERR"
}

@test "--log-format json: the jobs' stderr becomes JSON lines of the log, their stdout stays theirs" {
	start_run "$W" --log-format json -- sh -c 'echo "data $1"; echo "oops \"$1\"" >&2; printf "last\001" >&2' job {}
	echo x >"$W/a"
	wait_for_line "$ERR" '"job":"end"'
	expect_eq stdout "data $W/a" "$(cat "$OUT")"
	python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], "rb")]  # each line parses
kinds = [l.get("job") or l.get("stream") or "message" for l in lines]
assert kinds == ["message", "start", "stderr", "stderr", "end"], kinds
start, e1, e2, end = lines[1:]
assert e1["line"] == "oops \"%s\"" % sys.argv[2] and e2["line"] == "last\x01", (e1, e2)
assert e1["pid"] == start["pid"] == end["pid"] and e1["rule"] == "run", e1
' "$ERR" "$W/a"
}

@test "--capture all: both streams in the text log, a line each, before the end line" {
	start_run "$W" --capture all -- sh -c 'echo out; echo err >&2; head -c 5000 /dev/zero | tr "\0" y' job {}
	echo x >"$W/a"
	jobs_done 1
	expect_eq stdout "" "$(cat "$OUT")"
	local pid
	pid=$(sed -n 's/.*\[run\] pid \([0-9]*\) started.*/\1/p' "$ERR")
	# the two streams are two pipes: their lines keep their order within
	# each, not between them
	# (the pid as P: cut at a column, the lines must not depend on its digits)
	grep -v watching "$ERR" | sed "s/ after .*//; s/ pid $pid / pid P /" | cut -c1-60 >"$TEST_DIR/got"
	{
		sed -n 1p "$TEST_DIR/got"
		sed '1d;$d' "$TEST_DIR/got" | grep stderr
		sed '1d;$d' "$TEST_DIR/got" | grep stdout
		sed -n '$p' "$TEST_DIR/got"
	} >"$TEST_DIR/got.sorted"
	printf '%s\n' "vigil run: [run] pid P started on '$W/a'" \
		"vigil run: [run] pid P stderr: err" \
		"vigil run: [run] pid P stdout: out" \
		"vigil run: [run] pid P stdout: $(printf 'y%.0s' $(seq 40))" \
		"vigil run: [run] pid P stdout: $(printf 'y%.0s' $(seq 40))" \
		"vigil run: [run] pid P exited 0" | cut -c1-60 >"$TEST_DIR/want"
	diff "$TEST_DIR/want" "$TEST_DIR/got.sorted"
	# 5000 bytes without a newline: 4096, then the rest at the end
	expect_eq "long line" "4096 904" "$(sed -n 's/.*stdout: \(y*\)$/\1/p' "$ERR" | awk '{ printf "%s%d", (NR > 1 ? " " : ""), length($0) }')"
	run --separate-stderr "$VIGIL" run "$W" --capture some -- true
	expect_eq "bad value" "vigil run: 'some' is not what --capture takes; give none, stderr or all" "$stderr"
}

@test "--capture: what a job leaves running still writes to the log, and gets no SIGPIPE" {
	# what is left writes once vigil has logged the job's end
	start_run "$W" --log-format json -- sh -c '(until grep -q "left processes running" "$0"; do sleep 0.05; done; echo late >&2; echo alive >>"$LOG") & echo early >&2' "$ERR"
	echo x >"$W/a"
	wait_for_line "$LOG" alive
	wait_for_line "$ERR" '"line":"late"'
	python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], "rb")]
kinds = [l.get("job") or l.get("line") or l.get("message") for l in lines]
assert kinds[1:] == ["start", "early", "end", kinds[4], "late"], kinds
assert "left processes running" in kinds[4], kinds
' "$ERR"
}

@test "without SQLite, --state is refused in one line" {
	[ "${VIGIL_SQLITE:-1}" = 0 ] || skip "this vigil is built with SQLite"
	run -1 "$VIGIL" run --state "$TEST_DIR/state" "$W" -- true
	expect_eq "refused" "vigil run: 'state': this vigil was built without SQLite, which keeps the state; build it with libsqlite3-dev (meson -Dsqlite=enabled)" "$output"
}
