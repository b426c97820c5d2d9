#!/usr/bin/env bats
# fanotify: a mark per directory (-F, unprivileged), or one mark for a
# whole filesystem (-S) or mount (-M), with the process behind each event.
# As root, the filesystem marks go on a loop-mounted ext4 image made here,
# so that what the rest of the machine does elsewhere is not in the queue.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	export FAN_SKIP= FAN_TMP= FAN_MNT=
	if [ "$(id -u)" != 0 ]; then
		FAN_SKIP="needs root: a loop-mounted ext4 image and filesystem marks"
		return 0
	fi
	if ! command -v mkfs.ext4 >/dev/null; then
		FAN_SKIP="mkfs.ext4 is not installed (apt-get install e2fsprogs)"
		return 0
	fi
	FAN_TMP=$(mktemp -d /tmp/vigil-fan.XXXXXX)
	chmod 755 "$FAN_TMP" # for the unprivileged tests
	FAN_MNT=$FAN_TMP/mnt
	mkdir "$FAN_MNT"
	truncate -s 96M "$FAN_TMP/img"
	if ! mkfs.ext4 -q -F -N 40000 "$FAN_TMP/img" 2>"$FAN_TMP/mkfs.err"; then
		FAN_SKIP="cannot make an ext4 image: $(cat "$FAN_TMP/mkfs.err")"
		return 0
	fi
	if ! mount -o loop "$FAN_TMP/img" "$FAN_MNT" 2>"$FAN_TMP/mount.err"; then
		FAN_SKIP="cannot loop-mount an image here: $(cat "$FAN_TMP/mount.err")"
		return 0
	fi
}

teardown_file() {
	if [ -n "$FAN_MNT" ] && mountpoint -q "$FAN_MNT"; then
		# -d: the loop device goes with it (mount -o loop sets autoclear too)
		umount -d "$FAN_MNT" 2>/dev/null || umount -l -d "$FAN_MNT"
	fi
	[ -z "$FAN_TMP" ] || rm -rf "$FAN_TMP"
}

setup() {
	[ -z "$FAN_SKIP" ] || skip "$FAN_SKIP"
	TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/vigil-fan.XXXXXX")
	OUT=$TEST_DIR/out
	ERR=$TEST_DIR/err
	W=$(mktemp -d "$FAN_MNT/w.XXXXXX")
	O=$(mktemp -d "$FAN_MNT/o.XXXXXX") # on the same filesystem, not watched
	cd "$W" || return 1
	VIGIL_PID=
}

teardown() {
	stop_vigil
	cd /
	[ -z "${TEST_DIR:-}" ] || rm -rf "$TEST_DIR"
	[ -z "${W:-}" ] || rm -rf "$W" "$O"
}

# out_has RE: vigil's output has a line matching RE (grep's basic
# regular expression); else the test fails, showing that output.
out_has() {
	grep -q -- "$1" "$OUT" || { cat "$OUT"; false; }
}

# as_nobody CMD...: CMD without root's privilege (no capabilities at all),
# run in a subshell (run, or &): exec'd, so that $! is CMD's own pid and
# stop_vigil ends it (else it outlived the test and held the image's mount)
as_nobody() {
	exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all -- "$@"
}

# merge_then_gate DIR CMD [ARG]...: vigil -S on $W, with DIR in its tree
# (an event in it: DIR/x made), then a merge (a renamed to b, back, and to b
# again while vigil is stopped: see the tests below), so that $W is listed
# again once vigil has caught up; that listing's open of $W is held while
# CMD runs. Returns once vigil has ended (-t 2).
merge_then_gate() {
	local dir=$1
	shift
	mkdir a "$dir"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	touch "$dir/x"
	wait_for_line "$OUT" "^$W/$dir/x\|CREATE$"
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "a", "b" and rename "b", "a" and rename "a", "b" or die "$!"'
	start_gate "$W" "$@"
	kill -CONT "$VIGIL_PID"
	gate_done
	wait_vigil
}

# out_in_out_stopped: vigil -S on $W with n (and n/x) in its tree, stopped
# while n is moved out to $O, back in and out again: the kernel merges the
# third move into the first, so no event says n left, and $W is listed
# again once vigil has caught up. vigil stays stopped for the caller.
out_in_out_stopped() {
	mkdir n
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	touch n/x
	wait_for_line "$OUT" "^$W/n/x\|CREATE$"
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "n", "$ARGV[0]/n" and rename "$ARGV[0]/n", "n" and
		 rename "n", "$ARGV[0]/n" or die "$!"' "$O"
}

@test "--filesystem sets up with one mark and no walk, whatever is below" {
	mkdir -p a/b/c
	for i in $(seq 1 300); do mkdir "a/d$i"; done
	start_vigil wait -m -S --format '%w%f %e' "$W"
	grep -q 'Setting up filesystem watches\.' "$ERR"
	touch a/b/c/deep
	wait_for_line "$OUT" "^$W/a/b/c/deep CREATE$"
	# only the root and the directories events named were learnt
	kill "$VIGIL_PID"
	wait "$VIGIL_PID" || true
	VIGIL_PID=
	start_vigil wait -m -S --debug-watches -t 1 "$W"
	wait_vigil
	n=$(grep -c '^[0-9]' "$ERR")
	[ "$n" = 1 ] || { cat "$ERR"; false; }
}

@test "--debug-watches with -S and -F: vigil's watches, and no inotify instance asked for" {
	mkdir -p a/b
	for opt in -S -F; do
		run --separate-stderr "$VIGIL" wait -r $opt -t 1 -q --debug-watches "$W"
		[ "$status" = 2 ] || { echo "$opt: status $status: $stderr"; false; }
		# vigil's view only: these backends hold no inotify instance
		# (it said "kernel: cannot read '/proc/self/fdinfo/-1'")
		! grep -q '^kernel' <<<"$stderr" || { echo "$opt: $stderr"; false; }
		grep -q "^[0-9]* $W\$" <<<"$stderr" || { echo "$opt: $stderr"; false; }
	done
	# -F walks and marks every directory
	grep -q "^[0-9]* $W/a/b\$" <<<"$stderr" || { echo "$stderr"; false; }
}

@test "--filesystem: a tree renamed at every depth keeps its paths right" {
	mkdir -p a/b/c/d/e
	touch a/b/c/d/e/f
	start_vigil wait -m -S -e create,modify,moved_from,moved_to --format '%w%f|%e' "$W"
	# learnt from an event, before any rename
	echo 1 >>a/b/c/d/e/f
	wait_for_line "$OUT" "^$W/a/b/c/d/e/f\|MODIFY$"
	mv a/b/c/d/e a/b/c/d/E
	mv a/b/c/d a/b/c/D
	mv a/b/c a/b/C
	mv a/b a/B
	mv a A
	echo 2 >>A/B/C/D/E/f
	wait_for_line "$OUT" "^$W/A/B/C/D/E/f\|MODIFY$"
	# a move across levels, then new files at each depth
	mv A/B/C/D A/D2
	touch A/D2/E/g A/D2/h A/B/C/i
	wait_for_line "$OUT" "^$W/A/B/C/i\|CREATE$"
	grep -q "^$W/A/D2/E/g|CREATE$" "$OUT"
	grep -q "^$W/A/D2/h|CREATE$" "$OUT"
	grep -q "^$W/a/b/c/d/e|MOVED_FROM,ISDIR$" "$OUT"
	grep -q "^$W/a/b/c/d/E|MOVED_TO,ISDIR$" "$OUT"
	grep -q "^$W/A|MOVED_TO,ISDIR$" "$OUT"
	# each rename said where it was then, and nothing under a stale path
	run grep -E '\|(CREATE|MODIFY)$' "$OUT"
	[ "${lines[0]}" = "$W/a/b/c/d/e/f|MODIFY" ]
	[ "${lines[1]}" = "$W/A/B/C/D/E/f|MODIFY" ]
	[ "${#lines[@]}" = 5 ]
	for l in "${lines[@]:2}"; do
		[[ "$l" == "$W/A/"* && "$l" != "$W/A/B/C/D/"* ]] || { echo "stale: $l"; false; }
	done
}

@test "a directory renamed before its first event is read is placed where it was then" {
	mkdir -p x/y
	touch x/y/f
	start_vigil wait -m -S -e modify,moved_to --format '%w%f|%e' "$W"
	# both happen before vigil reads either: the modify is reported
	# under the old name, as it was then, and the tree follows the rename
	kill -STOP "$VIGIL_PID"
	# (processes of their own: fanotify merges one process's events on
	# a file while they wait)
	sh -c 'echo 1 >>x/y/f'
	mv x/y x/z
	sh -c 'echo 2 >>x/z/f'
	kill -CONT "$VIGIL_PID"
	wait_for_line "$OUT" "^$W/x/z/f\|MODIFY$"
	run grep -c "|MODIFY$" "$OUT"
	[ "$output" = 2 ]
	[ "$(grep '|MODIFY$' "$OUT" | head -1)" = "$W/x/y/f|MODIFY" ]
}

@test "a rename the kernel merges into an earlier one while vigil lags is found again by a listing" {
	mkdir a
	start_vigil wait -m -S -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	# one process renames a to b, back, and to b again while vigil reads
	# nothing: the kernel merges the third rename into the first (the
	# same process, directories, names and handle), and the queue says
	# a -> b, b -> a; the file made in b then reads as a/f
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "a", "b" and rename "b", "a" and rename "a", "b" or die "$!";
		 open(my $f, ">", "b/f") or die "$!"'
	kill -CONT "$VIGIL_PID"
	# the directories of a change read twice are listed again once vigil
	# has caught up: a is gone, b and what it holds are there
	wait_for_line "$OUT" "^$W/b/f\|CREATE$"
	grep -q "^$W/a|DELETE,ISDIR$" "$OUT"
	grep -q "^$W/b|CREATE,ISDIR$" "$OUT"
	# in that order, after the events: a reader replaying them has b/f
	[ "$(grep -n "^$W/a|DELETE,ISDIR$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/b/f|CREATE$" "$OUT" | tail -1 | cut -d: -f1)" ]
	[ "$(grep -n "^$W/a/f|CREATE$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/a|DELETE,ISDIR$" "$OUT" | cut -d: -f1)" ]
}

@test "-F: a rename the kernel merges into an earlier one while vigil lags is found again by a listing" {
	mkdir a
	start_vigil wait -m -r -F -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	# as with -S: a -> b -> a -> b by one process reads a -> b, b -> a,
	# and b/f, made in the directory vigil has as a, as a/f
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "a", "b" and rename "b", "a" and rename "a", "b" or die "$!";
		 open(my $f, ">", "b/f") or die "$!"'
	kill -CONT "$VIGIL_PID"
	# what came back where it had been was renamed twice at least: the
	# directories of its renames are listed once vigil has caught up
	wait_for_line "$OUT" "^$W/b\|CREATE,ISDIR$"
	wait_for_line "$OUT" "^$W/b/f\|CREATE$"
	grep -q "^$W/a|DELETE,ISDIR$" "$OUT"
	[ "$(grep -n "^$W/a/f|CREATE$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/a|DELETE,ISDIR$" "$OUT" | cut -d: -f1)" ]
	[ "$(grep -n "^$W/a|DELETE,ISDIR$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/b/f|CREATE$" "$OUT" | tail -1 | cut -d: -f1)" ]
	# and no overflow: only that directory is listed
	! grep -q 'Q_OVERFLOW' "$OUT"
}

@test "a directory moved out, back in and out again while vigil lags is said gone (-S and -F)" {
	for opt in -S -F; do
		mkdir n
		start_vigil wait -m -r $opt -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
		kill -STOP "$VIGIL_PID"
		# the third move repeats the first: the queue says out, in
		perl -e 'rename "n", "$ARGV[0]/n" and rename "$ARGV[0]/n", "n" and
			 rename "n", "$ARGV[0]/n" or die "$!"' "$O"
		kill -CONT "$VIGIL_PID"
		# (-F: said by the listing of its name, which holds no type)
		wait_for_line "$OUT" "^$W/n\|DELETE(,ISDIR)?$" || { echo "$opt"; false; }
		stop_vigil
		rmdir "$O/n"
	done
}

@test "a directory moved out, back in over a watched one and out again while vigil lags is said gone (-S and -F)" {
	for opt in -S -F; do
		mkdir n m
		start_vigil wait -m -r $opt -t 2 -e create,delete,moved_from,moved_to \
			--format '%w%f|%e' "$W"
		kill -STOP "$VIGIL_PID"
		# n out, m to n, n back in over m (which ends m's watch, and
		# says nothing of m), and out again: the last repeats the first
		perl -e 'rename "n", "$ARGV[0]/n" and rename "m", "n" and
			 rename "$ARGV[0]/n", "n" and rename "n", "$ARGV[0]/n" or die "$!"' "$O"
		kill -CONT "$VIGIL_PID"
		wait_vigil
		# a reader that had n moved in has it gone after
		[ "$(grep -n "^$W/n|MOVED_TO,ISDIR$" "$OUT" | tail -1 | cut -d: -f1)" -lt \
		  "$(grep -n "^$W/n|DELETE,ISDIR$" "$OUT" | tail -1 | cut -d: -f1)" ] ||
			{ echo "$opt:"; cat "$OUT"; false; }
		rmdir "$O/n"
	done
}

@test "a listing for a merge that a rename overtakes leaves that directory to its events (-S)" {
	mkdir a n6
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	kill -STOP "$VIGIL_PID"
	# a merge (as above): $W is listed again once vigil has caught up
	perl -e 'rename "a", "b" and rename "b", "a" and rename "a", "b" or die "$!"'
	# and that listing's open of $W (the first since) is held while
	# another process makes n6/m and renames n6 to n4: the listing
	# finds n4, ahead of the events (n6/m made, n6 renamed) queued
	# before it, which place m in n6, then move n6 to n4
	start_gate "$W" sh -c 'mkdir n6/m && mv n6 n4'
	kill -CONT "$VIGIL_PID"
	gate_done
	wait_vigil
	# m in n6, where it was made; then n6 moved to n4, m with it. Moved
	# by the listing first, m read as n4/m, and the rename then took n4
	# (and m) away from a reader
	out_has "^$W/n6/m|CREATE,ISDIR$"
	! grep -q "^$W/n4/m|" "$OUT" || { cat "$OUT"; false; }
	[ "$(grep -n "^$W/n6/m|CREATE,ISDIR$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/n4|MOVED_TO,ISDIR$" "$OUT" | cut -d: -f1)" ] || { cat "$OUT"; false; }
}

@test "a listing for a merge that a rename overtakes keeps the directory it took away (-S)" {
	# n6 in vigil's tree, then a merge, as above; n6 is moved out of the
	# tree while the listing's open is held
	merge_then_gate n6 sh -c 'mkdir n6/m && mv n6 "$1"/n6' sh "$O"
	# the listing did not find n6: not said gone then, before m was made
	# in it and it moved out (said so by the events, in that order)
	! grep -q "^$W/n6|DELETE" "$OUT" || { cat "$OUT"; false; }
	[ "$(grep -n "^$W/n6/m|CREATE,ISDIR$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/n6|MOVED_FROM,ISDIR$" "$OUT" | cut -d: -f1)" ] || { cat "$OUT"; false; }
	rm -r "$O/n6"
}

@test "a listing for a merge leaves a directory made after it began to its CREATE (-S)" {
	# n6 in vigil's tree, then a merge; while the listing's open is held,
	# n6 is renamed to n4 and a new n6 made in its place, with m in it:
	# the listing finds the new n6, whose CREATE is queued after the
	# rename that takes the old one away
	merge_then_gate n6 sh -c 'mv n6 n4 && mkdir n6 n6/m'
	# n6/m said after the rename of the old n6 to n4, by the events.
	# Placed by the listing, the new n6 (and m) replaced the old one in a
	# reader's view (n6 said deleted and made), and the rename read after
	# moved them to n4, where a reader then had m and not x
	[ "$(grep -n "^$W/n4|MOVED_TO,ISDIR$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/n6/m|CREATE,ISDIR$" "$OUT" | head -1 | cut -d: -f1)" ] || { cat "$OUT"; false; }
	! grep -q "^$W/n6|DELETE" "$OUT" || { cat "$OUT"; false; }
}

@test "a listing for a merge that finds a file where a directory it renames away was leaves both to the events (-S)" {
	# n in vigil's tree, with x in it; then a merge. While the listing's
	# open is held, n is renamed to m and a file made as n: the listing
	# finds the file, ahead of the rename
	merge_then_gate n sh -c 'mv n m && touch n'
	# n moved to m (x with it), then the file n made. Said gone by the
	# listing (a file has its name), the directory n went from a
	# reader's view with x, and the rename then brought nothing to m
	! grep -q "^$W/n|DELETE" "$OUT" || { cat "$OUT"; false; }
	[ "$(grep -n "^$W/m|MOVED_TO,ISDIR$" "$OUT" | cut -d: -f1)" -lt \
	  "$(grep -n "^$W/n|CREATE$" "$OUT" | head -1 | cut -d: -f1)" ] || { cat "$OUT"; false; }
}

@test "a listing for a merge that finds a directory made after it where one a merged event took away was says that one gone (-S)" {
	out_in_out_stopped
	# a new n made while that listing's open of $W is held: the listing
	# finds it, ahead of its CREATE
	start_gate "$W" mkdir n
	kill -CONT "$VIGIL_PID"
	gate_done
	wait_vigil
	# the n moved in is said gone (nothing else will: its way out was
	# merged away), after it came in and before the new n is made. Kept
	# for events that would never come, it stayed in a reader's view
	del=$(grep -n "^$W/n|DELETE,ISDIR$" "$OUT" | tail -1 | cut -d: -f1)
	[ -n "$del" ] || { cat "$OUT"; false; }
	[ "$(grep -n "^$W/n|MOVED_TO,ISDIR$" "$OUT" | tail -1 | cut -d: -f1)" -lt "$del" ] ||
		{ cat "$OUT"; false; }
	[ "$del" -lt "$(grep -n "^$W/n|CREATE,ISDIR$" "$OUT" | tail -1 | cut -d: -f1)" ] ||
		{ cat "$OUT"; false; }
	rm -r "$O/n"
}

@test "a directory made where one whose way out the kernel merged away was is said to replace it (-S)" {
	out_in_out_stopped
	# then a new n made: its CREATE is the first word that the n moved
	# in is not there
	mkdir n
	kill -CONT "$VIGIL_PID"
	wait_vigil
	# said gone before the new n is made: a CREATE replaces nothing in a
	# reader's view, which kept x below the new n
	del=$(grep -n "^$W/n|DELETE,ISDIR$" "$OUT" | head -1 | cut -d: -f1)
	[ -n "$del" ] || { cat "$OUT"; false; }
	[ "$del" -lt "$(grep -n "^$W/n|CREATE,ISDIR$" "$OUT" | head -1 | cut -d: -f1)" ] ||
		{ cat "$OUT"; false; }
	rm -r "$O/n"
}

@test "the listing of a directory moved in leaves one a rename brings into it meanwhile to that rename (-S)" {
	mkdir x "$O/d"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	# x in vigil's tree, with f in it
	touch x/f
	wait_for_line "$OUT" "^$W/x/f\|CREATE$"
	# d comes in from outside, and is listed: while that listing's open
	# of d is held, x is renamed into it as y. The listing finds y,
	# whose rename is queued before it
	start_gate "$O/d" mv x d/y
	mv "$O/d" d
	gate_done
	wait_vigil
	# x moved to d/y, f with it. Placed by the listing, x was said gone
	# from where it was and y reported afresh, and the rename, when read,
	# put at d/y what a reader had under x: by then, nothing
	! grep -q "^$W/x|DELETE" "$OUT" || { cat "$OUT"; false; }
	out_has "^$W/x|MOVED_FROM,ISDIR$"
	out_has "^$W/d/y|MOVED_TO,ISDIR$"
	# (the listing may name y as it reads d: the rename then replaces it)
	! grep -q "^$W/d/y/f|" "$OUT" || { cat "$OUT"; false; }
}

@test "the listing of a directory moved in lists one renamed before it got there where the rename puts it (-S)" {
	mkdir -p "$O/d/a" "$O/d/b"
	touch "$O/d/a/f" "$O/d/b/g"
	# the walk goes down d's directories in the order the listing read
	# them: the first one's open is held while the second is renamed, so
	# that the walk, back in d, finds that one gone
	local first second
	first=$(ls -U "$O/d" | head -n 1)
	if [ "$first" = a ]; then second=b; else second=a; fi
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	sentinel s1
	start_gate "$O/d/$first" mv "d/$second" d/t
	mv "$O/d" d
	gate_done
	wait_vigil
	local g=f
	[ "$second" = a ] || g=g
	out_has "^$W/d/$second|CREATE,ISDIR$"
	out_has "^$W/d/t|MOVED_TO,ISDIR$"
	# reported by name alone by the listing, it was never listed: its
	# rename, when read, moved it as known, with nothing below it
	out_has "^$W/d/t/$g|CREATE$"
}

@test "the listing of a directory moved in lists one renamed within it meanwhile where the rename puts it (-S)" {
	mkdir -p "$O/d/b"
	touch "$O/d/b/g"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	sentinel s1
	# d comes in from outside, and is listed: while that listing's open
	# of d is held, b is renamed to t in it. The listing finds t, ahead
	# of that rename, and leaves it to the rename
	start_gate "$O/d" mv d/b d/t
	mv "$O/d" d
	gate_done
	wait_vigil
	out_has "^$W/d/t|MOVED_TO,ISDIR$"
	# a reader had nothing of what b held: the rename, read as a move
	# within the trees, moved it as known, and nothing listed it
	out_has "^$W/d/t/g|CREATE$"
}

@test "a file renamed from where a listing ahead found a directory carries nothing to where it lands (-S)" {
	mkdir -p "$O/d" "$O/e/k"
	touch "$O/d/x"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --json "$W"
	sentinel s1
	# d comes in from outside and is listed: while that listing's open of
	# d is held, the file d/x is renamed to y and e comes in from outside
	# as d/x. The listing finds the directory e at d/x, ahead of both
	# renames; the file's, read then, must not carry e's listing to y
	start_gate "$O/d" sh -c "mv d/x y && mv '$O/e' d/x"
	mv "$O/d" d
	gate_done
	wait_vigil
	out_has "\"path\":\"$W/d/x/k\""
	# paired, the halves would move to y what a reader had under d/x
	out_has "\"path\":\"$W/d/x\",.*\"MOVED_FROM\"\],\"cookie\":0,"
	out_has "\"path\":\"$W/y\",.*\"MOVED_TO\"\],\"cookie\":0,"
}

@test "a directory moved out of one moved in whose listing was put off is listed where it lands (-S)" {
	mkdir -p "$O/d/n4"
	touch "$O/d/n4/f"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	sentinel s1
	# while vigil is stopped, d comes in from outside and is renamed to
	# e, and n4 leaves e: d's listing, read first, finds no d, and is put
	# off until the queue is dry (a retry); by then n4 is not in e
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "$ARGV[0]/d", "d" and rename "d", "e" and rename "e/n4", "n1"
		 or die "$!"' "$O"
	kill -CONT "$VIGIL_PID"
	wait_vigil
	out_has "^$W/e/n4|MOVED_FROM,ISDIR$"
	out_has "^$W/n1|MOVED_TO,ISDIR$"
	# a reader never had what n4 held: the rename, read as a move within
	# the trees, moved it as known, and the listing of e, run later, did
	# not find it
	out_has "^$W/n1/f|CREATE$"
}

@test "a directory moved out of one moved in before that one was listed is listed where it lands (-S)" {
	mkdir -p "$O/d/n4"
	touch "$O/d/n4/f"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	sentinel s1
	# while vigil is stopped, d comes in from outside and n4 leaves it:
	# d's listing, run when its MOVED_TO is read, finds no n4 there
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "$ARGV[0]/d", "d" and rename "d/n4", "n1" or die "$!"' "$O"
	kill -CONT "$VIGIL_PID"
	wait_vigil
	out_has "^$W/d|MOVED_TO,ISDIR$"
	out_has "^$W/d/n4|MOVED_FROM,ISDIR$"
	out_has "^$W/n1|MOVED_TO,ISDIR$"
	# a reader never had what n4 held: the rename, read as a move within
	# the trees, moved it as known
	out_has "^$W/n1/f|CREATE$"
}

@test "a directory moved out and back in while vigil lags is not taken for outside (-S)" {
	mkdir a "$O/e"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --json "$W"
	touch a/x
	wait_for_line "$OUT" "\"path\":\"$W/a/x\""
	# while vigil is stopped, a goes out to $O (met there for the first
	# time, so not known to be outside) and comes back in as b, renamed
	# on to c (so that b's listing finds nothing, and waits for the queue
	# to be dry), and e comes in from $O. The way out of a, read after
	# the way back in was translated, marked its directory outside; f,
	# made in c while e's listing is held, was then dropped, and said
	# only by c's listing, late
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "a", "$ARGV[0]/a" and rename "$ARGV[0]/a", "b" and rename "b", "c" and
		 rename "$ARGV[0]/e", "e" or die "$!"' "$O"
	start_gate "$W/e" touch c/f
	kill -CONT "$VIGIL_PID"
	gate_done
	wait_vigil
	out_has "\"path\":\"$W/c\",.*\"MOVED_TO\""
	grep -q "\"path\":\"$W/c/f\",.*\"CREATE\"\],\"cookie\":0,\"synthetic\":false" "$OUT" ||
		{ cat "$OUT"; false; }
}

@test "a directory whose move back in the kernel merged away is not taken for outside before it is listed again (-S)" {
	mkdir a "$O/o2" "$O/o2/d"
	touch "$O/o2/d/f"
	start_vigil wait -m -S -t 2 -e create,delete,moved_from,moved_to --format '%w%f|%e' "$W"
	touch a/x
	wait_for_line "$OUT" "^$W/a/x\|CREATE$"
	mv a "$O/a"
	wait_for_line "$OUT" "^$W/a\|MOVED_FROM,ISDIR$"
	# a comes back in, goes out and in again while vigil is stopped: the
	# kernel merges the last move into the first, so the stream says a
	# went out. Marked outside then, its records were dropped until the
	# listing that merge asks for watched it again: d, moved into it
	# from a directory met there for the first time while that listing's
	# open of $W is held, was found by it ahead of its rename, left to
	# that rename, and the rename's way in never went out
	kill -STOP "$VIGIL_PID"
	perl -e 'rename "$ARGV[0]/a", "a" and
		 rename "a", "$ARGV[0]/a" and rename "$ARGV[0]/a", "a" or die "$!"' "$O"
	start_gate "$W" sh -c "mv '$O/o2/d' a/d && mkdir z"
	kill -CONT "$VIGIL_PID"
	gate_done
	wait_vigil
	out_has "^$W/a/d|"
	out_has "^$W/a/d/f|CREATE$"
}

@test "a directory renamed on while vigil lags is no sign of a merge, and is not listed again" {
	mkdir a
	for opt in -S -F; do
		start_vigil wait -m -r $opt -t 2 -e create,delete,moved_from,moved_to \
			--format '%w%f|%e' "$W"
		kill -STOP "$VIGIL_PID"
		perl -e 'rename "a", "b" and rename "b", "c" and rename "c", "d" or die "$!";
			 open(my $f, ">", "d/f") or die "$!"'
		kill -CONT "$VIGIL_PID"
		# (ends two seconds after the last event: a listing would be out)
		wait_vigil
		grep -q "^$W/d/f|CREATE$" "$OUT" || { echo "$opt:"; cat "$OUT"; false; }
		# three renames and a create: no listing said anything more
		[ "$(wc -l <"$OUT")" = 7 ] || { echo "$opt:"; cat "$OUT"; false; }
		! grep -q 'ISDIR$' <(grep -v MOVED "$OUT") || { cat "$OUT"; false; }
		rm d/f
		mv d a
	done
}

# writer NAME: a shell that creates NAME in the watched tree, then waits
# (its command name is read while it lives) until release; its pid in
# $TEST_DIR/pid
writer() {
	mkfifo "$TEST_DIR/hold"
	sh -c 'echo $$ >"$1"; : >"$2"; read -r x <"$3"' sh "$TEST_DIR/pid" "$W/$1" "$TEST_DIR/hold" 3>&- &
	WRITER=$!
}
release() {
	echo go >"$TEST_DIR/hold"
	wait "$WRITER"
}

@test "each event carries the pid and command name of the process that made it" {
	start_vigil wait -m -S -e close_write --format '%f %p %P' "$W"
	writer made
	wait_for_line "$OUT" '^made '
	release
	read -r name pid comm <"$OUT"
	[ "$pid" = "$(cat "$TEST_DIR/pid")" ]
	[ "$comm" = sh ]
}

# vigil keeps each recent writer's /proc/PID/comm open and reads it again
# for each batch: a name cached once per pid would still say sh here
@test "a process that execs is given its new command name, under the same pid" {
	start_vigil wait -m -S -e close_write --format '%f %p %P' "$W"
	mkfifo "$TEST_DIR/hold1" "$TEST_DIR/hold2"
	sh -c 'echo $$ >"$1"; : >"$2"; read -r x <"$3"
	       exec bash -c '\'': >"$0"; read -r x <"$1"'\'' "$4" "$5"' \
		sh "$TEST_DIR/pid" "$W/one" "$TEST_DIR/hold1" "$W/two" "$TEST_DIR/hold2" 3>&- &
	local w=$!
	wait_for_line "$OUT" '^one '
	echo go >"$TEST_DIR/hold1"
	wait_for_line "$OUT" '^two '
	echo go >"$TEST_DIR/hold2"
	wait "$w"
	local pid
	pid=$(cat "$TEST_DIR/pid")
	[ "$(grep '^one ' "$OUT")" = "one $pid sh" ]
	[ "$(grep '^two ' "$OUT")" = "two $pid bash" ]
}

@test "inode marks (-F) report the writer's pid too, and follow a recursive tree" {
	mkdir -p d/e
	start_vigil wait -m -r -F -e create --format '%w%f %p' "$W"
	sh -c 'echo $$ >"$1"; exec mkdir "$2"' sh "$TEST_DIR/pid" "$W/d/e/new"
	wait_for_line "$OUT" "^$W/d/e/new "
	touch d/e/new/inside
	wait_for_line "$OUT" "^$W/d/e/new/inside "
	[ "$(grep "/new " "$OUT" | cut -d' ' -f2)" = "$(cat "$TEST_DIR/pid")" ]
}

@test "--json gives pid and comm; inotify gives null for both" {
	start_vigil wait -m -S --json -e create "$W"
	writer j
	wait_for_line "$OUT" '"name":"j"'
	release
	grep -q "\"pid\":$(cat "$TEST_DIR/pid"),\"comm\":\"sh\"" "$OUT"
	stop_vigil
	start_vigil wait -m --backend inotify --json -e create "$W"
	touch "$W/k"
	wait_for_line "$OUT" '"name":"k"'
	grep '"name":"k"' "$OUT" | grep -q '"pid":null,"comm":null'
}

@test "%pe and %Pe still separate event names, as inotifywait reads them" {
	start_vigil wait -m -S -e close_write --format '%pe|%Pe' "$W"
	touch "$W/s"
	wait_for_line "$OUT" 'CLOSE_WRITEpCLOSE\|CLOSE_WRITEPCLOSE'
}

@test "a queue overflow is announced, and the paths are found again after it" {
	mkdir -p keep/sub
	touch keep/sub/f
	start_vigil wait -m -S -e create,modify,q_overflow --format '%w%f|%e' "$W"
	echo 1 >>keep/sub/f
	wait_for_line "$OUT" "^$W/keep/sub/f\|MODIFY$"
	# vigil stopped: more events than the queue holds (16384 by default)
	kill -STOP "$VIGIL_PID"
	limit=$(cat /proc/sys/fs/fanotify/max_queued_events)
	mkdir flood
	seq 1 $((limit + 500)) | (cd flood && xargs touch)
	mv keep/sub keep/moved # lost in the overflow: found again by handle
	kill -CONT "$VIGIL_PID"
	wait_for_line "$OUT" 'Q_OVERFLOW' 60
	wait_for_line "$ERR" 'overflowed' 5
	echo 2 >>keep/moved/f
	wait_for_line "$OUT" "^$W/keep/moved/f\|MODIFY$" 60
}

@test "without CAP_SYS_ADMIN --filesystem fails naming the need, and -F still works" {
	chmod 777 "$W"
	run as_nobody "$VIGIL" wait -S -t 1 "$W"
	[ "$status" = 1 ]
	[[ "$output" == *"cannot mark the filesystem of '$W'"*"needs CAP_SYS_ADMIN"* ]]
	run as_nobody "$VIGIL" wait -M -t 1 "$W"
	[ "$status" = 1 ]
	[[ "$output" == *"needs CAP_SYS_ADMIN"* ]]
	# inode marks need no privilege; the kernel hides others' pids then
	: >"$OUT"
	: >"$ERR"
	as_nobody "$VIGIL" wait -m -r -F -e create --format '%f pid=%p' "$W" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established' 30
	touch "$W/unpriv"
	wait_for_line "$OUT" '^unpriv pid=$'
}

@test "a hard link is reported by the name it was changed through" {
	echo x >"$O/outside"
	start_vigil wait -m -S -e create,modify,attrib --format '%w%f|%e' "$W"
	ln "$O/outside" "$W/linked"
	wait_for_line "$OUT" "^$W/linked\|CREATE$"
	echo y >>"$O/outside"   # through the name outside: not ours
	echo z >>"$W/linked"    # through the name inside
	wait_for_line "$OUT" "^$W/linked\|MODIFY$"
	! grep -q outside "$OUT"
	[ "$(grep -c '|MODIFY$' "$OUT")" = 1 ]
}

@test "a directory moved out of the marked tree and back is followed both ways" {
	mkdir -p d/e
	touch d/e/f
	start_vigil wait -m -S -e create,modify,moved_from,moved_to --format '%w%f|%e' "$W"
	echo 1 >>d/e/f
	wait_for_line "$OUT" "^$W/d/e/f\|MODIFY$"
	mv d "$O/d"
	wait_for_line "$OUT" "^$W/d\|MOVED_FROM,ISDIR$"
	echo 2 >>"$O/d/e/f"     # outside now: dropped
	touch "$O/d/e/made-outside"
	mv "$O/d" back
	wait_for_line "$OUT" "^$W/back\|MOVED_TO,ISDIR$"
	# what it brought is reported, as for a directory new to the tree
	wait_for_line "$OUT" "^$W/back/e/made-outside\|CREATE$"
	echo 3 >>back/e/f
	wait_for_line "$OUT" "^$W/back/e/f\|MODIFY$"
	[ "$(grep -c '|MODIFY$' "$OUT")" = 2 ]
	! grep -q "^$O" "$OUT"
}

@test "events outside the paths given, on the same filesystem, are dropped" {
	mkdir -p "$O/busy"
	start_vigil wait -m -S --format '%w%f|%e' "$W"
	for i in $(seq 1 50); do touch "$O/busy/f$i"; done
	sentinel
	! grep -q "^$O" "$OUT"
}

@test "--exclude keeps a directory out with a filesystem mark too" {
	mkdir -p skip/deep keep
	start_vigil wait -m -S -e create --exclude '/skip(/|$)' --format '%w%f' "$W"
	touch skip/deep/no keep/yes
	wait_for_line "$OUT" "^$W/keep/yes$"
	sentinel
	! grep -q skip "$OUT"
}

@test "--mount sees open and close only through the mount given" {
	mkdir -p "$TEST_DIR/bind"
	mount --bind "$FAN_MNT" "$TEST_DIR/bind" || skip "cannot bind-mount here"
	rel=${W#"$FAN_MNT"/}
	start_vigil wait -m -M -e create,close_write --format '%w%f|%e' "$W"
	touch "$TEST_DIR/bind/$rel/other-mount"  # create: the filesystem says
	touch "$W/this-mount"
	wait_for_line "$OUT" "^$W/this-mount\|CLOSE_WRITE,CLOSE$"
	umount "$TEST_DIR/bind"
	grep -q "^$W/other-mount|CREATE$" "$OUT"
	! grep -q "^$W/other-mount|CLOSE_WRITE" "$OUT"
}

@test "-S and -M together, or -S with another backend, are refused" {
	run "$VIGIL" wait -S -M -t 1 "$W"
	[ "$status" = 1 ]
	[[ "$output" == *"'--filesystem' and '--mount' cannot both be given"* ]]
	run "$VIGIL" wait -S --backend poll -t 1 "$W"
	[ "$status" = 1 ]
	[[ "$output" == *"'--filesystem' marks with fanotify"* ]]
}

@test "--backend filesystem and --backend mount are -S and -M, in wait and stats" {
	start_vigil wait -m --backend filesystem --format '%w%f %p' "$W"
	grep -q 'Setting up filesystem watches\.' "$ERR"
	mkdir -p deep/er
	touch deep/er/x
	wait_for_line "$OUT" "^$W/deep/er/x [0-9]+$"
	run "$VIGIL" usage -p "$VIGIL_PID" --json
	[[ "$output" == *'"filesystem_marks": 1}'* ]]
	stop_vigil
	start_vigil wait -m --backend mount "$W"
	grep -q 'Setting up mount watches\.' "$ERR"
	run "$VIGIL" usage -p "$VIGIL_PID" --json
	[[ "$output" == *'"mount_marks": 1,'* ]]
	stop_vigil
	run "$VIGIL" stats --backend filesystem -t 1 "$W"
	[ "$status" = 0 ]
	[[ "$output" == *"Finished establishing watches"* ]]
	run "$VIGIL" wait --backend filesystem -M -t 1 "$W"
	[ "$status" = 1 ]
	[[ "$output" == *"'--filesystem' and '--mount' cannot both be given"* ]]
}

@test "as fsnotifywait and fsnotifywatch, fanotify is the default" {
	ln -s "$VIGIL" "$TEST_DIR/fsnotifywait"
	ln -s "$VIGIL" "$TEST_DIR/fsnotifywatch"
	: >"$OUT"
	: >"$ERR"
	"$TEST_DIR/fsnotifywait" -m -e create --format '%f %p' "$W" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established' 30
	touch "$W/fs"
	wait_for_line "$OUT" '^fs [0-9]+$'
	stop_vigil
	run "$TEST_DIR/fsnotifywatch" -S -t 1 "$W"
	[ "$status" = 0 ]
	[[ "$output" == *"Finished establishing watches"* ]]
}

@test "vigil stats counts with a filesystem mark" {
	"$VIGIL" stats -S -e create -t 3 "$W" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Finished establishing watches' 30
	mkdir -p sub
	touch sub/a sub/b
	wait_vigil
	grep -q "$W/sub/" "$OUT"
}

@test "vigil usage counts fanotify groups and marks" {
	mkdir -p u/v
	start_vigil wait -m -r -F "$W"
	run "$VIGIL" usage -p "$VIGIL_PID"
	[ "$status" = 0 ]
	[[ "$output" == *"fanotify groups and marks:"* ]]
	# one group, an inode mark for each of w, u, u/v
	echo "$output" | grep -E -q "^ *$VIGIL_PID +[^ ]+ +1 +3 +0 +0 "
	stop_vigil
	start_vigil wait -m -S "$W"
	run "$VIGIL" usage -p "$VIGIL_PID" --json
	[[ "$output" == *'"fanotify": {"groups": 1, "inode_marks": 0, "mount_marks": 0, "filesystem_marks": 1}'* ]]
}

@test "vigil run --backend filesystem gives each job VIGIL_PID and VIGIL_COMM" {
	log=$TEST_DIR/jobs
	: >"$OUT"
	: >"$ERR"
	"$VIGIL" run -r --backend filesystem --settle 100ms "$W" -- \
		sh -c 'echo "$VIGIL_PATH $VIGIL_PID $VIGIL_COMM" >>"$1"' sh "$log" \
		>"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'watching: ' 30
	mkdir -p deep/er
	# the writer lives on until the job has run: a process gone by the
	# time vigil reads its event has no command name left to read
	writer deep/er/copied
	wait_for_line "$log" "copied" || { echo "vigil run said:"; cat "$ERR" "$OUT"; false; }
	release
	expect_eq "the job's line" "$W/deep/er/copied $(cat "$TEST_DIR/pid") sh" "$(cat "$log")"
}

@test "a rules file chooses the backend per rule" {
	cat >"$TEST_DIR/rules" <<RULES
[fan]
path = $W
backend = fanotify
command = true

[bad]
path = $W
backend = fanotify-please
command = true
RULES
	chmod 600 "$TEST_DIR/rules"
	run "$VIGIL" run --check "$TEST_DIR/rules"
	[ "$status" != 0 ]
	[[ "$output" == *"'fanotify-please'"*"auto, inotify, poll, fanotify, filesystem or mount"* ]]
}
