#!/usr/bin/env bats
# Promise 2/3 housekeeping: deleted directories are forgotten, so a long run
# of churn costs no memory.

load helpers

cycles() { # cycles N: N mkdir/rmdir pairs in the watched tree
	perl -e 'for my $i (1..$ARGV[0]) { mkdir "d$i" or die "$!"; rmdir "d$i" or die "$!"; }' "$1"
}

@test "20,000 mkdir/rmdir cycles leave RSS where it started (within 1 MiB)" {
	touch "$W/sentinel"
	# (under AddressSanitizer, with no quarantine: it holds what is freed
	# back from reuse, to catch a use after free, and RSS grows with it)
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=0 \
		start_vigil wait -m -r -e attrib --format '%f' .
	# one round first, so that buffers reach their working size
	cycles 20000
	touch "$W/sentinel"
	wait_for_line "$OUT" sentinel
	local before after
	before=$(rss_kib "$VIGIL_PID")
	cycles 20000
	: >"$OUT"
	touch "$W/sentinel"
	wait_for_line "$OUT" sentinel
	after=$(rss_kib "$VIGIL_PID")
	echo "RSS before: ${before} KiB, after: ${after} KiB" >&2
	[ $((after - before)) -le 1024 ] || {
		echo "RSS grew by $((after - before)) KiB" >&2
		return 1
	}
	expect_eq "watches left" 1 "$(watch_count "$VIGIL_PID")"
}

@test "a deleted directory's watch is dropped" {
	mkdir -p "$W/a/b/c"
	start_vigil wait -m -r -e delete --format '%w%f' .
	expect_eq "watches at start" 4 "$(watch_count "$VIGIL_PID")"
	rm -rf "$W/a"
	wait_for_line "$OUT" '^\./a$'
	expect_eq "watches after" 1 "$(watch_count "$VIGIL_PID")"
}

@test "a directory deleted and made again under the same name is watched anew" {
	mkdir "$W/d"
	start_vigil wait -m -r -e create --format '%w%f' .
	rmdir "$W/d"
	mkdir "$W/d"
	touch "$W/d/inside"
	wait_for_line "$OUT" inside
	grep -qx './d/inside' "$OUT"
}
