#!/usr/bin/env bats
# Shared and network folders: on a FUSE mount (bindfs over a directory the
# test changes directly, behind the mount's back, as another machine
# would), inotify sees nothing, and vigil, which polls there, sees it all.
# "Within two intervals" is checked on what vigil recorded: each event's
# time against the ctime the change left on the disk.

load helpers
load run_helpers

PY=/usr/bin/python3

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-poll.XXXXXX")
	SRC=$TEST_DIR/src  # "the other machine's" side: changed directly
	W=$TEST_DIR/mnt    # the mount vigil watches
	OUT=$TEST_DIR/out
	ERR=$TEST_DIR/err
	export LOG=$TEST_DIR/log
	: >"$LOG"
	mkdir "$SRC" "$W"
	VIGIL_PID=
	MOUNTED=
	[ -e /dev/fuse ] || skip "no /dev/fuse: FUSE is not available here"
	command -v bindfs >/dev/null || skip "bindfs is not installed (apt-get install bindfs fuse3)"
	bindfs --no-allow-other "$SRC" "$W" 2>"$TEST_DIR/bindfs.err" ||
		skip "bindfs cannot mount here: $(cat "$TEST_DIR/bindfs.err")"
	MOUNTED=1
	cd "$TEST_DIR" || return 1
}

teardown() {
	stop_vigil
	end_test_processes
	cd /
	if [ -n "$MOUNTED" ]; then
		fusermount -u "$W" 2>/dev/null || umount -l "$W" 2>/dev/null || true
	fi
	rm -rf "$TEST_DIR"
}

# ctime_ns PATH: the ctime of PATH (not followed), in nanoseconds
ctime_ns() {
	"$PY" -c 'import os, sys; print(os.lstat(sys.argv[1]).st_ctime_ns)' "$1"
}

# within OUT PATH EVENT SINCE_NS LIMIT_S [N]: the first (or Nth) --json
# event on PATH with EVENT in OUT was recorded at most LIMIT_S seconds after
# SINCE_NS, and is flagged polled.
within() {
	"$PY" - "$@" <<'EOF'
import json, sys, datetime
out, path, event, since, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
nth = int(sys.argv[6]) if len(sys.argv) > 6 else 1
for line in open(out):
    e = json.loads(line)
    if e["path"] != path or event not in e["events"]:
        continue
    nth -= 1
    if nth:
        continue
    t = e["time"]
    whole, frac = t[:-1].split(".")
    secs = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    ns = int(secs) * 10**9 + int(frac.ljust(9, "0"))
    late = (ns - since) / 1e9
    if not e.get("polled"):
        sys.exit(f"{path} {event}: not flagged polled: {line}")
    if late > limit:
        sys.exit(f"{path} {event}: recorded {late:.3f}s after the change; at most {limit}s expected")
    sys.exit(0)
sys.exit(f"{path} {event}: no such event in {out}")
EOF
}

# events_at_least N PATH EVENT: whether $OUT holds N events EVENT on PATH
events_at_least() {
	[ "$(grep -c "\"path\":\"$2\".*\"$3\"" "$OUT")" -ge "$1" ]
}

# log_lines_at_least N: whether $LOG has N lines (a job each)
log_lines_at_least() {
	[ "$(wc -l <"$LOG")" -ge "$1" ]
}

# the default interval: "within two intervals" is 4 s of what vigil recorded
IV=2

@test "a polled mount: a file created, appended, closed, renamed and deleted behind its back, each within two intervals" {
	start_vigil wait -m -r --json "$W"
	grep -q "polling '$W' (fuse" "$ERR"
	# inotify there sees none of it (--backend inotify, beside it)
	"$VIGIL" wait -m -r --backend inotify --json -e create,modify,attrib,close_write,move,delete "$W" >"$TEST_DIR/ino.out" 2>"$TEST_DIR/ino.err" 3>&- &
	local ino=$!
	wait_for_line "$TEST_DIR/ino.err" 'Watches established' 20

	printf 'first\n' >"$SRC/f"
	local t; t=$(ctime_ns "$SRC/f")
	wait_for_line "$OUT" '"path":"[^"]*/mnt/f".*"CREATE"' 20
	within "$OUT" "$W/f" CREATE "$t" $((2 * IV))

	printf 'second\n' >>"$SRC/f"
	t=$(ctime_ns "$SRC/f")
	# the second MODIFY (the first came with the create)
	until_true 20 events_at_least 2 "$W/f" MODIFY
	within "$OUT" "$W/f" MODIFY "$t" $((2 * IV)) 2

	# closed: no change for an interval
	wait_for_line "$OUT" '"path":"[^"]*/mnt/f".*"CLOSE_WRITE"' 20
	within "$OUT" "$W/f" CLOSE_WRITE "$t" $((2 * IV))

	mv "$SRC/f" "$SRC/g"
	t=$(ctime_ns "$SRC/g")
	wait_for_line "$OUT" '"path":"[^"]*/mnt/g".*"MOVED_TO"' 20
	within "$OUT" "$W/f" MOVED_FROM "$t" $((2 * IV))
	within "$OUT" "$W/g" MOVED_TO "$t" $((2 * IV))
	# one rename: both halves share one cookie
	"$PY" - "$OUT" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
c = {e["cookie"] for e in ev if "MOVED_FROM" in e["events"] or "MOVED_TO" in e["events"]}
sys.exit(0 if len(c) == 1 and 0 not in c else f"cookies: {c}")
EOF

	rm "$SRC/g"
	t=$(ctime_ns "$SRC")
	wait_for_line "$OUT" '"path":"[^"]*/mnt/g".*"DELETE"' 20
	within "$OUT" "$W/g" DELETE "$t" $((2 * IV))

	# what inotify saw meanwhile: nothing (a change through the mount,
	# which it does see, marks the end)
	: >"$W/through-the-mount"
	wait_for_line "$TEST_DIR/ino.out" 'through-the-mount' 20
	kill "$ino"
	wait "$ino" || true
	run grep -c -v 'through-the-mount' "$TEST_DIR/ino.out"
	expect_eq "events inotify saw of the changes made behind the mount" 0 "$output"
}

@test "a polled mount: a file that stops changing is closed about one interval after its last write, not two" {
	# 4s: what a loaded machine adds to a tick is small beside it
	start_vigil wait -m -r --json --poll-interval 4s "$W"
	# the directory has just been polled when MARK is reported: a file
	# written now is found only by the next poll, most of an interval on
	: >"$SRC/mark"
	wait_for_line "$OUT" '"path":"[^"]*/mnt/mark".*"CREATE"' 30
	printf 'data\n' >"$SRC/f"
	local t; t=$(ctime_ns "$SRC/f")
	wait_for_line "$OUT" '"path":"[^"]*/mnt/f".*"CLOSE_WRITE"' 30
	# found late, it is stat'ed again on its own an interval after its
	# write; the directory's next turn would be close to two intervals
	within "$OUT" "$W/f" CLOSE_WRITE "$t" 6
	# and not closed before it had an interval's quiet
	run "$PY" - "$OUT" "$W/f" "$t" <<'EOF2'
import json, sys, datetime
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["path"] == sys.argv[2] and "CLOSE_WRITE" in e["events"]:
        whole, frac = e["time"][:-1].split(".")
        secs = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        ns = int(secs) * 10**9 + int(frac.ljust(9, "0"))
        print(f"{(ns - int(sys.argv[3])) / 1e9:.3f}")
        break
EOF2
	"$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 3.9 else f"closed {sys.argv[1]}s after its write: before an interval of quiet")' "$output"
}

@test "a polled mount: a directory created with files in it is reported whole, within two intervals" {
	start_vigil wait -m -r --json "$W"
	mkdir -p "$SRC/new/deeper"
	printf 'a\n' >"$SRC/new/a"
	printf 'b\n' >"$SRC/new/deeper/b"
	local t; t=$(ctime_ns "$SRC")
	wait_for_line "$OUT" '"path":"[^"]*/mnt/new/deeper/b"' 20
	within "$OUT" "$W/new" CREATE "$t" $((2 * IV))
	within "$OUT" "$W/new/a" CREATE "$t" $((2 * IV))
	within "$OUT" "$W/new/deeper" CREATE "$t" $((2 * IV))
	within "$OUT" "$W/new/deeper/b" CREATE "$t" $((2 * IV))
	# each once
	run "$PY" -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["path"] for l in open(sys.argv[1])
                        if "CREATE" in json.loads(l)["events"])
print(" ".join(f"{p}:{n}" for p, n in sorted(c.items()) if n != 1))' "$OUT"
	expect_eq "paths created more than once" "" "$output"
}

@test "a polled mount: a tree renamed is one rename, and what happens in it later has the new path" {
	mkdir -p "$SRC/tree/sub"
	printf 'x\n' >"$SRC/tree/sub/x"
	start_vigil wait -m -r --json "$W"
	mv "$SRC/tree" "$SRC/renamed"
	local t; t=$(ctime_ns "$SRC/renamed")
	wait_for_line "$OUT" '"path":"[^"]*/mnt/renamed".*"MOVED_TO"' 20
	within "$OUT" "$W/tree" MOVED_FROM "$t" $((2 * IV))
	within "$OUT" "$W/renamed" MOVED_TO "$t" $((2 * IV))
	printf 'y\n' >"$SRC/renamed/sub/y"
	wait_for_line "$OUT" '"path":"[^"]*/mnt/renamed/sub/y".*"CREATE"' 20
	run grep -c '"path":"[^"]*/mnt/tree/sub' "$OUT"
	expect_eq "events under the old path" 0 "$output"
}

@test "a tree spanning a local directory and a mount: inotify on one, polling on the other, both report" {
	local top=$TEST_DIR/top
	mkdir -p "$top/local"
	fusermount -u "$W"
	MOUNTED=
	W=$top/mnt
	mkdir "$W"
	bindfs --no-allow-other "$SRC" "$W"
	MOUNTED=1
	start_vigil wait -m -r --json "$top"
	grep -q "polling '$W'" "$ERR"
	: >"$top/local/here"
	: >"$SRC/there"
	wait_for_line "$OUT" '"path":"[^"]*/top/local/here".*"CREATE"' 20
	wait_for_line "$OUT" '"path":"[^"]*/top/mnt/there".*"CREATE"' 20
	grep '/top/local/here' "$OUT" | grep -v -q '"polled"'
	grep '/top/mnt/there' "$OUT" | grep -q '"polled":true'
	# only the mount is polled: one polled directory, the rest inotify's
	run grep -c 'polling' "$ERR"
	expect_eq "polled mounts said" 1 "$output"
}

@test "vigil run on a polled mount: each of 1,000 files dropped behind its back runs once, when complete" {
	start_run "$W" --loop-burst 10000 -- sh -c 'printf "%s %s\n" "$1" "$(wc -c <"$1")" >>"$LOG"' sh {}
	# a few written slowly, in pieces closer together than an interval
	local writers=()
	for i in 1 2 3; do
		(for k in 1 2 3 4 5 6 7 8; do printf '0123456789' >>"$SRC/slow$i"; sleep 0.3; done) 3>&- &
		writers+=($!)
	done
	for i in $(seq 1000); do printf 'file %s\n' "$i" >"$SRC/f$i"; done
	wait "${writers[@]}"
	until_true 120 log_lines_at_least 1003
	# once more round: nothing else comes
	: >"$SRC/sentinel"
	until_true 30 grep -q '/sentinel ' "$LOG"
	run "$PY" - "$LOG" "$SRC" <<'EOF'
import os, sys, collections
log, src = sys.argv[1], sys.argv[2]
seen = collections.Counter()
bad = []
for line in open(log):
    path, size = line.rsplit(" ", 1)
    name = os.path.basename(path)
    seen[name] += 1
    want = os.path.getsize(os.path.join(src, name))
    if int(size) != want:
        bad.append(f"{name}: run at {size.strip()} bytes of {want}")
names = [f"f{i}" for i in range(1, 1001)] + ["slow1", "slow2", "slow3", "sentinel"]
bad += [f"{n}: {seen[n]} runs" for n in names if seen[n] != 1]
bad += [f"{n}: not dropped" for n in seen if n not in names]
print("\n".join(bad[:20]))
EOF
	expect_eq "files not run exactly once, complete" "" "$output"
}

@test "--backend inotify on a polled mount warns, and sees only what this machine does there" {
	start_vigil wait -m --backend inotify "$W"
	grep -q "warning: '$W' is a fuse mount (from $SRC): inotify cannot see what other machines change there; give '--backend auto' to poll it" "$ERR"
	: >"$SRC/behind"
	: >"$W/through"
	wait_for_line "$OUT" 'through' 20
	run grep -c behind "$OUT"
	expect_eq "events on what changed behind the mount" 0 "$output"
}

@test "inotifywait on a polled mount behaves as inotifywait does, with the warning" {
	local ref
	ref=$(command -v inotifywait) || skip "inotifywait is not installed"
	mkdir -p "$TEST_DIR/bin"
	ln -s "$VIGIL" "$TEST_DIR/bin/inotifywait"
	: >"$ERR"
	(cd "$W" && exec "$TEST_DIR/bin/inotifywait" -m .) >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	(cd "$W" && exec "$ref" -m .) >"$TEST_DIR/ref.out" 2>"$TEST_DIR/ref.err" 3>&- &
	local refpid=$!
	wait_for_line "$ERR" 'Watches established' 20
	wait_for_line "$TEST_DIR/ref.err" 'Watches established' 20
	: >"$SRC/behind"
	: >"$W/through"
	wait_for_line "$OUT" 'through' 20
	wait_for_line "$TEST_DIR/ref.out" 'through' 20
	: >"$W/last"
	wait_for_line "$OUT" 'CLOSE_WRITE,CLOSE last' 20
	wait_for_line "$TEST_DIR/ref.out" 'CLOSE_WRITE,CLOSE last' 20
	kill "$refpid"
	wait "$refpid" || true
	stop_vigil
	run diff "$TEST_DIR/ref.out" "$OUT"
	expect_eq "inotifywait's output against vigil's under its name" "" "$output"
	grep -q "^inotifywait: warning: '$W' is a fuse mount (from $SRC): inotify cannot see what other machines change there$" "$ERR"
	# inotifywait's own lines, and the warning, and nothing else
	run grep -v -c -e '^Setting up watches\.$' -e '^Watches established\.$' -e '^inotifywait: warning: ' "$ERR"
	expect_eq "other lines on stderr" 0 "$output"
}

@test "--poll-interval 0, a negative one, or one that is not a duration is one clear line" {
	run "$VIGIL" wait --poll-interval 0 "$W"
	expect_eq "status" 1 "$status"
	expect_eq "message" "vigil wait: '--poll-interval': '0' is zero; give 1ms or more, such as 2s" "$output"
	run "$VIGIL" stats --poll-interval -2s "$W"
	expect_eq "status" 1 "$status"
	expect_eq "message" "vigil stats: '--poll-interval': '-2s' is negative; give a positive duration such as 2s or 500ms" "$output"
	run "$VIGIL" wait --poll-interval soon "$W"
	expect_eq "status" 1 "$status"
	expect_eq "message" "vigil wait: '--poll-interval': 'soon' is not a valid duration; give 500ms, 2s, 1.5m or 1h" "$output"
	run "$VIGIL" wait --backend nfs "$W"
	expect_eq "status" 1 "$status"
	expect_eq "message" "vigil wait: 'nfs' is not a backend; give auto, inotify, poll, fanotify, filesystem or mount" "$output"
}

@test "a polled mount unmounted lazily while watched ends in one clear line" {
	start_vigil wait -m -r --poll-interval 1s "$W"
	umount -l "$W"
	MOUNTED=
	wait_vigil
	expect_eq "status" 1 "$status"
	grep -q "^vigil wait: '$W' was unmounted while polled; its watches are gone$" "$ERR"
	grep -q "^vigil wait: nothing left to watch$" "$ERR"
}

@test "vigil run: --backend and --poll-interval, and the same as rules-file keys" {
	run "$VIGIL" run --poll-interval 0 "$W" -- true
	expect_eq "status" 1 "$status"
	expect_eq "message" "vigil run: '--poll-interval': '0' is zero; give 1ms or more, such as 2s" "$output"
	printf '[r]\npath = %s\npoll-interval = -1s\ncommand = true\n' "$W" >"$TEST_DIR/bad.ini"
	chmod 0644 "$TEST_DIR/bad.ini"
	run "$VIGIL" run --check "$TEST_DIR/bad.ini"
	expect_eq "status" 1 "$status"
	[[ "$output" == *"poll-interval"*"'-1s' is negative; give a positive duration such as 2s or 500ms"* ]]

	printf '[r]\npath = %s\nbackend = inotify\ncommand = true\n' "$W" >"$TEST_DIR/ino.ini"
	chmod 0644 "$TEST_DIR/ino.ini"
	start_run --rules "$TEST_DIR/ino.ini"
	grep -q "\[r\] warning: '$W' is a fuse mount (from $SRC): inotify cannot see what other machines change there; give '--backend auto' to poll it" "$ERR"
	stop_vigil

	printf '[r]\npath = %s\npoll-interval = 500ms\ncommand = sh -c '\''echo "$1" >>"$LOG"'\'' sh {}\n' "$W" >"$TEST_DIR/poll.ini"
	chmod 0644 "$TEST_DIR/poll.ini"
	start_run --rules "$TEST_DIR/poll.ini"
	grep -q "\[r\] polling '$W' (fuse from $SRC) every 500ms" "$ERR"
	printf 'x\n' >"$SRC/dropped"
	until_true 20 grep -q dropped "$LOG"
}

@test "vigil usage lists the blind mounts under watch: inotify's watches there, and the directories vigil polls" {
	mkdir -p "$SRC/a/b" "$SRC/c"
	start_vigil wait -m -r "$W"
	"$VIGIL" wait -m -r --backend inotify "$W" >/dev/null 2>"$TEST_DIR/ino.err" 3>&- &
	local ino=$!
	wait_for_line "$TEST_DIR/ino.err" 'Watches established' 20
	# the census is published once the poller has read (its first tick)
	local end=$((SECONDS + 20))
	until "$VIGIL" usage --json >"$TEST_DIR/usage.json" 2>/dev/null &&
		grep -q '"polled": 4' "$TEST_DIR/usage.json"; do
		[ $SECONDS -lt $end ] || break
		sleep 0.2
	done
	"$VIGIL" usage >"$TEST_DIR/usage.txt" 2>/dev/null
	kill "$ino"
	wait "$ino" || true
	run "$PY" - "$TEST_DIR/usage.json" "$W" "$SRC" <<'EOF'
import json, sys
u = json.load(open(sys.argv[1]))
m = [b for b in u["blind_mounts"] if b["mount"] == sys.argv[2]]
if len(m) != 1:
    sys.exit(f"blind mounts: {u['blind_mounts']}")
b = m[0]
want = {"fstype": "fuse", "source": sys.argv[3], "polled": 4, "inotify_watches": 4}
bad = {k: (b[k], v) for k, v in want.items() if b[k] != v}
sys.exit(f"(have, want): {bad}" if bad else 0)
EOF
	expect_eq "vigil usage --json on the mount" "" "$output"
	grep -q "^Mounts where inotify cannot see other machines' changes:$" "$TEST_DIR/usage.txt"
	grep -E -q "^$W +fuse +4 +4 +$SRC\$" "$TEST_DIR/usage.txt"
}
