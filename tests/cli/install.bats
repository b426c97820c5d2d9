#!/usr/bin/env bats
# meson install: what lands where, and the inotify-tools names only on
# request (-Dcompat_names=true), so that a real install is never clobbered.

load helpers

SRC=$(readlink -f "$BATS_TEST_DIRNAME/../..")

@test "meson install -Dcompat_names=true: vigil, its man pages, and inotifywait/inotifywatch links to it" {
	meson setup "$TEST_DIR/b" "$SRC" -Dcompat_names=true -Dtests=disabled >/dev/null
	meson install -C "$TEST_DIR/b" --quiet --destdir "$TEST_DIR/root" >/dev/null
	local prefix bindir mandir
	prefix=$(meson introspect --buildoptions "$TEST_DIR/b" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["bindir"], o["mandir"])')
	read -r prefix bindir mandir <<<"$prefix"
	local bin=$TEST_DIR/root$prefix/$bindir
	[ -x "$bin/vigil" ]
	expect_eq inotifywait vigil "$(readlink "$bin/inotifywait")"
	expect_eq inotifywatch vigil "$(readlink "$bin/inotifywatch")"
	local page
	for page in vigil.1 vigil-wait.1 vigil-stats.1; do
		[ -f "$TEST_DIR/root$prefix/$mandir/man1/$page" ]
	done
	# the installed links are the tools
	run "$bin/inotifywait" -t -1 "$W"
	expect_eq status 0 "$status"
	run "$bin/inotifywatch" -t -1 "$W"
	[[ "$output" != *"not a vigil command"* ]]
}

@test "meson install without compat_names installs no inotify-tools names" {
	local build
	build=$(dirname "$VIGIL")
	run meson introspect --installed "$build"
	expect_eq status 0 "$status"
	[[ "$output" == *'/vigil"'* ]]
	[[ "$output" != *inotifywait* && "$output" != *inotifywatch* ]]
}
