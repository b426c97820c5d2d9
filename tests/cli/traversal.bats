#!/usr/bin/env bats
# Point 6: the walk. No symlink is followed, directories that vanish or deny
# access are skipped without stopping the rest, depth is no limit.

load helpers

@test "a symlink to a directory outside is not followed" {
	mkdir -p "$W/in" "$TEST_DIR/elsewhere/sub"
	ln -s "$TEST_DIR/elsewhere" "$W/in/link"
	start_vigil wait -m -r -e create --format '%w%f' .
	expect_eq watches 2 "$(watch_count "$VIGIL_PID")"
	touch "$TEST_DIR/elsewhere/sub/outside"
	sentinel done
	expect_eq events "./done" "$(cat "$OUT")"
}

@test "a symlink created later is reported, not followed" {
	mkdir -p "$TEST_DIR/elsewhere"
	start_vigil wait -m -r -e create --format '%w%f' .
	ln -s "$TEST_DIR/elsewhere" "$W/link"
	touch "$TEST_DIR/elsewhere/outside"
	sentinel done
	expect_eq events "./link
./done" "$(cat "$OUT")"
	expect_eq watches 1 "$(watch_count "$VIGIL_PID")"
}

@test "-P: a symlink given as the path is watched itself, not its target" {
	mkdir "$TEST_DIR/target"
	ln -s "$TEST_DIR/target" "$W/link"
	start_vigil wait -m -P -e create,attrib --format '%w%f %e' "$W/link"
	touch "$TEST_DIR/target/x"
	touch -h "$W/link"
	wait_for_line "$OUT" ATTRIB
	expect_eq "events (the link's own attrib, nothing from the target)" \
		"$W/link ATTRIB" "$(cat "$OUT")"
}

@test "an unreadable directory is skipped, named in one line, and the rest is watched" {
	command -v setpriv >/dev/null || skip "setpriv is needed to drop privileges"
	for_others
	chmod 755 "$TEST_DIR"
	mkdir -p "$W/open/deep" "$W/closed/inner" "$W/zz/deep"
	chmod 000 "$W/closed"
	chmod -R a+rwX "$W/open" "$W/zz"
	chmod a+rwx "$W"
	: >"$OUT"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VIGIL" wait -m -r -e create --format '%w%f' "$W" >"$OUT" 2>"$ERR" 3>&- &
	VIGIL_PID=$!
	wait_for_line "$ERR" 'Watches established'
	touch "$W/open/deep/a" "$W/zz/deep/b"
	wait_for_line "$OUT" 'deep/b$'
	grep -qx "$W/open/deep/a" "$OUT"
	expect_eq message "vigil wait: cannot watch '$W/closed': permission denied" \
		"$(grep -v '^Setting up\|^Watches established' "$ERR")"
	chmod 755 "$W/closed"
}

@test "directories vanishing during the walk do not stop it" {
	mkdir "$W/churn"
	perl -e 'for my $i (1..2000) { mkdir "churn/d$i" or die; }'
	mkdir -p "$W/stable/deep"
	# delete them while vigil walks the tree
	(perl -e 'for my $i (1..2000) { rmdir "churn/d$i" }' 3>&- &)
	start_vigil wait -m -r -e create --format '%w%f' .
	touch "$W/stable/deep/still-watched"
	wait_for_line "$OUT" 'still-watched'
}

@test "a tree deeper than PATH_MAX is watched to the bottom" {
	local name depth=0 long
	name=$(printf 'd%.0s' $(seq 200))
	# 25 levels of 200-byte names: over 5,000 bytes of path
	(cd "$W" && for _ in $(seq 25); do mkdir "$name" && cd "$name" || exit 1; done)
	start_vigil wait -m -r -e create --format '%w%f' .
	(cd "$W" && for _ in $(seq 25); do cd "$name" || exit 1; done && touch bottom && mkdir newdir && touch newdir/inside)
	wait_for_line "$OUT" 'newdir/inside$'
	long=.
	for _ in $(seq 25); do long=$long/$name; done
	grep -qxF "$long/bottom" "$OUT"
	grep -qxF "$long/newdir/inside" "$OUT"
	[ "${#long}" -gt 4096 ]
}

@test "a chain of 300 nested directories (past the walk's descriptor budget) is walked whole" {
	(cd "$W" && for _ in $(seq 300); do mkdir n && cd n || exit 1; done)
	start_vigil wait -m -r -e create --format '%w%f' .
	expect_eq watches 301 "$(watch_count "$VIGIL_PID")"
	(cd "$W" && for _ in $(seq 300); do cd n || exit 1; done && touch bottom)
	wait_for_line "$OUT" 'bottom$'
}

# The walk reads a directory 32 KiB at a time and, on a filesystem known to
# list all it has in one call (tmpfs, ext4, xfs, btrfs), takes a read that
# leaves room for the longest entry for the end. These hold it to that.

# dirs_in DIR N: N subdirectories of DIR, named with 100 characters, so
# that DIR takes a dozen reads to list.
dirs_in() {
	local pad
	pad=$(printf '%090d' 0)
	(cd "$1" && seq "$2" | sed "s/^/$pad/" | xargs mkdir)
}

@test "a directory that takes a dozen reads to list (3000 subdirectories, long names) is walked whole" {
	mkdir "$W/big"
	dirs_in "$W/big" 3000
	touch "$W/big/$(printf '%0100d' 7)" "$W/big/$(printf '%0200d' 7)"
	run --separate-stderr "$VIGIL" wait -r -t -1 -q --debug-watches "$W"
	expect_eq status 0 "$status"
	expect_eq watches 3002 "$(grep -vc '^kernel ' <<<"$stderr")"
}

@test "filesystems mounted inside the tree are walked whole, trusted to list in one read (tmpfs) or not (ramfs)" {
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace here (unshare -m)"
	mkdir "$W/tmp" "$W/ram"
	export W VIGIL
	run --separate-stderr unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs "$W/tmp" && mount -t ramfs ramfs "$W/ram" || exit 99
		pad=$(printf "%090d" 0)
		for d in "$W/tmp" "$W/ram"; do
			(cd "$d" && seq 3000 | sed "s/^/$pad/" | xargs mkdir) || exit 1
		done
		mkdir -p "$W/tmp/a/b" "$W/ram/${pad}1/inner" || exit 1
		exec "$VIGIL" wait -r -t -1 -q --debug-watches "$W"'
	[ "$status" != 99 ] || skip "cannot mount tmpfs and ramfs here"
	expect_eq status 0 "$status"
	# the tree, the two mount points, 3000 below each, a/b, and inner
	expect_eq watches 6006 "$(grep -vc '^kernel ' <<<"$stderr")"
}

@test "the walk leaves the directories' access times as they were" {
	mkdir -p "$W/a/b"
	touch -a -d '2001-02-03 04:05:06' "$W" "$W/a" "$W/a/b"
	local before
	before=$(stat -c %X "$W/a" "$W/a/b")
	run --separate-stderr "$VIGIL" wait -r -t -1 -q "$W"
	expect_eq status 0 "$status"
	expect_eq atimes "$before" "$(stat -c %X "$W/a" "$W/a/b")"
}
