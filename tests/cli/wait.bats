#!/usr/bin/env bats
# vigil wait: the command line, output formats and exit codes.

load helpers

@test "vigil --help lists the wait command" {
	run "$VIGIL" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"wait"* ]]
}

@test "vigil --version prints the version" {
	run "$VIGIL" --version
	[ "$status" -eq 0 ]
	# the release, and in a build from git the commit (scripts/version-string)
	[[ "$output" =~ ^vigil\ [0-9]+\.[0-9]+\.[0-9]+(\+g[0-9a-f]{12}(\.dirty)?)?$ ]]
}

@test "vigil help wait shows the wait options" {
	run "$VIGIL" help wait
	[ "$status" -eq 0 ]
	[[ "$output" == *"--monitor"* ]]
	[[ "$output" == *"--recursive"* ]]
}

@test "an unknown command is one clear line and exit 1" {
	run "$VIGIL" frobnicate
	[ "$status" -eq 1 ]
	expect_eq message "vigil: 'frobnicate' is not a vigil command; see 'vigil --help'" "$output"
}

@test "no files to watch is an error" {
	run "$VIGIL" wait
	[ "$status" -eq 1 ]
	[[ "$output" == "vigil wait: no files specified to watch"* ]]
}

@test "a path that does not exist is one line naming it, exit 1" {
	run "$VIGIL" wait "$W/nope"
	[ "$status" -eq 1 ]
	[[ "${lines[-1]}" == "vigil wait: cannot watch '$W/nope': no such file or directory" ]]
}

@test "an unknown event name is refused" {
	run "$VIGIL" wait -e create,bogus .
	[ "$status" -eq 1 ]
	[[ "$output" == *"'bogus' is not a valid event"* ]]
}

@test "a bad timeout is refused" {
	run "$VIGIL" wait -t abc .
	[ "$status" -eq 1 ]
	[[ "$output" == *"'abc' is not a valid timeout"* ]]
}

@test "an unknown option is refused" {
	run "$VIGIL" wait --bogus .
	[ "$status" -eq 1 ]
	[[ "$output" == *"unrecognized option"* ]]
}

@test "-t: no event within the timeout exits 2" {
	run "$VIGIL" wait -q -t 0.2 .
	expect_eq status 2 "$status"
}

@test "-t with a negative value sets up the watches and exits 0" {
	run "$VIGIL" wait -t -1 -r .
	expect_eq status 0 "$status"
	[[ "$output" == *"Watches established."* ]]
}

@test "without -m: the first event is printed and the exit status is 0" {
	start_vigil wait -e create .
	touch "$W/new file"
	wait_vigil
	expect_eq status 0 "$status"
	expect_eq line "./ CREATE new file" "$(cat "$OUT")"
}

@test "without -m: the watched file going away is exit 1" {
	touch "$W/f"
	start_vigil wait -e modify "$W/f"
	rm "$W/f"
	wait_vigil
	expect_eq status 1 "$status"
}

@test "default output is '%w %e %f' with comma-separated events" {
	start_vigil wait -m -e create,close_write .
	mkdir "$W/d"
	echo x >"$W/f"
	wait_for_line "$OUT" 'CLOSE_WRITE'
	expect_eq output "./ CREATE,ISDIR d
./ CREATE f
./ CLOSE_WRITE,CLOSE f" "$(cat "$OUT")"
}

@test "an event on the watched directory itself has an empty name" {
	mkdir "$W/d"
	start_vigil wait -m -e attrib d
	chmod 700 "$W/d"
	wait_for_line "$OUT" ATTRIB
	expect_eq line "d/ ATTRIB,ISDIR " "$(cat "$OUT")"
}

@test "--format: %w %f %e %Xe %c %% and unknown specifiers" {
	start_vigil wait -m -e moved_from --format '[%w|%f|%e|%:e|%c|%%|%q]' .
	touch "$W/a"
	mv "$W/a" "$W/b"
	wait_for_line "$OUT" 'MOVED_FROM'
	[[ "$(cat "$OUT")" =~ ^\[\./\|a\|MOVED_FROM\|MOVED_FROM\|[1-9a-f][0-9a-f]*\|%\|%q\]$ ]]
}

@test "--format: %Xe joins several events with X" {
	start_vigil wait -m -e close_write --format '%w%f %;e' .
	echo x >"$W/f"
	wait_for_line "$OUT" 'CLOSE'
	expect_eq line "./f CLOSE_WRITE;CLOSE" "$(cat "$OUT")"
}

@test "--format: %T uses --timefmt" {
	start_vigil wait -m -e create --format '%T %f' --timefmt '%Y' .
	touch "$W/f"
	wait_for_line "$OUT" ' f$'
	expect_eq line "$(date +%Y) f" "$(cat "$OUT")"
}

@test "--format with %T but no --timefmt is refused" {
	run "$VIGIL" wait --format '%T' .
	[ "$status" -eq 1 ]
	[[ "$output" == "vigil wait: '%T' in '--format' needs '--timefmt'" ]]
}

@test "--format: %0 and %n write NUL and newline; --no-newline drops the line end" {
	start_vigil wait -m -e create --format '%f%0' --no-newline .
	touch "$W/a" "$W/b"
	sentinel s
	expect_eq bytes "$(printf 'a\0b\0s\0' | od -An -c)" "$(od -An -c "$OUT")"
}

@test "-c: CSV quotes fields with commas, quotes and edge spaces" {
	start_vigil wait -m -c -e create .
	touch "$W/a,b" "$W/say \"hi\"" "$W/ lead" "$W/plain"
	sentinel plain2
	expect_eq csv './,CREATE,"a,b"
./,CREATE,"say ""hi"""
./,CREATE," lead"
./,CREATE,plain
./,CREATE,plain2' "$(cat "$OUT")"
}

@test "--json: one valid object per event, names round-trip, invalid UTF-8 as \\udcXX" {
	command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
	start_vigil wait -m --json -e create .
	touch "$W/$(printf 'caf\xc3\xa9')" "$W/$(printf 'bad\xff\xfe')" "$W/$(printf 'nl\nx')" "$W/q\"b\\"
	sentinel last
	json_names_are_listing "$OUT" "$W"
	python3 - "$OUT" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    ev = json.loads(line)
    assert ev["dir"] == "./" and ev["events"] == ["CREATE"], ev
    assert ev["synthetic"] is False and "time" in ev and "cookie" in ev, ev
PY
	grep -q '"name":"bad\\udcff\\udcfe"' "$OUT"
}

@test "output reaches a pipe at once, not when a buffer fills" {
	mkfifo "$TEST_DIR/pipe"
	"$VIGIL" wait -m -e create . >"$TEST_DIR/pipe" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	exec 4<"$TEST_DIR/pipe"
	wait_for_line "$ERR" 'Watches established'
	touch "$W/one"
	read -r -t 10 line <&4
	exec 4<&-
	expect_eq line "./ CREATE one" "$line"
}

@test "invoked as inotifywait (symlink or hard link), vigil is inotifywait" {
	mkdir "$TEST_DIR/sym" "$TEST_DIR/hard"
	ln -s "$VIGIL" "$TEST_DIR/sym/inotifywait"
	# a hard link where the file system allows, else a copy: both are
	# "the same program under another name"
	ln "$VIGIL" "$TEST_DIR/hard/inotifywait" 2>/dev/null ||
		cp "$VIGIL" "$TEST_DIR/hard/inotifywait"
	local bin
	for bin in "$TEST_DIR/sym/inotifywait" "$TEST_DIR/hard/inotifywait"; do
		run "$bin" --help
		[ "$status" -eq 0 ]
		[[ "$output" == "Usage: inotifywait "* ]]
		run "$bin"
		expect_eq "no files, from $bin" "No files specified to watch!" "$output"
	done
}

@test "--debug-watches prints every watch, the path vigil has for it, and the kernel's inode" {
	mkdir -p "$W/a/b" "$W/c"
	run "$VIGIL" wait -r -t -1 -q --debug-watches .
	expect_eq status 0 "$status"
	local view kernel
	view=$(printf '%s\n' "$output" | grep -v '^kernel ')
	kernel=$(printf '%s\n' "$output" | grep '^kernel ')
	expect_eq watches ". ./a ./a/b ./c" "$(printf '%s\n' "$view" | cut -d' ' -f2- | sort | tr '\n' ' ' | sed 's/ $//')"
	[[ "${lines[0]}" =~ ^[0-9]+\ \. ]]
	# the kernel's lines: the same watches, each on the inode at vigil's path
	expect_eq "kernel lines" 4 "$(printf '%s\n' "$kernel" | wc -l)"
	local wd path ino
	while read -r wd path; do
		ino=$(printf '%s\n' "$kernel" | awk -v w="$(printf '%x' "$wd")" '$2 == w { print $3 }')
		expect_eq "inode of $path" "$(printf '%x' "$(stat -c %i "$W/$path")")" "$ino"
	done <<<"$view"
}

# kernel_masks PID: the masks (hex) of every watch PID holds, one per line.
kernel_masks() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		if [ "$(readlink "$fd")" = "anon_inode:inotify" ]; then
			sed -n 's/^inotify wd:.* mask:\([0-9a-f]*\) .*/\1/p' /proc/"$1"/fdinfo/"${fd##*/}"
		fi
	done
}

@test "the kernel is asked only for what -e needs: -e close_write has no OPEN, ACCESS or MODIFY" {
	mkdir -p "$W/a/b"
	start_vigil wait -m -r -e close_write .
	wait_for_watches "$VIGIL_PID" 3
	local m
	for m in $(kernel_masks "$VIGIL_PID"); do
		# IN_ACCESS 0x1, IN_MODIFY 0x2, IN_OPEN 0x20, IN_CLOSE_NOWRITE 0x10
		expect_eq "mask 0x$m & (ACCESS|MODIFY|CLOSE_NOWRITE|OPEN)" 0 $((0x$m & 0x33))
		expect_eq "mask 0x$m & CLOSE_WRITE" 8 $((0x$m & 0x8))
	done
	# and a watch without -r asks for nothing else at all
	stop_vigil
	start_vigil wait -m -e close_write .
	wait_for_watches "$VIGIL_PID" 1
	expect_eq "non-recursive mask" 8 "$(( 0x$(kernel_masks "$VIGIL_PID") & 0xfff ))"
}
