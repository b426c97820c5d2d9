#!/usr/bin/env bash
# bench/churn.sh: random changes to a watched tree, then vigil's view of it
# checked against the disk. Not a test: it reports what diverged.
#
# After each run, three things are compared: the inodes the kernel holds
# watches on (/proc/PID/fdinfo), the directories on disk, and the path vigil
# believes each watch is at (vigil wait --debug-watches). A "missing"
# directory is on disk but not watched; an "extra" watch is on a directory
# no longer in the tree; a "stale" path names a place where the watched
# directory is not.
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
VIGIL=${VIGIL:-$here/../build/vigil}
writers=1 ops=3000 seeds=10 verbose=0 first=1

usage() {
	cat <<USAGE
usage: bench/churn.sh [--writers N] [--ops N] [--seeds N]
  --writers N  writers changing the tree at once (default 1)
  --ops N      changes each writer makes (default 3000)
  --seeds N    runs, each with its own random seed (default 10)
  --first N    the first seed (default 1)
  --verbose    name what diverged (a few of each)
USAGE
}
while (($#)); do
	case $1 in
	--writers) writers=$2; shift ;;
	--ops) ops=$2; shift ;;
	--seeds) seeds=$2; shift ;;
	--first) first=$2; shift ;;
	--verbose) verbose=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "churn.sh: unknown argument '$1'" >&2; usage >&2; exit 1 ;;
	esac
	shift
done
command -v python3 >/dev/null || { echo "churn.sh: python3 is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # run SEED: prints one result line
	local seed=$1 w=$tmp/w vp fd
	rm -rf "$w" "$tmp"/outside-*
	mkdir "$w"
	# -t 1: it exits a second after the last change, printing its view
	(cd "$w" && exec "$VIGIL" wait -m -r -e create -t 1 --debug-watches . \
		>/dev/null 2>"$tmp/view") &
	vp=$!
	until grep -q "Watches established" "$tmp/view" 2>/dev/null; do sleep 0.01; done
	local pids=()
	for i in $(seq "$writers"); do
		(cd "$w" && exec perl "$here/churn.pl" "$ops" "$seed$i") &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || { echo "churn.sh: a writer failed" >&2; exit 1; }; done
	sleep 0.3 # let vigil catch up; it exits 1 s after the last event
	for fd in /proc/"$vp"/fd/*; do
		[ "$(readlink "$fd")" = anon_inode:inotify ] || continue
		sed -n 's/^inotify wd:\([0-9a-f]*\) ino:\([0-9a-f]*\).*/\1 \2/p' /proc/"$vp"/fdinfo/"${fd##*/}"
	done >"$tmp/kernel"
	find "$w" -type d -printf '%i %p\n' >"$tmp/disk"
	wait "$vp" || true
	[ -n "${KEEP_VIEW:-}" ] && cp "$tmp/view" "$KEEP_VIEW"
	python3 - "$tmp" "$seed" "$verbose" <<'PY'
import os, sys
tmp, seed, verbose = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
kernel = {int(w, 16): int(i, 16) for w, i in (l.split() for l in open(tmp + "/kernel"))}
disk = {}
for l in open(tmp + "/disk"):
    i, p = l.rstrip("\n").split(" ", 1)
    disk[int(i)] = p
view = [l.rstrip("\n").split(" ", 1) for l in open(tmp + "/view") if l[:1].isdigit()]
stale = []
for wd, path in view:
    try:
        ino = os.lstat(os.path.join(tmp, "w", path)).st_ino
    except OSError:
        ino = None
    if kernel.get(int(wd)) != ino:
        stale.append(path)
watched = set(kernel.values())
missing = sorted((p for i, p in disk.items() if i not in watched), key=len)
extra = [i for i in watched if i not in disk]
if verbose:
    for p in missing[:5]: print("  missing", p)
    for p in stale[:5]: print("  stale  ", p)
    for i in extra[:5]: print("  extra   inode", i)
stale, missing, extra = len(stale), len(missing), len(extra)
ok = not (stale or missing or extra)
print(("seed %-4s dirs %5d  watches %5d  missing %4d  extra %4d  stale %4d  %s"
      % (seed, len(disk), len(kernel), missing, extra, stale, "ok" if ok else "DIVERGED")) if not verbose or ok else
      "seed %s DIVERGED: %d missing, %d extra, %d stale" % (seed, missing, extra, stale))
PY
}

echo "churn: $writers writer(s) x $ops changes, $seeds seeds ($VIGIL)"
bad=0
for seed in $(seq "$first" $((first + seeds - 1))); do
	line=$(run "$seed")
	echo "$line"
	[[ $line == *DIVERGED* ]] && bad=$((bad + 1))
done
echo "diverged: $bad of $seeds"
