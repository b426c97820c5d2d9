#!/usr/bin/env bats
# Promise 1: nothing created inside a just-created directory is lost, and
# nothing is reported twice, whether the kernel or the listing saw it first.

load helpers

@test "500 bursts of a/b/c/file: every path reported exactly once" {
	start_vigil wait -m -r -e create --format '%w%f' .
	perl -e 'for my $i (1..500) {
		mkdir "b$i" or die; mkdir "b$i/a" or die; mkdir "b$i/a/b" or die;
		mkdir "b$i/a/b/c" or die;
		open(my $f, ">", "b$i/a/b/c/file") or die; close($f);
	}'
	sentinel done
	local total dups missing
	total=$(grep -vc '^\./done$' "$OUT")
	dups=$(sort "$OUT" | uniq -d | head -5)
	missing=$(for i in $(seq 500); do
		for p in b$i b$i/a b$i/a/b b$i/a/b/c b$i/a/b/c/file; do
			grep -qxF "./$p" "$OUT" || echo "./$p"
		done
	done | head -5)
	expect_eq "paths reported twice" "" "$dups"
	expect_eq "paths never reported" "" "$missing"
	expect_eq "events" 2500 "$total"
}

@test "a file in a new directory is reported to a close_write watcher" {
	start_vigil wait -m -r -e close_write --format '%w%f %e' .
	perl -e 'for my $i (1..100) {
		mkdir "d$i" or die;
		open(my $f, ">", "d$i/photo.jpg") or die; print $f "x"; close($f);
	}'
	sentinel done
	local missing
	missing=$(for i in $(seq 100); do
		grep -q "^\./d$i/photo.jpg CLOSE_WRITE" "$OUT" || echo "d$i"
	done | head -5)
	expect_eq "files never reported" "" "$missing"
}

@test "entries found by the listing are flagged synthetic in --json" {
	command -v python3 >/dev/null || skip "python3 is needed to parse JSON"
	start_vigil wait -m -r -e create --json .
	# moved in whole: its contents can only be found by listing it
	mkdir -p "$TEST_DIR/outside/sub"
	touch "$TEST_DIR/outside/sub/inner"
	mv "$TEST_DIR/outside" "$W/inside"
	sentinel done
	python3 - "$OUT" <<'PY'
import json, sys
evs = {json.loads(l)["path"]: json.loads(l) for l in open(sys.argv[1])}
for p in ("./inside/sub", "./inside/sub/inner"):
    assert p in evs, "missing %s in %r" % (p, sorted(evs))
    assert evs[p]["synthetic"] is True, evs[p]
assert evs["./done"]["synthetic"] is False
PY
}
