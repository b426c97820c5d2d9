#!/usr/bin/env bats
# Promise 2: a rename is paired, the tree follows it in place, a directory
# moved out stops reporting, one moved in is watched.

load helpers

make_deep() { # make_deep ROOT: an 8-level tree ROOT/l1/.../l8
	mkdir -p "$1/l1/l2/l3/l4/l5/l6/l7/l8"
}

@test "renaming the top of an 8-level tree: the deepest level reports the new path" {
	make_deep "$W/top"
	start_vigil wait -m -r -e create,moved_from,moved_to --format '%w%f %e' .
	mv "$W/top" "$W/renamed"
	touch "$W/renamed/l1/l2/l3/l4/l5/l6/l7/l8/deep"
	wait_for_line "$OUT" 'deep CREATE'
	expect_eq "event at the deepest level" \
		"./renamed/l1/l2/l3/l4/l5/l6/l7/l8/deep CREATE" "$(grep deep "$OUT")"
	run grep -c '^\./top/' "$OUT"
	expect_eq "events under the old path" 0 "$output"
}

@test "renaming a middle level: every level below follows" {
	make_deep "$W/top"
	start_vigil wait -m -r -e create --format '%w%f' .
	mv "$W/top/l1/l2/l3" "$W/top/l1/l2/m3"
	touch "$W/top/l1/l2/m3/l4/x" "$W/top/l1/l2/m3/l4/l5/l6/l7/l8/y"
	wait_for_line "$OUT" '/y$'
	expect_eq events "./top/l1/l2/m3/l4/x
./top/l1/l2/m3/l4/l5/l6/l7/l8/y" "$(cat "$OUT")"
}

@test "moving a directory to another branch: paths follow" {
	mkdir -p "$W/a/sub/deeper" "$W/b"
	start_vigil wait -m -r -e create --format '%w%f' .
	mv "$W/a/sub" "$W/b/sub"
	touch "$W/b/sub/deeper/f"
	wait_for_line "$OUT" '/f$'
	expect_eq event "./b/sub/deeper/f" "$(cat "$OUT")"
}

@test "without --pair-moves both halves are reported, as inotifywait does" {
	touch "$W/old"
	start_vigil wait -m -e moved_from,moved_to .
	mv "$W/old" "$W/new"
	wait_for_line "$OUT" MOVED_TO
	expect_eq events "./ MOVED_FROM old
./ MOVED_TO new" "$(cat "$OUT")"
}

@test "--pair-moves: one MOVE event with the old path in %F" {
	mkdir "$W/d"
	touch "$W/old"
	start_vigil wait -m -r --pair-moves -e move --format '%e %F -> %w%f' .
	mv "$W/old" "$W/d/new"
	wait_for_line "$OUT" MOVE
	expect_eq event "MOVE ./old -> ./d/new" "$(cat "$OUT")"
}

@test "--pair-moves --json: a moved directory carries from" {
	command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
	mkdir "$W/d1"
	start_vigil wait -m -r --pair-moves --json -e move .
	mv "$W/d1" "$W/d2"
	wait_for_line "$OUT" d2
	python3 - "$OUT" <<'PY'
import json, sys
ev = json.loads(open(sys.argv[1]).readline())
assert ev["path"] == "./d2" and ev["from"] == "./d1", ev
assert ev["events"] == ["MOVE", "ISDIR"], ev
PY
}

@test "--pair-moves: a file moved out is a lone MOVED_FROM" {
	touch "$W/f"
	start_vigil wait -m --pair-moves -e move .
	mv "$W/f" "$TEST_DIR/f"
	wait_for_line "$OUT" MOVED_FROM
	expect_eq event "./ MOVED_FROM f" "$(cat "$OUT")"
}

@test "a directory moved out stops reporting and its watches are removed" {
	mkdir -p "$W/gone/sub"
	start_vigil wait -m -r -e create,moved_from --format '%w%f %e' .
	local before
	before=$(watch_count "$VIGIL_PID")
	mv "$W/gone" "$TEST_DIR/outside"
	touch "$TEST_DIR/outside/after" "$TEST_DIR/outside/sub/after"
	sentinel done
	expect_eq events "./gone MOVED_FROM,ISDIR
./done CREATE" "$(cat "$OUT")"
	wait_for_watches "$VIGIL_PID" $((before - 2))
}

@test "a directory moved in is watched, at every depth" {
	mkdir -p "$TEST_DIR/incoming/sub"
	start_vigil wait -m -r -e create --format '%w%f' .
	mv "$TEST_DIR/incoming" "$W/incoming"
	sentinel mark
	touch "$W/incoming/sub/later"
	wait_for_line "$OUT" later
	grep -qx './incoming/sub/later' "$OUT"
}

@test "renaming over an empty directory keeps the tree right" {
	mkdir -p "$W/src/inner" "$W/dst"
	start_vigil wait -m -r -e create --format '%w%f' .
	mv -T "$W/src" "$W/dst"
	touch "$W/dst/inner/f"
	wait_for_line "$OUT" '/f$'
	expect_eq event "./dst/inner/f" "$(cat "$OUT")"
}

@test "a directory moved out and straight back in under another name is watched" {
	mkdir -p "$W/a/b"
	start_vigil wait -m -r -e create --format '%w%f' .
	# both renames before vigil can decide the first was a move out
	perl -e 'rename("a", "../away") or die; open(my $f, ">", "../away/b/zz") or die;
		close($f); rename("../away", "back") or die;'
	mkdir "$W/back/b/new"
	touch "$W/back/b/new/file"
	wait_for_line "$OUT" 'new/file$'
	grep -qx './back/b/new/file' "$OUT"
	grep -qx './back/b/zz' "$OUT"
	run grep -c '^\./a/' "$OUT"
	expect_eq "events under the old name" 0 "$output"
	wait_for_watches "$VIGIL_PID" 4
}

# The next three freeze vigil (SIGSTOP) while the tree changes, so that it
# reads all the events only afterwards: what it finds on disk is then ahead
# of the events it is reading, deterministically.

@test "a directory made again in the slot of one moved out and deleted is watched" {
	mkdir -p "$W/n1/n2"
	start_vigil wait -m -r -e create --format '%w%f' .
	kill -STOP "$VIGIL_PID"
	mv "$W/n1" "$TEST_DIR/away"
	rm -rf "$TEST_DIR/away"
	mkdir "$W/n1"
	kill -CONT "$VIGIL_PID"
	sentinel mark
	touch "$W/n1/inside"
	wait_for_line "$OUT" 'n1/inside$'
	wait_for_watches "$VIGIL_PID" 2
}

@test "a directory created just before its parent is renamed is watched" {
	mkdir "$W/p"
	start_vigil wait -m -r -e create --format '%w%f' .
	kill -STOP "$VIGIL_PID"
	perl -e 'mkdir "p/child" or die; rename("p", "renamed") or die'
	kill -CONT "$VIGIL_PID"
	sentinel mark
	touch "$W/renamed/child/later"
	wait_for_line "$OUT" 'later$'
	grep -qx './renamed/child/later' "$OUT"
}

@test "a watched directory moved into a directory not watched yet stays watched" {
	mkdir -p "$W/x/inner"
	start_vigil wait -m -r -e create --format '%w%f' .
	kill -STOP "$VIGIL_PID"
	# d is not watched yet when x moves in: the kernel sends no MOVED_TO
	perl -e 'mkdir "d" or die; rename("x", "d/x") or die'
	kill -CONT "$VIGIL_PID"
	sentinel mark
	touch "$W/d/x/inner/later"
	wait_for_line "$OUT" 'later$'
	grep -qx './d/x/inner/later' "$OUT"
	wait_for_watches "$VIGIL_PID" 4
}
