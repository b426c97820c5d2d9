# zsh -f zsh-complete.zsh DIR LINE: the matches zsh's completion system
# offers when Tab is pressed at the end of LINE, one a line, with the
# completion functions of DIR first in fpath. A real interactive zsh in a
# pseudo-terminal (zsh/zpty) runs compinit and the completion widget;
# compadd is wrapped to print what it adds (then adds it). The markers
# are spelled apart ("<""<") so that the terminal's echo of the typed
# lines never matches them; the read waits for the end marker, with no
# time limit of its own (the caller's timeout is the bound).
zmodload zsh/zpty || exit 2
dir=$1 line=$2
zpty z zsh -f -i
zpty -w z "PS1= PROMPT= RPROMPT=; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
# (a compadd that only filters into an array, -O, -A or -D, adds nothing)
zpty -w z 'compadd() { if [[ " ${(j: :)@[1,(i)(-|--)]} " == *\ -[OAD]\ * ]]; then builtin compadd "$@"; return; fi; local -a __h; builtin compadd -A __h "$@"; local r=$? __x; for __x in "${__h[@]}"; do print -r -- "<""<$__x>"">"; done >/dev/tty; builtin compadd "$@"; return r; }'
zpty -w z "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' menu no; bindkey '^I' complete-word; _end() { print -r -- '<''<END>''>' >/dev/tty; }; comppostfuncs=(_end)"
zpty -w -n z "$line"$'\t'
zpty -r z out '*<<END>>*'
zpty -d z
print -r -- "$out" | tr -d '\r' | grep -ao '<<[^<>]*>>' | sed 's/^<<//; s/>>$//; s/^ *//; s/ *$//' |
	grep -vx -e END -e '' | sort -u
