#!/usr/bin/env bats
# vigil wait against the real inotifywait, side by side: the same options,
# the same file operations, the same bytes out. Where the two differ on
# purpose, the test says which documented improvement it is and checks it.

load helpers
load compat

setup_file() {
	command -v inotifywait >/dev/null ||
		echo "# inotifywait is not installed: the side-by-side tests skip" >&3
}

# With -m, the tools run with -t 3: three idle seconds end each. Both must
# outlive the start of the other and the test's first change on a loaded
# machine (with -t 1, inotifywait had gone before the changes came, now
# and then).

setup() {
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-compat.XXXXXX")
	cd "$TEST_DIR" || return 1
	require_reference inotifywait
}

teardown() {
	teardown_side_by_side
	end_test_processes
	cd / && rm -rf "$TEST_DIR"
}

# The tree most cases start from.
tree() {
	mkdir -p d/sub/deep d/other
	echo one >d/file
	echo two >d/sub/inner
	echo three >d/sub/deep/bottom
}

# A little of everything, in d/ itself.
flat_ops() {
	echo more >>d/file
	chmod 600 d/file
	cat d/file >/dev/null
	: >d/new
	mv d/new d/renamed
	ln -s file d/link
	mkdir d/newdir
	rmdir d/newdir
	rm d/renamed d/link
}

# Changes below d/, in directories that were there from the start, so
# that inotifywait's own race does not enter the comparison.
deep_ops() {
	echo more >>d/sub/inner
	: >d/sub/deep/made
	mv d/sub/deep/made d/other/moved
	mv d/sub/inner d/sub/inner2
	rm d/other/moved
	mv d/other d/other2
	: >d/other2/after-rename
	chmod 700 d/sub/deep
	rm -r d/sub/deep
}

# Names that need care: spaces (inside and at the ends), commas, quotes,
# a newline, a backslash, invalid UTF-8, a leading dash.
odd_names() {
	local n
	for n in 'a b' ' lead' 'trail ' 'com,ma' 'quo"te' "it's" $'new\nline' \
		'back\slash' $'\xff\xfe bytes' '-dash' 'ünï'; do
		: >"d/$n"
		rm "d/$n"
	done
}

@test "default output, one directory: every kind of event as inotifywait prints it" {
	in_both tree
	side_by_side -- -m -t 3 d
	in_both flat_ops
	finish
	same
}

@test "-r on an existing tree: changes at every depth, renames of files and directories" {
	in_both tree
	side_by_side -- -m -r -t 3 d
	in_both deep_ops
	finish
	same
}

@test "-r: a directory made later is watched (with inotifywait's own listing of it)" {
	in_both tree
	# (-t 10: the tools must outlast the waits for their watches)
	side_by_side -- -m -r -t 10 d
	in_both mkdir d/late
	# once both have put a watch on it, a change inside is seen by both
	wait_for_watches "$REF_PID" 5
	wait_for_watches "$VIG_PID" 5
	in_both touch d/late/inside
	finish
	same
}

@test "names with spaces, commas, quotes, newlines and invalid UTF-8: default output" {
	in_both tree
	side_by_side -- -m -t 3 -e create,delete d
	in_both odd_names
	finish
	same
}

@test "names with spaces, commas, quotes, newlines and invalid UTF-8: --csv" {
	in_both tree
	side_by_side -- -m -t 3 -c -e create,delete d
	in_both odd_names
	finish
	same
}

@test "--csv on an existing tree, all events" {
	in_both tree
	side_by_side -- -m -r -t 3 --csv d
	in_both deep_ops
	finish
	same
}

@test "--format with %w %f %e %:e %c and literal text" {
	in_both tree
	side_by_side -- -m -r -t 3 --format '[%w][%f][%e][%:e] c=%c' d
	in_both deep_ops
	finish
	number_cookies
	same
}

@test "--format with %T and --timefmt" {
	in_both tree
	side_by_side -- -m -t 3 --timefmt '%Y' --format '%T %f %e' d
	in_both flat_ops
	finish
	same
}

@test "--format with %0 and --no-newline, odd names" {
	in_both tree
	side_by_side -- -m -t 3 -e create --format '%w%f%0' --no-newline d
	in_both odd_names
	finish
	same
}

@test "--format with %n, %% and unknown specifiers passed through" {
	in_both tree
	side_by_side -- -m -t 3 -e close_write --format '%f%n%%%q%z%' d
	in_both flat_ops
	finish
	same
}

@test "-e lists: repeated, comma-separated, mixed case" {
	in_both tree
	side_by_side -- -m -r -t 3 -e MODIFY,Close_Write -e moved_to -e delete d
	in_both deep_ops
	finish
	same
}

@test "-e move and -e close stand for both halves" {
	in_both tree
	side_by_side -- -m -r -t 3 -e move -e close d
	in_both deep_ops
	finish
	same
}

@test "-e on a single file watched directly" {
	in_both tree
	side_by_side -- -m -t 3 -e modify,attrib,close_write,delete_self d/file
	in_both sh -c 'echo x >>d/file; chmod 640 d/file; rm d/file'
	finish
	same
}

@test "without -m: the first event, exit 0" {
	in_both tree
	side_by_side -- d
	in_both touch d/file
	finish
	same
}

@test "without -m: an event not asked for (the file deleted) is exit 1 and no line" {
	in_both tree
	side_by_side -- -e modify d/file
	in_both rm d/file
	finish
	same
}

@test "-t: no event in time is exit 2" {
	in_both tree
	side_by_side -- -t 1 d
	finish
	same
}

@test "-t with -m: exits 2 a second after the last event" {
	in_both tree
	side_by_side -- -m -t 3 -e create d
	in_both touch d/one d/two
	finish
	same
}

@test "-q: no set-up lines, events still printed" {
	in_both tree
	side_by_side --quiet 1 -- -q -m -t 3 d
	in_both flat_ops
	finish
	same
}

@test "-qq: nothing at all on stdout or stderr" {
	in_both tree
	side_by_side --quiet 1 -- -qq -m -t 3 d
	in_both flat_ops
	finish
	same
	[ ! -s "$TEST_DIR/vig.out" ] && [ ! -s "$TEST_DIR/vig.err" ]
}

@test "-o: events go to the file, appended" {
	in_both tree
	in_both sh -c 'echo earlier >log'
	side_by_side -- -m -t 3 -o log -e create d
	in_both touch d/x d/y
	finish
	same
	cmp "$TEST_DIR/ref/log" "$TEST_DIR/vig/log"
	expect_eq mode "$(stat -c %a "$TEST_DIR/ref/log")" "$(stat -c %a "$TEST_DIR/vig/log")"
}

@test "@PATH: an excluded subtree reports nothing" {
	in_both tree
	side_by_side -- -m -r -t 3 d @d/sub
	in_both deep_ops
	finish
	same
}

@test "--fromfile: paths one per line, @ lines excluded" {
	in_both tree
	in_both sh -c 'printf "%s\n" d/sub @d/sub/deep d/other >list'
	side_by_side -- -m -r -t 3 --fromfile list
	in_both deep_ops
	finish
	# see "improvement: an @PATH is not reported on either"
	same_output err
	expect_eq "rest" "$(grep -v ' deep$' "$TEST_DIR/ref.out")" "$(cat "$TEST_DIR/vig.out")"
}

@test "--fromfile -: the list on stdin" {
	in_both tree
	printf '%s\n' d/sub d/file >"$TEST_DIR/list"
	side_by_side --stdin "$TEST_DIR/list" -- -m -t 3 --fromfile -
	in_both sh -c 'echo x >>d/file; : >d/sub/n'
	finish
	same
}

@test "--exclude: one regex, on files and on directories" {
	in_both tree
	side_by_side -- -m -r -t 3 --exclude 'inner|other' d
	in_both deep_ops
	finish
	same
}

@test "--excludei: case-insensitive" {
	in_both tree
	side_by_side -- -m -r -t 3 --excludei 'INNER' d
	in_both deep_ops
	finish
	same
}

@test "--include: only matching files" {
	in_both tree
	side_by_side -- -m -r -t 3 --include 'inner|made' d
	in_both deep_ops
	finish
	same
}

@test "--includei: case-insensitive" {
	in_both tree
	side_by_side -- -m -t 3 --includei 'RENAMED' d
	in_both flat_ops
	finish
	same
}

@test "argument errors: the same message and exit status" {
	local args
	in_both tree
	while IFS= read -r args; do
		eval "set -- $args"
		# the same argv[0], which getopt's messages start with
		(cd "$TEST_DIR/ref" && exec -a inotifywait "$REF_BIN" "$@") >"$TEST_DIR/ref.out" 2>"$TEST_DIR/ref.err" </dev/null && REF_RC=0 || REF_RC=$?
		(cd "$TEST_DIR/vig" && exec -a inotifywait "$VIG_BIN" "$@") >"$TEST_DIR/vig.out" 2>"$TEST_DIR/vig.err" </dev/null && VIG_RC=0 || VIG_RC=$?
		same || { echo "with arguments: $args" >&2; return 1; }
	done <<-'EOF'

		-x d
		--bogus d
		-e foo d
		-e modify,foo d
		-e dont_follow d
		-e 'modify, attrib' d
		-e
		-t
		-t abc d
		-t 1.5x d
		--fromfile a --fromfile b d
		-o a -o b d
		-c --format %w d
		--no-newline d
		--timefmt %H d
		--format %T d
		-d d
		--exclude '(' d
		--include '[' d
		nonexistent
		d nonexistent
		-o /nonexistent/x d
		-r d/file/not-a-dir
	EOF
}

# Documented improvements: each checks the difference and names it.

@test "improvement: repeated --exclude all apply (inotifywait keeps only the last)" {
	in_both tree
	side_by_side -- -m -r -t 3 -e modify,create --exclude inner --exclude made d
	in_both deep_ops
	finish
	grep -q 'inner' "$TEST_DIR/ref.out"      # inotifywait forgot the first
	! grep -q 'inner' "$TEST_DIR/vig.out"
	! grep -q 'made' "$TEST_DIR/vig.out"
	expect_eq "the rest" "$(grep -v inner "$TEST_DIR/ref.out")" "$(cat "$TEST_DIR/vig.out")"
}

@test "improvement: --exclude and --include together both apply (inotifywait refuses)" {
	in_both tree
	cd vig
	run "$VIG_BIN" -t -1 --exclude a --include b d
	expect_eq status 0 "$status"
	cd ../ref
	run "$REF_BIN" -t -1 --exclude a --include b d
	expect_eq status 1 "$status"
}

@test "improvement: a directory excluded by --exclude is not watched at all" {
	in_both tree
	side_by_side -- -m -r -t 3 --exclude 'sub' d
	expect_eq "inotifywait's watches" 4 "$(watch_count "$REF_PID")"
	expect_eq "vigil's watches" 2 "$(watch_count "$VIG_PID")"
	in_both deep_ops
	finish
	same
}

@test "improvement: files created at once in a new directory are all reported" {
	in_both tree
	side_by_side -- -m -r -t 3 -e create d
	in_both sh -c 'mkdir -p d/n1/n2/n3 && : >d/n1/n2/n3/f'
	finish
	# vigil: every level, the listing's finds flagged nowhere in this output
	expect_eq vigil "$(printf '%s\n' 'd/ CREATE,ISDIR n1' 'd/n1/ CREATE,ISDIR n2' \
		'd/n1/n2/ CREATE,ISDIR n3' 'd/n1/n2/n3/ CREATE f')" "$(cat "$TEST_DIR/vig.out")"
	# inotifywait saw the first and maybe more: never more than vigil
	grep -q '^d/ CREATE,ISDIR n1$' "$TEST_DIR/ref.out"
	[ "$(wc -l <"$TEST_DIR/ref.out")" -le 4 ]
}

@test "improvement: -t with a negative value sets the watches up and exits 0 (inotifywait waits)" {
	in_both tree
	cd vig
	run "$VIG_BIN" -t -1 d
	expect_eq status 0 "$status"
	expect_eq stderr "$(printf 'Setting up watches.\nWatches established.')" "$output"
}

@test "improvement: -t takes fractions of a second (inotifywait whole seconds)" {
	in_both tree
	cd vig
	run "$VIG_BIN" -qq -t 0.2 d
	expect_eq status 2 "$status"
	cd ../ref
	run "$REF_BIN" -qq -t 0.2 d
	expect_eq status 1 "$status"
}

@test "improvement: an @PATH is not reported on either (inotifywait still prints its parent's events about it)" {
	in_both tree
	side_by_side -- -m -t 3 d @d/file
	in_both flat_ops
	finish
	grep -q ' file$' "$TEST_DIR/ref.out"
	! grep -q ' file$' "$TEST_DIR/vig.out"
	expect_eq "the rest" "$(grep -v ' file$' "$TEST_DIR/ref.out")" "$(cat "$TEST_DIR/vig.out")"
}

@test "improvement: -r --include: a new directory that does not match is still watched" {
	in_both tree
	# (-t 10: vigil must outlast the wait for its watch)
	side_by_side -- -m -r -t 10 -e create --include '\.txt$' d
	in_both mkdir d/fresh
	# vigil watches it at once; inotifywait never does (its issue #224)
	wait_for_watches "$VIG_PID" 5
	in_both touch d/fresh/a.txt d/fresh/b.dat
	finish
	expect_eq vigil "d/fresh/ CREATE a.txt" "$(cat "$TEST_DIR/vig.out")"
	expect_eq inotifywait "" "$(cat "$TEST_DIR/ref.out")"
}

@test "the watched directory itself deleted, with -m" {
	in_both tree
	side_by_side -- -m -t 3 d
	in_both rm -r d
	finish
	same
}

@test "-e ignored, with -r: a line for each watch that ends, the root's last" {
	in_both tree
	side_by_side -- -m -r -t 3 -e delete_self,ignored d
	in_both rm -r d
	finish
	same
	grep -q '^d/ IGNORED' "$TEST_DIR/vig.out"
	grep -q '^d/sub/ IGNORED' "$TEST_DIR/vig.out"
}

@test "-e ignored alone, without -m: the watch's end is the event, exit 0" {
	in_both tree
	side_by_side -- -e ignored d/file
	in_both rm d/file
	finish
	same
	expect_eq "vigil's output" "d/file IGNORED " "$(cat "$TEST_DIR/vig.out")"
}

@test "the watched directory itself renamed, then changed" {
	in_both tree
	side_by_side -- -m -t 3 d
	in_both sh -c 'mv d d2 && : >d2/after'
	finish
	same
}

@test "several paths: a directory, a file in another, a file watched twice" {
	in_both tree
	side_by_side -- -m -t 3 d/sub d/file d/other/../file
	in_both sh -c 'echo x >>d/file; : >d/sub/n; : >d/other/ignored'
	finish
	same
}

@test "-r given a file watches the file" {
	in_both tree
	side_by_side -- -m -r -t 3 d/file
	in_both sh -c 'echo x >>d/file; chmod 600 d/file'
	finish
	same
}

@test "improvement: a directory given through a symlink has a %w ending in /" {
	in_both tree
	in_both ln -s sub d/link
	side_by_side -- -m -t 3 -e create,attrib d/link
	in_both sh -c ': >d/sub/via-link; chmod 700 d/sub'
	finish
	# inotifywait prints "d/link" as %w, so that %w%f is "d/linkvia-link"
	expect_eq inotifywait "$(printf 'd/link CREATE via-link\nd/link ATTRIB,ISDIR ')" "$(cat "$TEST_DIR/ref.out")"
	expect_eq vigil "$(printf 'd/link/ CREATE via-link\nd/link/ ATTRIB,ISDIR ')" "$(cat "$TEST_DIR/vig.out")"
}

@test "a symlink given as the path with -P is watched itself" {
	in_both tree
	in_both ln -s sub d/link
	side_by_side -- -m -t 3 -P -e create,attrib d/link
	in_both sh -c ': >d/sub/not-via-link; touch -h d/link'
	finish
	same
}

@test "a directory moved out of the tree stops being reported" {
	in_both tree
	side_by_side -- -m -r -t 3 d
	in_both sh -c 'mv d/sub outside && : >outside/stale && : >d/fresh'
	finish
	# inotifywait drops the watch when it reads the next event, so when it
	# reads late it also prints what happened outside, under the old path
	# ("d/sub/ CREATE stale"): the improvement documented under NOTES
	! grep -q stale "$TEST_DIR/vig.out"
	grep -v stale "$TEST_DIR/ref.out" >"$TEST_DIR/ref.fresh" || true
	mv "$TEST_DIR/ref.fresh" "$TEST_DIR/ref.out"
	same
}

@test "improvement: a queue overflow is announced even when q_overflow is not asked for" {
	# the overflow itself is provoked in overflow.bats; here, the words
	grep -q 'the kernel event queue overflowed and events were lost' "$VIGIL"
}
