#!/usr/bin/env bats
# vigil usage: who holds inotify instances and watches. A helper process
# ($HOLDER, tests/cli/holder.c) holds a known set of instances and watches;
# vigil usage must report exactly those. Holders run as uids of the test's
# own ($U1, $U2, made from its pid, which no test running beside it has)
# wherever totals per user are checked, since the rest of the machine
# (other tests, other suites) holds instances as root.

load helpers
bats_require_minimum_version 1.5.0

HOLDER=$(readlink -f "${HOLDER:-$BATS_TEST_DIRNAME/../../build/tests/cli/holder}")
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
# root without the capability that open_by_handle_at() needs
NO_HANDLES=(setpriv --bounding-set=-dac_read_search --inh-caps=-all)

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-test.XXXXXX")
	TEST_DIR=$(readlink -f "$TEST_DIR")
	W=$TEST_DIR/w
	mkdir "$W" "$W/a" "$W/b" "$W/c"
	: >"$W/f"
	# the holders and vigil run as other users too: copies of them, in
	# case the checkout is where those users cannot go
	for_others HOLDER
	cd "$W" || return 1
	U1=$((1000000 + 2 * BASHPID))
	U2=$((U1 + 1))
	AS_U1=(setpriv --reuid="$U1" --regid="$U1" --clear-groups)
	AS_U2=(setpriv --reuid="$U2" --regid="$U2" --clear-groups)
	HOLDER_PIDS=()
	HOLDER_FDS=()
	VIGIL_PID=
}

teardown() {
	local fd pid
	for fd in "${HOLDER_FDS[@]}"; do
		exec {fd}>&-
	done
	# (their stdin may not end yet: a 'tail -f' of wait_for_line can
	# hold the fifo for a while; a holder reaps its -f child on SIGTERM)
	for pid in "${HOLDER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	end_test_processes
	cd / && rm -rf "$TEST_DIR"
}

# start_holder [AS...] -- ARGS...: run the holder with ARGS (as a setpriv
# prefix AS, if given) in the background, and return once it is ready. It
# holds on until its stdin (a fifo we keep open) ends. Its pid is
# $HOLDER_PID; with -f, the child's is $HOLDER_CHILD.
start_holder() {
	local as=() n=${#HOLDER_PIDS[@]} fd
	while [ "$1" != -- ]; do
		as+=("$1")
		shift
	done
	shift
	mkfifo "$TEST_DIR/holder$n.in"
	"${as[@]}" "$HOLDER" "$@" <"$TEST_DIR/holder$n.in" >"$TEST_DIR/holder$n.out" 2>&1 3>&- &
	HOLDER_PID=$!
	HOLDER_PIDS+=("$HOLDER_PID")
	exec {fd}>"$TEST_DIR/holder$n.in"
	HOLDER_FDS+=("$fd")
	wait_for_line "$TEST_DIR/holder$n.out" '^ready' 10
	HOLDER_CHILD=$(awk '/^ready/ { print $2 }' "$TEST_DIR/holder$n.out")
}

# The rows of the process table: "PID USER INSTANCES WATCHES".
proc_rows() {
	awk 'NR == 1 { next } /^$/ { exit } { print $1, $2, $3, $4 }' <<<"$output"
}

# The rows of the watch table (-w) of process PID: "WD DEVICE INODE EVENTS PATH".
watch_rows() {
	awk -v pid="$1" '/^ *PID +FD +WD / { on = 1; next } /^$/ { on = 0 }
		on && $1 == pid { $1 = ""; $2 = ""; sub(/^  /, ""); print }' <<<"$output"
}

# The row of the user table for USER: "USER INSTANCES USE% WATCHES USE%".
user_row() {
	awk -v u="$1" '/^USER +INSTANCES/ { on = 1; next } /^$/ { on = 0 }
		on && $1 == u { print }' <<<"$output" | tr -s ' '
}

# dev_ino PATH: "MAJOR:MINOR INODE", as the watch table shows them.
dev_ino() {
	stat -c '%Hd:%Ld %i' "$1"
}

# The paths of the watch table, whoever holds them.
watch_paths() {
	awk '/^ *PID +FD +WD / { on = 1; next } /^$/ { on = 0 } on { print $NF }' <<<"$output"
}

# pct N instances|watches: N as the USE% column shows it, against the limit
# in force (the lower of fs.inotify.* and this user namespace's user.*).
pct() {
	local fs user limit
	if [ "$2" = instances ]; then
		fs=$(cat /proc/sys/fs/inotify/max_user_instances)
		user=$(cat /proc/sys/user/max_inotify_instances)
	else
		fs=$(cat /proc/sys/fs/inotify/max_user_watches)
		user=$(cat /proc/sys/user/max_inotify_watches)
	fi
	limit=$((user < fs ? user : fs))
	echo "$(($1 * 100 / limit))%"
}

@test "a process's instances and watches are counted exactly" {
	start_holder -- -m 300 "$W/a" "$W/b" -i -m 2 "$W/c" -i
	run "$VIGIL" usage --pid "$HOLDER_PID"
	expect_eq status 0 "$status"
	expect_eq header 1 "$(grep -cE '^ *PID USER +INSTANCES +WATCHES COMMAND$' <<<"$output")"
	expect_eq rows "$HOLDER_PID root 3 3" "$(proc_rows)"
	expect_eq command "$HOLDER -m 300 $W/a $W/b -i -m 2 $W/c -i" \
		"$(awk -v p="$HOLDER_PID" '$1 == p { sub(/^ *[0-9]+ +[^ ]+ +[0-9]+ +[0-9]+ /, ""); print; exit }' <<<"$output")"
}

@test "-w: each watch's device, inode, events, and its path from the file handle" {
	start_holder -- -m 300 "$W/a" "$W/b" -i -m 2 "$W/c" "$W/f"
	run "$VIGIL" usage -w --pid "$HOLDER_PID"
	expect_eq status 0 "$status"
	expect_eq watches "1 $(dev_ino "$W/a") CREATE,DELETE $W/a
2 $(dev_ino "$W/b") CREATE,DELETE $W/b
1 $(dev_ino "$W/c") MODIFY $W/c
2 $(dev_ino "$W/f") MODIFY $W/f" "$(watch_rows "$HOLDER_PID" | tr -s ' ')"
}

@test "-w without CAP_DAC_READ_SEARCH: paths by --search, '(unknown)' without it" {
	start_holder -- -m 300 "$W/a" "$W/b" -i -m 2 "$W/c" "$W/f"
	run "${NO_HANDLES[@]}" "$VIGIL" usage -w --pid "$HOLDER_PID" --search "$TEST_DIR"
	expect_eq status 0 "$status"
	expect_eq watches "1 $(dev_ino "$W/a") CREATE,DELETE $W/a
2 $(dev_ino "$W/b") CREATE,DELETE $W/b
1 $(dev_ino "$W/c") MODIFY $W/c
2 $(dev_ino "$W/f") MODIFY $W/f" "$(watch_rows "$HOLDER_PID" | tr -s ' ')"

	run "${NO_HANDLES[@]}" "$VIGIL" usage -w --pid "$HOLDER_PID"
	expect_eq status 0 "$status"
	expect_eq paths "(unknown)
(unknown)
(unknown)
(unknown)" "$(watch_rows "$HOLDER_PID" | awk '{ print $NF }')"

	# a search that does not reach them finds nothing either
	run "${NO_HANDLES[@]}" "$VIGIL" usage -w --pid "$HOLDER_PID" --search "$W/a"
	expect_eq status 0 "$status"
	expect_eq paths "$W/a
(unknown)
(unknown)
(unknown)" "$(watch_rows "$HOLDER_PID" | awk '{ print $NF }')"
}

@test "a watched file removed but still open is '(deleted)'; no search can find it" {
	start_holder -- -m 2 "$W/f" "$W/a"
	rm "$W/f"
	run "$VIGIL" usage -w --pid "$HOLDER_PID"
	expect_eq status 0 "$status"
	expect_eq paths "$W/f (deleted)
$W/a" "$(watch_rows "$HOLDER_PID" | awk '{ $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }')"

	run "${NO_HANDLES[@]}" "$VIGIL" usage -w --pid "$HOLDER_PID" --search "$TEST_DIR"
	expect_eq status 0 "$status"
	expect_eq paths "(unknown)
$W/a" "$(watch_rows "$HOLDER_PID" | awk '{ print $NF }')"
}

@test "-w: masks as event names, ALL_EVENTS for all twelve, ONESHOT and EXCL_UNLINK" {
	mkdir "$W/d" "$W/e"
	start_holder -- -m fff "$W/a" -m 80000002 "$W/b" -m 4000100 "$W/c" -m 18 "$W/d" \
		-m ffd "$W/e"
	run "$VIGIL" usage -w --pid "$HOLDER_PID"
	expect_eq status 0 "$status"
	expect_eq events "ALL_EVENTS
MODIFY,ONESHOT
CREATE,EXCL_UNLINK
CLOSE_WRITE,CLOSE_NOWRITE
ACCESS,ATTRIB,CLOSE_WRITE,CLOSE_NOWRITE,OPEN,MOVED_FROM,MOVED_TO,CREATE,DELETE,DELETE_SELF,MOVE_SELF" \
		"$(watch_rows "$HOLDER_PID" | awk '{ print $4 }')"
}

@test "an instance held by two fds, or by two processes, counts once for its user" {
	# instance 1 (a, b), instance 2 (c) also as a second fd, then a fork
	start_holder "${AS_U1[@]}" -- "$W/a" "$W/b" -i "$W/c" -d -f
	run "$VIGIL" usage --user "$U1"
	expect_eq status 0 "$status"
	expect_eq rows "$(printf '%s\n' "$HOLDER_PID $U1 2 3" "$HOLDER_CHILD $U1 2 3" | sort -n)" \
		"$(proc_rows | sort -n)"
	expect_eq user "$U1 2 $(pct 2 instances) 3 $(pct 3 watches)" "$(user_row "$U1")"

	# fds 3 (a, b), 6 (c) and 8 (its dup; 4, 5 and 7 hold the paths
	# open): the lower pid's are the ones counted
	local lo=$((HOLDER_PID < HOLDER_CHILD ? HOLDER_PID : HOLDER_CHILD))
	run "$VIGIL" usage --user "$U1" --json
	expect_eq status 0 "$status"
	expect_eq fds "3 2 -
6 1 -
8 1 $lo:6
3 2 $lo:3
6 1 $lo:6
8 1 $lo:6" "$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
for p in sorted(doc["processes"], key=lambda p: p["pid"]):
    for f in p["fds"]:
        s = f.get("same_as")
        print(f["fd"], f["watches"], "%d:%d" % (s["pid"], s["fd"]) if s else "-")
' <<<"$output")"
}

@test "--user narrows to a user's processes, given by name or uid" {
	start_holder "${AS_U1[@]}" -- "$W/a" "$W/b"
	local pid_a=$HOLDER_PID
	start_holder "${AS_NOBODY[@]}" -- "$W/c"
	local pid_n=$HOLDER_PID

	run "$VIGIL" usage --user "$U1"
	expect_eq status 0 "$status"
	expect_eq rows "$pid_a $U1 1 2" "$(proc_rows)"
	expect_eq users "$U1 1 $(pct 1 instances) 2 $(pct 2 watches)" "$(user_row "$U1")"

	# (nobody may run other holders beside this test: look at ours)
	run "$VIGIL" usage -u nobody
	expect_eq status 0 "$status"
	expect_eq "our row" "$pid_n nobody 1 1" "$(proc_rows | grep "^$pid_n ")"
	expect_eq "other users' rows" "" "$(proc_rows | grep -v "^[0-9]* nobody ")"

	run "$VIGIL" usage -u nobody -u "$U1" -u "$U2"
	expect_eq status 0 "$status"
	expect_eq rows "$pid_a $U1 1 2
$pid_n nobody 1 1" "$(proc_rows | grep "^$pid_a \|^$pid_n ")"
	expect_eq "other users' rows" "" "$(proc_rows | grep -v "^[0-9]* nobody \|^$pid_a ")"
	expect_eq "user $U2, who holds nothing" "$U2 0 0% 0 0%" "$(user_row "$U2")"
}

@test "--pid narrows to those processes; the totals are still their users' whole" {
	start_holder "${AS_U1[@]}" -- "$W/a" "$W/b"
	local pid_a=$HOLDER_PID
	start_holder "${AS_U1[@]}" -- "$W/c" -i -i
	local pid_b=$HOLDER_PID

	run "$VIGIL" usage --pid "$pid_b"
	expect_eq status 0 "$status"
	expect_eq rows "$pid_b $U1 3 1" "$(proc_rows)"
	expect_eq user "$U1 4 $(pct 4 instances) 3 $(pct 3 watches)" "$(user_row "$U1")"

	run "$VIGIL" usage -p "$pid_b" -p "$pid_a" -p "$pid_b"
	expect_eq rows "$pid_a $U1 1 2
$pid_b $U1 3 1" "$(proc_rows)"

	# --pid and --user both narrow
	run "$VIGIL" usage -p "$pid_a" -u "$U2"
	expect_eq status 0 "$status"
	expect_eq rows "" "$(proc_rows)"

	# a process without inotify is shown with its zeros
	run "$VIGIL" usage -p $$
	expect_eq status 0 "$status"
	expect_eq rows "$$ root 0 0" "$(proc_rows)"
}

@test "--json: the same numbers, paths and events, in one document" {
	start_holder "${AS_U1[@]}" -- -m 300 "$W/a" "$W/b" -i -m fff "$W/c"
	local c_id
	c_id=$(dev_ino "$W/c")
	rm -r "$W/c" # (held open, so still watched)
	# the limits, read around vigil's run: another suite on the machine
	# may lower one for a while (an overflow test), so again if one moved
	local limits before n
	limits() {
		local k
		for k in instances:max_user_instances watches:max_user_watches \
			queued_events:max_queued_events; do
			echo "${k%:*} fs.inotify.${k#*:} $(cat /proc/sys/fs/inotify/${k#*:})"
		done
	}
	for n in $(seq 20); do
		before=$(limits)
		run "$VIGIL" usage -w --user "$U1" --json
		[ "$(limits)" != "$before" ] || break
	done
	expect_eq status 0 "$status"
	expect_eq json "pid $HOLDER_PID uid $U1 user None instances 2 watches 3
fd 3 watches 2
1 $(dev_ino "$W/a") 768 CREATE,DELETE $W/a False handle
2 $(dev_ino "$W/b") 768 CREATE,DELETE $W/b False handle
fd 6 watches 1
1 $c_id 4095 ACCESS,MODIFY,ATTRIB,CLOSE_WRITE,CLOSE_NOWRITE,OPEN,MOVED_FROM,MOVED_TO,CREATE,DELETE,DELETE_SELF,MOVE_SELF $W/c True handle
user $U1 instances 2 watches 3 near []" "$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
for p in doc["processes"]:
    print("pid", p["pid"], "uid", p["uid"], "user", p["user"], "instances", p["instances"], "watches", p["watches"])
    for f in p["fds"]:
        print("fd", f["fd"], "watches", f["watches"])
        for w in f["list"]:
            print(w["wd"], w["device"], w["inode"], w["mask"], ",".join(w["events"]), w["path"], w["deleted"], w["found_by"])
for u in doc["users"]:
    print("user", u["uid"], "instances", u["instances"], "watches", u["watches"], "near", u["near_limits"])
' <<<"$output")"
	expect_eq limits "$before
unreadable 0" "$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
for k, v in doc["limits"].items():
    print(k, v["sysctl"], v["value"])
print("unreadable", doc["unreadable"])
' <<<"$output")"

	# and by search, as JSON
	run "${NO_HANDLES[@]}" "$VIGIL" usage -w -u "$U1" --json --search "$TEST_DIR"
	expect_eq status 0 "$status"
	expect_eq found "$W/a search
$W/b search
None None" "$(python3 -c '
import json, sys
for p in json.load(sys.stdin)["processes"]:
    for f in p["fds"]:
        for w in f["list"]:
            print(w["path"], w["found_by"])
' <<<"$output")"
}

# unshare_usage WATCH_LIMIT INSTANCE_LIMIT ARGS...: in a user namespace of
# its own, with user.max_inotify_watches and max_inotify_instances lowered
# (nothing else on the machine is touched), start a holder with ARGS, then
# run 'vigil usage -u 0' and print what it says, stderr included.
unshare_usage() {
	local watches=$1 instances=$2
	shift 2
	unshare --user --map-root-user sh -c '
		echo "$1" >/proc/sys/user/max_inotify_watches &&
		echo "$2" >/proc/sys/user/max_inotify_instances || exit 99
		in=$3/in
		shift 3
		mkfifo "$in"
		# the holder ends when the reader side closes its end of the fifo
		"$HOLDER" "$@" <"$in" | { exec 4>"$in"; read -r ready && "$VIGIL" usage -u 0 2>&1; }
	' sh "$watches" "$instances" "$TEST_DIR" "$@"
}

@test "over 90% of a limit: one line says which, and how to raise it now and for good" {
	require_userns
	mkdir "$W"/d{1..20}
	export HOLDER VIGIL
	run unshare_usage 10 128 "$W"/d{1..10}
	expect_eq status 0 "$status"
	expect_eq warning "vigil usage: 'root' is at the inotify watch limit: 10 of 10 (user.max_inotify_watches); raise it for now with 'sysctl -w user.max_inotify_watches=20' and for good with the line 'user.max_inotify_watches = 20' in /etc/sysctl.d/60-inotify.conf" \
		"$(grep 'limit:' <<<"$output")"
	expect_eq "limit line" "user.max_inotify_watches = 10 (lower than fs.inotify.max_user_watches = $(cat /proc/sys/fs/inotify/max_user_watches))" \
		"$(grep '^user.max_inotify_watches' <<<"$output")"
	expect_eq user "root 1 0% 10 100%" "$(user_row root)"

	run unshare_usage 20 128 "$W"/d{1..19}
	expect_eq status 0 "$status"
	expect_eq warning "vigil usage: 'root' is near the inotify watch limit: 19 of 20 (user.max_inotify_watches); raise it for now with 'sysctl -w user.max_inotify_watches=40' and for good with the line 'user.max_inotify_watches = 40' in /etc/sysctl.d/60-inotify.conf" \
		"$(grep 'limit:' <<<"$output")"

	# 90% exactly is not over 90%
	run unshare_usage 20 128 "$W"/d{1..18}
	expect_eq status 0 "$status"
	expect_eq warning "" "$(grep 'limit:' <<<"$output")"
	expect_eq user "root 1 0% 18 90%" "$(user_row root)"

	run unshare_usage 100 3 -i "$W/d1" -i "$W/d2" -i
	expect_eq status 0 "$status"
	expect_eq warning "vigil usage: 'root' is at the inotify instance limit: 3 of 3 (user.max_inotify_instances); raise it for now with 'sysctl -w user.max_inotify_instances=6' and for good with the line 'user.max_inotify_instances = 6' in /etc/sysctl.d/60-inotify.conf" \
		"$(grep 'limit:' <<<"$output")"
}

@test "processes that exit during the scan are skipped quietly" {
	mkdir "$W"/d{1..200}
	: >"$TEST_DIR/err"
	# two streams of short-lived holders: each sets up 3 instances and
	# 200 watches, says ready and exits at once (stdin is /dev/null)
	for n in 1 2; do
		while [ ! -e "$TEST_DIR/stop" ]; do
			"${AS_U1[@]}" "$HOLDER" "$W"/d{1..100} -i "$W"/d{101..200} -i -f </dev/null >/dev/null
		done 3>&- 2>>"$TEST_DIR/err" &
	done
	stop() {
		touch "$TEST_DIR/stop"
		wait
	}
	local seen=0 round=0
	# (not $i: bats' run uses it) 60 scans, and on until one has met a
	# holder: on a loaded machine the holders may all be between lives
	# for 60 scans in a row
	while [ "$round" -lt 60 ] || { [ "$seen" = 0 ] && [ "$round" -lt 3000 ]; }; do
		round=$((round + 1))
		case $((round % 3)) in
		0) run --separate-stderr "$VIGIL" usage -u "$U1" ;;
		1) run --separate-stderr "$VIGIL" usage -u "$U1" -w ;;
		2) run --separate-stderr "$VIGIL" usage -u "$U1" -w --json ;;
		esac
		[ "$status" = 0 ] && [ -z "$stderr" ] || {
			stop
			printf 'run %d: status %s, stderr:\n%s\n' "$round" "$status" "$stderr" >&2
			return 1
		}
		if [ $((round % 3)) = 2 ]; then
			python3 -c 'import json, sys; json.load(sys.stdin)' <<<"$output" || {
				stop
				return 1
			}
		elif grep -q "^ *[0-9]\+ $U1 " <<<"$output"; then
			seen=$((seen + 1))
		fi
	done
	stop
	expect_eq "holder errors" "" "$(cat "$TEST_DIR/err")"
	# the scans did meet holders (and so, at times, holders on their way out)
	[ "$seen" -gt 0 ] || { echo "no scan saw a holder" >&2; return 1; }
}

@test "as another user: their own processes, and one line for the ones it cannot read" {
	start_holder "${AS_U1[@]}" -- -m 2 "$W/a" "$W/b"
	run --separate-stderr "${AS_U1[@]}" "$VIGIL" usage -w --search "$TEST_DIR"
	expect_eq status 0 "$status"
	expect_eq rows "$HOLDER_PID $U1 1 2" "$(proc_rows)"
	expect_eq watches "1 $(dev_ino "$W/a") MODIFY $W/a
2 $(dev_ino "$W/b") MODIFY $W/b" "$(watch_rows "$HOLDER_PID" | tr -s ' ')"
	expect_eq "stderr lines" 1 "$(grep -c . <<<"$stderr")"
	[[ "$stderr" =~ ^"vigil usage: cannot read "[0-9]+" other processes (permission denied); their instances and watches are not counted"$ ]] ||
		{ echo "stderr: $stderr" >&2; return 1; }
}

# mount_ns_usage PREFIX VIGIL_ARGS...: in a mount namespace of its own,
# with a tmpfs at $W/m, start a holder watching $W/a and $W/m/x, then run
# PREFIX vigil usage -w --pid HOLDER VIGIL_ARGS.
mount_ns_usage() {
	unshare --mount --propagation private sh -c '
		w=$1 t=$2 prefix=$3
		shift 3
		mount -t tmpfs vigil-test "$w/m" && mkdir "$w/m/x" || exit 99
		mkfifo "$t/in" "$t/out"
		"$HOLDER" "$w/a" "$w/m/x" <"$t/in" >"$t/out" &
		exec 4>"$t/in"
		read -r ready <"$t/out"
		$prefix "$VIGIL" usage -w --pid $! "$@"
		status=$?
		exec 4>&-
		wait
		exit $status
	' sh "$W" "$TEST_DIR" "$@" 3>&-
}

@test "--search stays on DIR's filesystem unless --all-filesystems" {
	unshare --mount true 2>/dev/null || skip "cannot create a mount namespace here"
	mkdir "$W/m"
	export HOLDER VIGIL
	run --separate-stderr mount_ns_usage ""
	expect_eq status 0 "$status"
	expect_eq "through handles" "$W/a
$W/m/x" "$(watch_paths)"

	run --separate-stderr mount_ns_usage "${NO_HANDLES[*]}" --search "$W"
	expect_eq status 0 "$status"
	expect_eq "by search, on DIR's filesystem" "$W/a
(unknown)" "$(watch_paths)"

	run --separate-stderr mount_ns_usage "${NO_HANDLES[*]}" --search "$W" --all-filesystems
	expect_eq status 0 "$status"
	expect_eq "by search, on all" "$W/a
$W/m/x" "$(watch_paths)"

	# a search from inside the other filesystem
	run --separate-stderr mount_ns_usage "${NO_HANDLES[*]}" --search "$W/m" --search "$W/a"
	expect_eq status 0 "$status"
	expect_eq "by two searches" "$W/a
$W/m/x" "$(watch_paths)"
}

@test "argument errors: one line each, status 1" {
	local no_pid
	no_pid=$(cat /proc/sys/kernel/pid_max)
	check() {
		local want=$1
		shift
		run "$@"
		expect_eq "status of $*" 1 "$status"
		expect_eq "message of $*" "$want" "$output"
	}
	check "vigil usage: 'abc' is not a process id" "$VIGIL" usage --pid abc
	check "vigil usage: '0' is not a process id" "$VIGIL" usage -p 0
	check "vigil usage: '-5' is not a process id" "$VIGIL" usage --pid=-5
	check "vigil usage: '12x' is not a process id" "$VIGIL" usage -p 12x
	check "vigil usage: '99999999999' is not a process id" "$VIGIL" usage -p 99999999999
	check "vigil usage: no process $no_pid" "$VIGIL" usage -p "$no_pid"
	check "vigil usage: cannot read process 1: permission denied" \
		"${AS_U1[@]}" "$VIGIL" usage -p 1
	check "vigil usage: 'no-such-user-vigil' is not a user" "$VIGIL" usage --user no-such-user-vigil
	check "vigil usage: '-1' is not a user" "$VIGIL" usage -u -1
	check "vigil usage: cannot search '$W/nope': no such file or directory" \
		"$VIGIL" usage -w --search "$W/nope"
	check "vigil usage: cannot search '$W/f': not a directory" "$VIGIL" usage -w -s "$W/f"
	check "vigil usage: '--search' needs '--watches'" "$VIGIL" usage --search "$W"
	check "vigil usage: '--all-filesystems' needs '--search'" "$VIGIL" usage -w --all-filesystems
	check "vigil usage: unrecognized option '--bogus'" "$VIGIL" usage --bogus
	check "vigil usage: option requires an argument -- 'p'" "$VIGIL" usage -p
	check "vigil usage: unexpected argument 'foo'; see 'vigil usage --help'" "$VIGIL" usage foo
}

@test "--help and 'vigil help usage' describe the options" {
	run "$VIGIL" usage --help
	expect_eq status 0 "$status"
	expect_eq first "Usage: vigil usage [OPTION]..." "${lines[0]}"
	for opt in --pid --user --watches --search --all-filesystems --json; do
		grep -q -- "$opt" <<<"$output" || { echo "no $opt in --help" >&2; return 1; }
	done
	run "$VIGIL" help usage
	expect_eq status 0 "$status"
	expect_eq first "Usage: vigil usage [OPTION]..." "${lines[0]}"
	run "$VIGIL" --help
	grep -q '^  usage ' <<<"$output"
}
