#!/usr/bin/env bash
# bench/churn.sh: the churn model check of tests/cli/churn.bats, long: many
# seeds, more writers, more changes. Not a test: it reports, per seed,
# whether vigil's view diverged from the disk, and how often in all.
#
# Each run: vigil wait -m -r --json (exits two seconds after the last
# event, printing --debug-watches), WRITERS copies of
# tests/cli/churn-writer.pl making OPS random changes each at once, then
# tests/cli/churn-check.py: every directory watched where vigil believes
# (by inode), and with --events every file and directory known under its
# final path to a reader replaying the events.
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
VIGIL=${VIGIL:-$here/../build/vigil}
writer=$here/../tests/cli/churn-writer.pl
check=$here/../tests/cli/churn-check.py
writers=1 ops=3000 seeds=10 first=1 events=0 keep= backend=

usage() {
	cat <<USAGE
usage: bench/churn.sh [--writers N] [--ops N] [--seeds N] [--first N] [--events]
  --writers N  writers changing the tree at once (default 1)
  --ops N      changes each writer makes (default 3000)
  --seeds N    runs, each with its own random seed (default 10)
  --first N    the first seed (default 1)
  --events     also check that every path that exists was reported
  --backend B  fanotify: a fanotify mark per directory (vigil wait -F);
               filesystem: one mark for the filesystem (-S), on an ext4
               image loop-mounted for the run (root)
  --keep DIR   keep each diverging run in DIR/seed-N: vigil's events
               (out), its view and messages (err), the tree (tree), and
               each writer's changes (writer-I.log)
USAGE
}
while (($#)); do
	case $1 in
	--writers) writers=$2; shift ;;
	--ops) ops=$2; shift ;;
	--seeds) seeds=$2; shift ;;
	--first) first=$2; shift ;;
	--events) events=1 ;;
	--keep) keep=$2; shift ;;
	--backend) backend=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "churn.sh: unknown argument '$1'" >&2; usage >&2; exit 1 ;;
	esac
	shift
done
command -v python3 >/dev/null || { echo "churn.sh: python3 is needed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
opt=() mode=()
case $backend in
'') ;;
fanotify) opt=(-F) mode=(--fanotify) ;;
filesystem)
	# the tree on a loop-mounted ext4 image: what the rest of the machine
	# does is not in the filesystem mark's queue
	((EUID == 0)) || { echo "churn.sh: --backend filesystem needs root" >&2; exit 1; }
	opt=(-S) mode=(--filesystem)
	truncate -s 256M "$tmp/img"
	mkfs.ext4 -q -F "$tmp/img"
	tmp0=$tmp
	tmp=$tmp0/mnt
	mkdir "$tmp"
	mount -o loop "$tmp0/img" "$tmp"
	trap 'cd /; umount -d "$tmp" || umount -l -d "$tmp"; rm -rf "$tmp0"' EXIT ;;
*) echo "churn.sh: --backend is fanotify or filesystem, not '$backend'" >&2; exit 1 ;;
esac

run() { # run SEED: prints one result line
	local seed=$1 w=$tmp/w vp i pids=()
	rm -rf "$w" "$tmp"/outside-* "$tmp"/writer-*.log "$tmp/out" "$tmp/err"
	mkdir "$w"
	(cd "$w" && exec "$VIGIL" wait -m -r ${opt[@]+"${opt[@]}"} --json \
		-e create,moved_from,moved_to,delete,close_write,q_overflow \
		-t 2 --debug-watches . >"$tmp/out" 2>"$tmp/err") &
	vp=$!
	until grep -q "Watches established" "$tmp/err" 2>/dev/null; do sleep 0.01; done
	for ((i = 1; i <= writers; i++)); do
		(cd "$w" && exec perl "$writer" "$ops" "$seed$i" "$tmp/outside-$i" \
			${keep:+"$tmp/writer-$i.log"}) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	wait "$vp" || true
	if ((events)); then
		python3 "$check" ${mode[@]+"${mode[@]}"} "$w" "$tmp/err" "$tmp/out" || true
	else
		python3 "$check" ${mode[@]+"${mode[@]}"} "$w" "$tmp/err" || true
	fi
}

echo "churn: $writers writer(s) x $ops changes, $seeds seeds ($VIGIL${backend:+, $backend})"
bad=0
for seed in $(seq "$first" $((first + seeds - 1))); do
	out=$(run "$seed")
	printf 'seed %-4s %s\n' "$seed" "$out"
	[[ $out == *"churn-check: ok"* ]] && continue
	bad=$((bad + 1))
	if [[ -n $keep ]]; then
		mkdir -p "$keep/seed-$seed"
		cp "$tmp/out" "$tmp/err" "$tmp"/writer-*.log "$keep/seed-$seed/"
		(cd "$tmp/w" && find . -printf '%y %i %p\n') >"$keep/seed-$seed/tree"
	fi
done
echo "diverged: $bad of $seeds"
