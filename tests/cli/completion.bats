#!/usr/bin/env bats
# The shell completions (completions/gen.py makes them from --help at build
# time): in bash through the completion function as bash calls it, in zsh
# through its completion system in a pseudo-terminal, in fish through
# `complete -C`. Each shell is checked against the help read here on its
# own (not through gen.py's parser): every option of every command.

load helpers

C=${VIGIL_COMPLETIONS:-$BATS_TEST_DIRNAME/../../build/completions}

# commands: the commands vigil --help lists
commands() {
	"$VIGIL" --help | awk '/^Commands:/ { on = 1; next }
		on && /^  [a-z]/ { print $1; next } on { exit }'
}

# help_options COMMAND: every option its --help mentions, long and short
help_options() {
	"$VIGIL" "$1" --help | grep -oE -- '(^|[^[:alnum:]_-])--[a-z][a-z0-9-]*' |
		sed 's/^[^-]*--/--/'
	"$VIGIL" "$1" --help | grep -oE '^ +-[A-Za-z0-9],' | tr -d ' ,'
}

# in_bash WORD...: what bash's completion of vigil offers for the command
# line WORD... (the last word is the one being completed; '' after a space)
in_bash() {
	bash --norc --noprofile -c '
		source "$1/vigil" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_vigil vigil "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' in_bash "$C" "$@" | sort -u
}

# in_zsh LINE: what zsh offers at the end of LINE
in_zsh() {
	timeout 60 zsh -f "$BATS_TEST_DIRNAME/zsh-complete.zsh" "$C" "$1"
}

# in_fish LINE: what fish offers at the end of LINE
in_fish() {
	fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$C/vigil.fish" "$1" |
		cut -f1 | sort -u
}

# same_options SHELL: for every command, the options SHELL completes after
# "-" are exactly those of its --help
same_options() {
	local sub want got
	for sub in $(commands); do
		want=$(help_options "$sub" | sort -u)
		case $1 in
		bash) got=$(in_bash vigil "$sub" -) ;;
		zsh) got=$(in_zsh "vigil $sub -" | grep '^-') ;;
		# (fish offers an option with an optional argument as --list=)
		fish) got=$(in_fish "vigil $sub -" | sed "s/=$//" | sort -u) ;;
		esac
		if [ "$want" != "$got" ]; then
			echo "vigil $sub: $1 completes other options than --help names:"
			diff <(echo "$want") <(echo "$got")
			return 1
		fi
	done
}

have() {
	command -v "$1" >/dev/null || skip "$1 is not installed (scripts/packages lists it for the tests)"
}

@test "bash completes every option of every command's --help, and nothing else" {
	[ "$(commands | wc -l)" -ge 4 ]
	same_options bash
}

@test "zsh completes every option of every command's --help, and nothing else" {
	have zsh
	same_options zsh
}

@test "fish completes every option of every command's --help, and nothing else" {
	have fish
	same_options fish
}

# vigil's own parser says which options take an argument: given
# --no-such-option-x after an option, a flag lets the parser go on to it
# (unrecognized), while an option that takes an argument takes it as that.
# The completion must agree, or it offers options where a value goes (or
# the reverse).
@test "bash completes an argument after just the options vigil's parser gives one" {
	local sub opt err arg bad=
	for sub in $(commands); do
		for opt in $(help_options "$sub" | sort -u); do
			case $opt in -h | --help) continue ;; esac
			err=$(timeout 60 "$VIGIL" "$sub" "$opt" --no-such-option-x </dev/null 2>&1 >/dev/null) || true
			arg=$(bash --norc -c 'source "$1/vigil"; _vigil_arg "$2" "$3"' x "$C" "$sub" "$opt")
			if [[ $err == *"unrecognized option '--no-such-option-x'"* ]]; then
				# a flag, or an optional argument ([a|b])
				[[ -z $arg || $arg == optchoice* ]] ||
					bad+="vigil $sub $opt: a flag to the parser, completed as taking '$arg'"$'\n'
			else
				[[ -n $arg && $arg != optchoice* ]] ||
					bad+="vigil $sub $opt: takes an argument (the parser: $err), completed as a flag"$'\n'
			fi
		done
	done
	[ -z "$bad" ] || { printf '%s' "$bad"; return 1; }
}

@test "bash completes the commands, and after help the commands" {
	run in_bash vigil ''
	[[ "$output" == *wait*stats* || "$output" == *run*stats*usage*wait* ]]
	for sub in $(commands); do
		[[ "$output" == *"$sub"* ]]
	done
	run in_bash vigil help s
	[ "$output" = stats ]
	run in_bash vigil r
	[ "$output" = run ]
}

@test "bash completes event names after -e, --event, --events and a comma" {
	run in_bash vigil wait -e mo
	[ "$output" = "$(printf '%s\n' modify move move_self moved_from moved_to)" ]
	run in_bash vigil stats --event close_
	[ "$output" = "$(printf '%s\n' close_nowrite close_write)" ]
	run in_bash vigil run --events close_write,moved_t
	[ "$output" = close_write,moved_to ]
	run in_bash vigil wait -e create,delete_s
	[ "$output" = create,delete_self ]
	# stats sorts by an event or the total
	run in_bash vigil stats -d t
	[ "$output" = total ]
}

@test "bash completes the backends after --backend, for each command with one" {
	local sub n=0
	for sub in $(commands); do
		"$VIGIL" "$sub" --help | grep -q -- --backend || continue
		run in_bash vigil "$sub" --backend ''
		[ "$(sort <<<"$output")" = "$(printf '%s\n' auto fanotify filesystem inotify mount poll)" ]
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}

@test "bash completes a duration's units after a number" {
	run in_bash vigil run --settle 5
	[ "$output" = "$(printf '%s\n' 5h 5m 5ms 5s)" ]
	run in_bash vigil wait --poll-interval 1.5
	[ "$output" = "$(printf '%s\n' 1.5h 1.5m 1.5ms 1.5s)" ]
	run in_bash vigil run --settle 2m
	[ "$output" = 2ms ] || [ "$output" = "$(printf '%s\n' 2m 2ms)" ]
	# no number yet: nothing (not file names)
	run in_bash vigil run --retry-delay ''
	[ -z "$output" ]
}

@test "bash completes the choices of an option: --on-busy, --log-format, --list" {
	run in_bash vigil run --on-busy ''
	[ "$output" = "$(printf '%s\n' queue restart signal skip)" ]
	run in_bash vigil run --log-format j
	[ "$output" = json ]
	run in_bash vigil run --list f
	[ "$output" = failed ]
	run in_bash vigil run --stop-signal T
	[ "$output" = TERM ]
}

@test "bash completes paths where a path goes, and a directory where one does" {
	mkdir "$W/sub dir" "$W/subway"
	touch "$W/rules.ini" "$W/subfile"
	run in_bash vigil run --rules ru
	[ "$output" = rules.ini ]
	run in_bash vigil wait -m su
	[ "$output" = "$(printf '%s\n' 'sub dir' subfile subway)" ]
	run in_bash vigil run --state su
	[ "$output" = "$(printf '%s\n' 'sub dir' subway)" ]
	run in_bash vigil stats --fromfile sub
	[[ "$output" == *subfile* ]]
	run in_bash vigil usage -s su
	[ "$output" = "$(printf '%s\n' 'sub dir' subway)" ]
	# an option's free-text argument gets nothing
	run in_bash vigil wait --exclude su
	[ -z "$output" ]
}

@test "bash completes the command after -- in vigil run" {
	run in_bash vigil run -r . -- bas
	[[ "$output" == *bash* ]]
	touch "$W/file-one"
	run in_bash vigil run -r . -- cat file-o
	[ "$output" = file-one ]
}

@test "zsh completes events, backends, durations and paths" {
	have zsh
	touch "$W/rules.ini"
	run in_zsh "vigil wait -e close_write,mo"
	[ "$output" = "$(printf '%s\n' modify move move_self moved_from moved_to)" ]
	run in_zsh "vigil stats --backend "
	[ "$(sort <<<"$output")" = "$(printf '%s\n' auto fanotify filesystem inotify mount poll)" ]
	run in_zsh "vigil run --settle 5"
	[ "$output" = "$(printf '%s\n' 5h 5m 5ms 5s)" ]
	run in_zsh "vigil run --rules ru"
	[[ "$output" == *rules.ini* ]]
	run in_zsh "vigil "
	for sub in $(commands); do
		[[ "$output" == *"$sub"* ]]
	done
}

@test "fish completes events, backends, durations and paths" {
	have fish
	touch "$W/rules.ini"
	run in_fish "vigil wait -e close_write,mo"
	[ "$output" = "$(printf 'close_write,%s\n' modify move move_self moved_from moved_to)" ]
	run in_fish "vigil stats --backend "
	[ "$(sort <<<"$output")" = "$(printf '%s\n' auto fanotify filesystem inotify mount poll)" ]
	run in_fish "vigil run --settle 5"
	[ "$output" = "$(printf '%s\n' 5h 5m 5ms 5s)" ]
	run in_fish "vigil run --rules ru"
	[ "$output" = rules.ini ]
	run in_fish "vigil "
	for sub in $(commands); do
		[[ "$output" == *"$sub"* ]]
	done
}

# A vigil whose help has an option more: the generator completes it with no
# edit, and one whose argument is of a kind it does not know stops it.
@test "an option added to --help is completed; a new kind of argument stops the build" {
	[ -n "${VIGIL_COMPLETION_GEN:-}" ] || skip "VIGIL_COMPLETION_GEN is not set (meson test sets it)"
	local py=${VIGIL_COMPLETION_PY:-python3}
	# the real help, with one more line after --json
	cat >"$TEST_DIR/fake" <<EOF
#!/bin/sh
"$VIGIL" "\$@" | sed 's/^\(  *\)--json\(  *\)\(.*\)\$/&\n\1--frobnicate\2make it so/'
EOF
	chmod +x "$TEST_DIR/fake"
	"$TEST_DIR/fake" wait --help | grep -q -- '--frobnicate'
	mkdir "$TEST_DIR/out1"
	"$py" "$VIGIL_COMPLETION_GEN" "$TEST_DIR/fake" "$TEST_DIR/out1"
	C=$TEST_DIR/out1
	run in_bash vigil wait --frob
	[ "$output" = --frobnicate ]
	run in_bash vigil usage --frob
	[ "$output" = --frobnicate ]
	# the same option with an argument nobody has said how to complete
	sed -i 's/--frobnicate/--frobnicate WIDGET/' "$TEST_DIR/fake"
	mkdir "$TEST_DIR/out2"
	run "$py" "$VIGIL_COMPLETION_GEN" "$TEST_DIR/fake" "$TEST_DIR/out2"
	[ "$status" -ne 0 ]
	[[ "$output" == *"'WIDGET' is new"* ]]
}
