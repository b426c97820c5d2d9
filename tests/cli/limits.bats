#!/usr/bin/env bats
# Promise 4: limits are explained, naming the sysctl, its value and the fix.
# The limits are lowered inside a user namespace of the test's own, so the
# rest of the machine is not affected.

load helpers

@test "watch limit reached: one line naming the sysctl, its value and how to raise it" {
	require_userns
	mkdir -p "$W/a/b/c/d/e"
	run unshare --user --map-root-user sh -c \
		'echo 3 >/proc/sys/user/max_inotify_watches && exec "$0" wait -r "$1"' "$VIGIL" "$W"
	expect_eq status 1 "$status"
	expect_eq message "vigil wait: cannot watch 3 of the 6 directories in '$W': inotify watch limit reached (user.max_inotify_watches = 3); raise it with 'sysctl -w user.max_inotify_watches=6', or for good in /etc/sysctl.d/" "${lines[-2]}"
}

@test "watch limit reached by the FILE itself: one line naming it" {
	require_userns
	run unshare --user --map-root-user sh -c \
		'echo 0 >/proc/sys/user/max_inotify_watches && exec "$0" wait -r "$1"' "$VIGIL" "$W"
	expect_eq status 1 "$status"
	expect_eq message "vigil wait: cannot watch '$W': inotify watch limit reached (user.max_inotify_watches = 0); raise it with 'sysctl -w user.max_inotify_watches=1024', or for good in /etc/sysctl.d/" "${lines[-1]}"
}

@test "instance limit reached: one line naming max_user_instances" {
	require_userns
	run unshare --user --map-root-user sh -c \
		'echo 0 >/proc/sys/user/max_inotify_instances && exec "$0" wait "$1"' "$VIGIL" "$W"
	expect_eq status 1 "$status"
	expect_eq message "vigil wait: cannot create an inotify instance: inotify instance limit reached (user.max_inotify_instances = 0); raise it with 'sysctl -w user.max_inotify_instances=1024', or for good in /etc/sysctl.d/" "${lines[-1]}"
}
