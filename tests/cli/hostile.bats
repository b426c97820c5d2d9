#!/usr/bin/env bats
# Hostile input: names no one expects, trees that fight back, output that
# goes away or fills up, and limits that run out halfway. vigil must report
# what it can, say what it cannot, and never crash, hang or lie.

bats_require_minimum_version 1.5.0

load helpers

# A name of 255 bytes, the longest a file system takes.
long_name() {
	printf "${1:-x}%.0s" $(seq "${2:-255}")
}

# --- names --------------------------------------------------------------------

@test "names: 255-byte names and leading dashes, in the default, --csv and --format output" {
	local long dash='-e' ddash='--json'
	long=$(long_name)
	start_vigil wait -m -e create .
	touch -- "$W/$long" "$W/$dash" "$W/$ddash"
	sentinel s1
	expect_eq default "./ CREATE $long
./ CREATE $dash
./ CREATE $ddash
./ CREATE s1" "$(cat "$OUT")"
	stop_vigil

	start_vigil wait -m -c -e create .
	long=$(long_name y)
	touch -- "$W/$long" "$W/-x,y" "$W/- lead"
	sentinel s2
	expect_eq csv "./,CREATE,$long
./,CREATE,\"-x,y\"
./,CREATE,- lead
./,CREATE,s2" "$(cat "$OUT")"
	stop_vigil

	start_vigil wait -m -e create --format '[%w%f]' .
	long=$(long_name z)
	touch -- "$W/$long" "$W/-%e"
	sentinel s3
	expect_eq format "[./$long]
[./-%e]
[./s3]" "$(cat "$OUT")"
}

@test "names: --json keeps 255-byte names whole, control bytes escaped, bad UTF-8 at the end as \\udcXX" {
	command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
	local long_ascii long_utf8 cut_utf8
	long_ascii=$(long_name a)
	# 127 two-byte characters and one byte: 255 bytes
	long_utf8=$(long_name $'\xc3\xa9' 127)z
	# 254 bytes, then the first byte of a two-byte character
	cut_utf8=$(long_name y 254)$'\xc3'
	start_vigil wait -m --json -e create .
	touch -- "$W/$long_ascii" "$W/$long_utf8" "$W/$cut_utf8" "$W/-tab	x" \
		"$W/$(printf 'ctl\001\037')" "$W/com,ma \"q\""
	sentinel last
	json_names_are_listing "$OUT" "$W"
	grep -qF '"name":"ctl\u0001\u001f"' "$OUT"
	grep -qF '"name":"-tab\tx"' "$OUT"
	grep -qF "$(long_name y 254)\\udcc3\"" "$OUT"
}

@test "names: stats rows for directories with odd names, in --json" {
	command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
	local long d
	long=$(long_name)
	mkdir -- "$W/$long" "$W/-dash" "$W/a b,c" "$W/$(printf 'bad\xff')"
	"$VIGIL" stats -r --json . >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Finished establishing'
	for d in "$long" "-dash" "a b,c" "$(printf 'bad\xff')"; do
		: >"$W/$d/f"
	done
	# SIGINT ends the count: what was queued before it counts (a -t
	# would have to outlast the writes, however slow the machine)
	kill -INT "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	python3 - "$OUT" "$W" <<'PY'
import json, os, sys
out, w = sys.argv[1], sys.argv[2]
doc = json.load(open(out, encoding="utf-8"))
rows = {r["path"].encode("utf-8", "surrogateescape") for r in doc["files"] if r["events"].get("create")}
expected = {b"./" + n + b"/" for n in os.listdir(w.encode())}
if rows != expected:
    sys.exit("expected %r\nactual   %r" % (sorted(expected), sorted(rows)))
PY
}

# --- trees that fight back ------------------------------------------------------

@test "paths deeper than PATH_MAX: --csv and --json print them whole" {
	command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
	local name long
	name=$(long_name d 200)
	(cd "$W" && for _ in $(seq 25); do mkdir "$name" && cd "$name" || exit 1; done)
	long=.
	for _ in $(seq 25); do long=$long/$name; done
	start_vigil wait -m -r -c -e create .
	(cd "$W" && for _ in $(seq 25); do cd "$name" || exit 1; done && touch bottom)
	wait_for_line "$OUT" 'bottom$'
	expect_eq csv "$long/,CREATE,bottom" "$(cat "$OUT")"
	stop_vigil
	start_vigil wait -m -r --json -e create .
	(cd "$W" && for _ in $(seq 25); do cd "$name" || exit 1; done && touch bottom2)
	wait_for_line "$OUT" 'bottom2'
	run python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["path"])' "$OUT"
	expect_eq json "$long/bottom2" "$output"
	[ "${#long}" -gt 4096 ]
}

@test "paths deeper than PATH_MAX: a directory that cannot be watched is named whole" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	local name long
	name=$(long_name d 200)
	chmod 755 "$TEST_DIR"
	(cd "$W" && for _ in $(seq 25); do mkdir "$name" && cd "$name" || exit 1; done)
	chown -R 65534:65534 "$W"
	long=$W
	for _ in $(seq 25); do long=$long/$name; done
	: >"$OUT"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" wait -m -r -e create --format '%w%f' "$W" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established'
	# made by root, unreadable to vigil: it cannot be watched
	(cd "$W" && for _ in $(seq 25); do cd "$name" || exit 1; done && mkdir -m 700 closed && mkdir open)
	wait_for_line "$ERR" 'cannot watch'
	wait_for_line "$OUT" '/open$'
	expect_eq message "vigil wait: cannot watch '$long/closed': permission denied" "$(grep 'cannot watch' "$ERR")"
}

@test "a symlink loop inside the tree is not followed, at set-up or later" {
	mkdir -p "$W/a/b"
	ln -s . "$W/self"
	ln -s .. "$W/a/b/up"
	ln -s loop2 "$W/loop1"
	ln -s loop1 "$W/loop2"
	start_vigil wait -m -r -e create --format '%w%f' .
	expect_eq watches 3 "$(watch_count "$VIGIL_PID")"
	ln -s ../.. "$W/a/b/later"
	mkdir "$W/a/b/c"
	touch "$W/a/b/c/inside"
	sentinel done
	expect_eq events "./a/b/later
./a/b/c
./a/b/c/inside
./done" "$(cat "$OUT")"
	expect_eq watches 4 "$(watch_count "$VIGIL_PID")"
}

@test "the watched root moved away: its tree is still reported, nothing new at the old path" {
	mkdir -p "$W/root/sub"
	start_vigil wait -m -r -e create --format '%w%f' "$W/root"
	mv "$W/root" "$W/moved"
	mkdir "$W/moved/sub/new"
	touch "$W/moved/sub/new/file"
	wait_for_line "$OUT" 'new/file$'
	mkdir "$W/root"
	touch "$W/root/not-watched" "$W/moved/last"
	wait_for_line "$OUT" 'last$'
	# as inotifywait, under the path it was given
	expect_eq events "$W/root/sub/new
$W/root/sub/new/file
$W/root/last" "$(cat "$OUT")"
	expect_eq watches 3 "$(watch_count "$VIGIL_PID")"
}

@test "the watched root replaced by a symlink: what the link points to is not watched" {
	mkdir -p "$W/root/sub" "$TEST_DIR/outside/deep"
	start_vigil wait -m -r -e create --format '%w%f' "$W/root"
	mv "$W/root" "$W/old"
	ln -s "$TEST_DIR/outside" "$W/root"
	mkdir "$TEST_DIR/outside/new"
	touch "$TEST_DIR/outside/deep/x" "$TEST_DIR/outside/new/y"
	mkdir "$W/old/sub/in"
	touch "$W/old/sub/in/z"
	wait_for_line "$OUT" 'in/z$'
	expect_eq "events (none from outside)" "$W/root/sub/in
$W/root/sub/in/z" "$(cat "$OUT")"
	expect_eq watches 3 "$(watch_count "$VIGIL_PID")"
}

@test "the watched root deleted: its DELETE_SELF ends the wait" {
	mkdir "$W/root"
	start_vigil wait -e delete_self "$W/root"
	rmdir "$W/root"
	wait_vigil
	expect_eq status 0 "$status"
	expect_eq event "$W/root/ DELETE_SELF " "$(cat "$OUT")"
}

@test "the watched root deleted, with -r: its DELETE_SELF is reported" {
	# The engine opens what appears below a recursive root from the root's
	# own descriptor; held open, it would put the DELETE_SELF off until
	# closed. As root, it reopens the root from a file handle instead, and
	# holds it only while events are processed.
	mkdir -p "$W/root/a/b"
	start_vigil wait -m -r -e delete_self "$W/root"
	rm -r "$W/root"
	wait_for_line "$OUT" "^$W/root/ DELETE_SELF"
	expect_eq "events, with -r" "$W/root/a/b/ DELETE_SELF 
$W/root/a/ DELETE_SELF 
$W/root/ DELETE_SELF " "$(cat "$OUT")"
}

@test "directories unreadable when they appear are said, one line each, and the rest is watched" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	chmod 755 "$TEST_DIR"
	chown 65534:65534 "$W"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" wait -m -r -e create --format '%w%f' . >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established'
	# a whole tree moved in, one directory of it closed to vigil
	mkdir -p "$TEST_DIR/tree/open/deep" "$TEST_DIR/tree/closed/inner"
	chown -R 65534:65534 "$TEST_DIR/tree/open"
	chmod 700 "$TEST_DIR/tree/closed"
	chmod 755 "$TEST_DIR/tree"
	mv "$TEST_DIR/tree" "$W/tree"
	# and a directory made closed
	mkdir -m 700 "$W/shut"
	touch "$W/tree/open/deep/a"
	wait_for_line "$OUT" 'deep/a$'
	sentinel done
	expect_eq errors "vigil wait: cannot watch './shut': permission denied
vigil wait: cannot watch './tree/closed': permission denied" "$(grep 'cannot watch' "$ERR" | sort)"
	expect_eq "lines on stderr" 4 "$(wc -l <"$ERR")"
}

# start_gate_chmod DIR [AS]: hold the first open of DIR (by vigil's walk,
# which has found DIR and opened it but not yet watched it) while DIR, by
# then at the path AS, is made unreadable; returns once the gate is in
# place (start_gate, helpers.bash).
start_gate_chmod() {
	start_gate "$1" chmod 000 "${2:-$1}"
}

@test "a directory made unreadable mid-scan, at set-up: named in one line, the rest watched" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	chmod 755 "$TEST_DIR"
	mkdir -p "$W/a/inner" "$W/b/deep" "$W/c"
	chown -R 65534:65534 "$W"
	start_gate_chmod "$W/a"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" wait -m -r -e create --format '%w%f' . >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established'
	gate_done
	touch "$W/b/deep/x" "$W/c/y"
	wait_for_line "$OUT" '/c/y$'
	expect_eq events "./b/deep/x
./c/y" "$(cat "$OUT")"
	# said before the watches are established, as the walk found it
	expect_eq stderr "Setting up watches.  Beware: since -r was given, this may take a while!
vigil wait: cannot watch './a': permission denied
Watches established." "$(cat "$ERR")"
	expect_eq "watches (., b, b/deep, c)" 4 "$(watch_count "$VIGIL_PID")"
	chmod 755 "$W/a"
}

@test "a directory made unreadable mid-scan, in a tree moved in: named in one line, the rest reported" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	chmod 755 "$TEST_DIR"
	chown 65534:65534 "$W"
	mkdir -p "$TEST_DIR/tree/shut/inner" "$TEST_DIR/tree/open/deep"
	touch "$TEST_DIR/tree/open/deep/old" "$TEST_DIR/tree/shut/inner/hidden"
	chown -R 65534:65534 "$TEST_DIR/tree"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" wait -m -r -e create,moved_to --format '%w%f' . >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established'
	start_gate_chmod "$TEST_DIR/tree/shut" "$W/tree/shut"
	mv "$TEST_DIR/tree" "$W/tree"
	gate_done
	wait_for_line "$ERR" 'cannot watch'
	sentinel done
	expect_eq message "vigil wait: cannot watch './tree/shut': permission denied" \
		"$(grep -v '^Setting up\|^Watches established' "$ERR")"
	# what the walk found before and after it is reported, nothing below it
	expect_eq events "./tree
./tree/open
./tree/open/deep
./tree/open/deep/old
./tree/shut
./done" "$(LC_ALL=C sort "$OUT" | grep -v '^./done$'; echo ./done)"
	expect_eq "watches (., tree, tree/open, tree/open/deep)" 4 "$(watch_count "$VIGIL_PID")"
	chmod 755 "$W/tree/shut"
}

@test "stats: a directory made unreadable mid-scan is named; under the name inotifywatch, skipped silently as it does" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	chmod 755 "$TEST_DIR"
	mkdir -p "$W/a/inner" "$W/b"
	chown -R 65534:65534 "$W"
	start_gate_chmod "$W/a"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" stats -r -t 1 . 3>&-
	gate_done
	expect_eq "stats' status" 0 "$status"
	expect_eq "stats' message" "vigil stats: cannot watch './a': permission denied" \
		"$(grep -v '^Establishing\|^Finished\|^total' <<<"$stderr")"
	chmod 755 "$W/a"
	mkdir -p "$TEST_DIR/bin"
	ln -s "$VIGIL" "$TEST_DIR/bin/inotifywatch"
	start_gate_chmod "$W/a"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TEST_DIR/bin/inotifywatch" -r -t 1 . 3>&-
	gate_done
	expect_eq "inotifywatch's status" 0 "$status"
	expect_eq "inotifywatch's messages" "Establishing watches...
Finished establishing watches, now collecting statistics." "$stderr"
	chmod 755 "$W/a"
}

# --- output that goes away or fills up ------------------------------------------

@test "stdout closed early: 'vigil wait -m -r | head -1' ends at once, status 141, nothing on stderr" {
	mkdir "$W/sub"
	(
		"$VIGIL" wait -m -r . 2>"$ERR" | head -1 >"$OUT"
		echo "${PIPESTATUS[0]}" >"$TEST_DIR/status"
	) 3>&- &
	wait_for_line "$ERR" 'Watches established'
	touch "$W/sub/one"
	# nothing more happens in the tree: vigil must see head leave by itself
	timeout 10 sh -c 'while [ ! -s "$0" ]; do sleep 0.05; done' "$TEST_DIR/status"
	expect_eq status 141 "$(cat "$TEST_DIR/status")"
	expect_eq line "./sub/ CREATE one" "$(cat "$OUT")"
	expect_eq stderr "Setting up watches.  Beware: since -r was given, this may take a while!
Watches established." "$(cat "$ERR")"
}

@test "stdout closed early with SIGPIPE ignored: status 141, nothing on stderr" {
	(
		trap '' PIPE
		"$VIGIL" wait -m -e create . 2>"$ERR" | head -1 >"$OUT"
		echo "${PIPESTATUS[0]}" >"$TEST_DIR/status"
	) 3>&- &
	wait_for_line "$ERR" 'Watches established'
	touch "$W/one" "$W/two" "$W/three"
	timeout 10 sh -c 'while [ ! -s "$0" ]; do sleep 0.05; done' "$TEST_DIR/status"
	expect_eq status 141 "$(cat "$TEST_DIR/status")"
	expect_eq stderr "Setting up watches.
Watches established." "$(cat "$ERR")"
}

@test "stats: its table to a closed pipe, SIGPIPE ignored: status 141, nothing on stderr" {
	# a file touched again and again from before vigil starts: some touch
	# lands inside the one second however late this shell gets to run
	# (one touch after wait_for_line came too late on a loaded machine:
	# no events, no table, status 0)
	(for _ in $(seq 400); do touch "$W/a"; sleep 0.05; done) 3>&- &
	local toucher=$!
	(
		trap '' PIPE
		"$VIGIL" stats -t 1 . 2>"$ERR" | true
		echo "${PIPESTATUS[0]}" >"$TEST_DIR/status"
	) 3>&- &
	wait_for_line "$ERR" 'Finished establishing'
	timeout 10 sh -c 'while [ ! -s "$0" ]; do sleep 0.05; done' "$TEST_DIR/status"
	kill "$toucher"
	wait "$toucher" 2>/dev/null || true
	expect_eq status 141 "$(cat "$TEST_DIR/status")"
	expect_eq stderr "Establishing watches...
Finished establishing watches, now collecting statistics." "$(cat "$ERR")"
}

# run_on_full_fs SCRIPT: run SCRIPT (sh) in a mount namespace of its own,
# where $FULL is a tmpfs with no room left.
run_on_full_fs() {
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace here (unshare -m)"
	FULL=$TEST_DIR/full
	mkdir "$FULL"
	run --separate-stderr unshare -m --propagation private sh -c '
		mount -t tmpfs -o size=64k tmpfs "$FULL" || exit 99
		head -c 1M /dev/zero >"$FULL/filler" 2>/dev/null
		'"$1" 3>&-
}

@test "-o onto a full file system: one line naming the file, exit 1, events not dropped silently" {
	export FULL=$TEST_DIR/full VIGIL W
	run_on_full_fs '
		"$VIGIL" wait -m -o "$FULL/events" -e create "$W" 2>"$W/../err" &
		pid=$!
		until grep -q established "$W/../err"; do sleep 0.05; done
		for i in $(seq 50); do : >"$W/file$i"; done
		wait $pid'
	expect_eq status 1 "$status"
	expect_eq stderr "Setting up watches.
Watches established.
vigil wait: cannot write events to '$FULL/events': no space left on device" "$(cat "$TEST_DIR/err")"
}

@test "stdout onto a full file system: wait and stats say so in one line and exit 1" {
	export FULL=$TEST_DIR/full VIGIL W
	run_on_full_fs '
		"$VIGIL" wait -e create "$W" >"$FULL/out" 2>"$W/../err" &
		pid=$!
		until grep -q established "$W/../err"; do sleep 0.05; done
		: >"$W/file"
		wait $pid
		echo "wait: $?"
		"$VIGIL" stats -t 0.1 "$W" >"$FULL/out" 2>>"$W/../err" &
		pid=$!
		until grep -q Finished "$W/../err"; do sleep 0.05; done
		: >"$W/file2"
		wait $pid
		echo "stats: $?"'
	expect_eq statuses "wait: 1
stats: 1" "$output"
	expect_eq errors "vigil wait: cannot write events: no space left on device
vigil stats: cannot write the table: no space left on device" "$(grep '^vigil' "$TEST_DIR/err")"
}

# --- limits ---------------------------------------------------------------------

# in_userns_with_watches N CMD...: run CMD in a user namespace of the test's
# own where at most N inotify watches may be held (the rest of the machine
# is not affected).
in_userns_with_watches() {
	local n=$1
	shift
	unshare --user --map-root-user sh -c \
		'echo "$0" >/proc/sys/user/max_inotify_watches && exec "$@"' "$n" "$@"
}

# start_limited N ARGS...: start_vigil with at most N watches.
start_limited() {
	local n=$1
	shift
	: >"$OUT"
	: >"$ERR"
	# unshare and sh exec: VIGIL_PID is vigil's
	unshare --user --map-root-user sh -c \
		'echo "$0" >/proc/sys/user/max_inotify_watches && exec "$@"' "$n" "$VIGIL" "$@" \
		>"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established|Finished establishing' 30
}

@test "watch limit met later: each directory left out is named, with how many it holds, and the rest goes on" {
	require_userns
	mkdir -p "$TEST_DIR/tree/x/1/2" "$TEST_DIR/tree/y"
	# the root and one more
	start_limited 2 wait -m -r -e create,moved_to --format '%w%f' "$W"
	mv "$TEST_DIR/tree" "$W/tree"
	touch "$W/tree/in-tree"
	wait_for_line "$OUT" 'in-tree$'
	wait_for_line "$ERR" "cannot watch '$W/tree/y'"
	grep -qF "vigil wait: cannot watch '$W/tree/x' and the 2 directories below it: inotify watch limit reached (user.max_inotify_watches = 2)" "$ERR"
	grep -qF "vigil wait: cannot watch '$W/tree/y': inotify watch limit reached (user.max_inotify_watches = 2)" "$ERR"
	expect_eq watches 2 "$(watch_count "$VIGIL_PID")"
}

@test "watch limit reached halfway: how many of how many, exit 1, and the way on" {
	require_userns
	mkdir -p "$W/a/b/c/d/e"
	run in_userns_with_watches 3 "$VIGIL" wait -r "$W"
	expect_eq status 1 "$status"
	expect_eq message "vigil wait: cannot watch 3 of the 6 directories in '$W': inotify watch limit reached (user.max_inotify_watches = 3); raise it with 'sysctl -w user.max_inotify_watches=6', or for good in /etc/sysctl.d/" "${lines[-2]}"
	expect_eq hint "vigil wait: '$W': give '--keep-going' to watch the 3 that could be and go on" "${lines[-1]}"
}

@test "watch limit: the sysctl value suggested is enough for the tree" {
	require_userns
	local i
	for i in $(seq 20); do mkdir -p "$W/d$i/e"; done
	run in_userns_with_watches 5 "$VIGIL" wait -r "$W"
	expect_eq status 1 "$status"
	[[ "${lines[-2]}" == "vigil wait: cannot watch 36 of the 41 directories in '$W': "*"raise it with 'sysctl -w user.max_inotify_watches=41'"* ]]
}

@test "--keep-going: watches what it can, names what it cannot, and reports events there" {
	require_userns
	mkdir -p "$W/a/b/c" "$W/z"
	# 3 watches: the root and two directories; 2 left out
	start_limited 3 wait -m -r --keep-going -e create --format '%w%f' "$W"
	expect_eq watches 3 "$(watch_count "$VIGIL_PID")"
	grep -qxF "vigil wait: cannot watch 2 of the 5 directories in '$W': inotify watch limit reached (user.max_inotify_watches = 3); raise it with 'sysctl -w user.max_inotify_watches=6', or for good in /etc/sysctl.d/" "$ERR"
	# which are left out depends on the order the directory lists them
	grep -qxE "vigil wait: '$W': watching 3 of 5 directories; not watched: ('$W/a/b' \(2 directories\)|'$W/a/b/c', '$W/z'|'$W/z', '$W/a/b/c')" "$ERR"
	touch "$W/in-root"
	wait_for_line "$OUT" 'in-root$'
}

@test "--keep-going: more than five left out: the first five and a count" {
	require_userns
	local i
	for i in $(seq 9); do mkdir "$W/d$i"; done
	start_limited 2 wait -m -r --keep-going -e create "$W"
	grep -qE "^vigil wait: '$W': watching 2 of 10 directories; not watched: ('$W/d[0-9]', ){4}'$W/d[0-9]' and 3 more$" "$ERR"
}

@test "--keep-going: nothing could be watched at all is exit 1" {
	require_userns
	mkdir "$W/a"
	run in_userns_with_watches 0 "$VIGIL" wait --keep-going "$W" "$W/a"
	expect_eq status 1 "$status"
	expect_eq last "vigil wait: nothing could be watched" "${lines[-1]}"
}

@test "stats --keep-going: counts in what it watches, says what it does not" {
	require_userns
	mkdir -p "$W/a/b" "$W/c"
	start_limited 2 stats -r --keep-going -e create "$W"
	touch "$W/in-root"
	# SIGINT ends the count, with what was queued before it
	kill -INT "$VIGIL_PID"
	wait_vigil
	expect_eq status 0 "$status"
	grep -qF "vigil stats: cannot watch 2 of the 4 directories in '$W'" "$ERR"
	grep -qF "vigil stats: '$W': watching 2 of 4 directories; not watched: " "$ERR"
	grep -qE "^1 +1 +$W/$" "$OUT"
}

@test "as inotifywait: no --keep-going, inotifywait's words and exit 1 at the limit" {
	require_userns
	mkdir -p "$W/a/b/c" "$TEST_DIR/bin"
	ln -s "$VIGIL" "$TEST_DIR/bin/inotifywait"
	run in_userns_with_watches 2 "$TEST_DIR/bin/inotifywait" -r "$W"
	expect_eq status 1 "$status"
	expect_eq output "Setting up watches.  Beware: since -r was given, this may take a while!
Failed to watch $W; upper limit on inotify watches reached!
Please increase the amount of inotify watches allowed per user via \`/proc/sys/fs/inotify/max_user_watches'." "$output"
}
