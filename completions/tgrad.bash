# bash completion for the tgrad toolkit: tgrad, tmatmul, tbroadcast, tdevice.
# Installed as .../bash-completion/completions/tgrad with the other tools'
# names linked to it.  The options are read from `TOOL --help` (once per
# tool and shell), so they follow the installed tool; the values of the
# options that take a dtype, a device, an op or a file are completed here.

_tgrad_options() {
    local tool=$1 var="_tgrad_opts_${1//[^a-zA-Z0-9]/_}"
    if [[ -z ${!var-} ]]; then
        printf -v "$var" '%s' "$( ("$tool" --help 2>&1 |
            grep -oE '(^|[ [|])--?[a-zA-Z][a-zA-Z0-9-]*(\[?=)?' |
            sed -E 's/^[ [|]//; s/^(.*)\[=$/\1\n\1=/'; echo --help) | sort -u | tr '\n' ' ')"
    fi
    printf '%s' "${!var}"
}

_tgrad() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local tool=${COMP_WORDS[0]}
    # --opt=VALUE: complete the value after the '=' (one word, or three
    # where COMP_WORDBREAKS splits at '=', as it does by default)
    local eq=0
    if [[ $cur == --*=* ]]; then
        eq=1 prev=${cur%%=*} cur=${cur#*=}
    elif [[ $cur == = ]]; then
        eq=1 cur=
    elif [[ $prev == = && COMP_CWORD -ge 2 ]]; then
        eq=1 prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    # flags whose value, if any, is only given after '=' (--explain=json),
    # and tgrad's --check (tdevice's takes a device)
    case $prev in
        --explain|--jacobian|--batch) [[ $eq == 1 ]] || prev= ;;
        --check) [[ ${tool##*/} == tdevice ]] || prev= ;;
    esac
    case $prev in
        --dtype)
            mapfile -t COMPREPLY < <(compgen -W 'float32 float64 int64 bool' -- "$cur"); return ;;
        --device|--check)
            mapfile -t COMPREPLY < <(compgen -W 'cpu cuda auto' -- "$cur"); return ;;
        --op)
            mapfile -t COMPREPLY < <(compgen -W 'add sub mul div pow maximum minimum eq ne lt le gt ge' -- "$cur"); return ;;
        --graph)
            mapfile -t COMPREPLY < <(compgen -W 'dot json' -- "$cur"); return ;;
        --explain)
            mapfile -t COMPREPLY < <(compgen -W 'json' -- "$cur"); return ;;
        --jacobian)
            mapfile -t COMPREPLY < <(compgen -W 'fwd' -- "$cur"); return ;;
        -o|--out|--inputs|-f|--file|--at|--grad-output)
            # a file (.npy, .json, a script) or a value typed by hand
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
        --out-dir)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
        --seed|--order|--threads|--repeat|--line-offset|--wrt|--names|--id|--jvp|--plot|--plot-points)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_tgrad_options "$tool")" -- "$cur")
        # no space after an option that takes its value after '='
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi
    # operands: tensors given as files (.npy, .json) or typed as JSON
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}
complete -F _tgrad tgrad tmatmul tbroadcast tdevice
