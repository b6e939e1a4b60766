# bash completion for liaison(8): commands, subcommands, the flags of each, and their values.
# Installed as share/bash-completion/completions/liaison; self-contained (it needs none of the
# bash-completion package's helpers), so `source` it anywhere. Checked against `liaison --help` by
# tests/docs/check_docs.py.

_liaison_users() {
  # Human accounts: uid 1000 and up, not nobody (65534).
  getent passwd 2>/dev/null | awk -F: '$3 >= 1000 && $3 < 65534 { print $1 }'
}

_liaison_sessions() {
  command -v loginctl >/dev/null 2>&1 || return
  loginctl list-sessions --no-legend 2>/dev/null | awk '{ print $1 }'
}

# The flags of a command path ("notify", "key sign", ...).
_liaison_flags() {
  local client="--runtime-dir --help"
  case "$1" in
    daemon) echo "--config --runtime-dir --state-dir --log-level --help" ;;
    agent) echo "--help" ;;
    sessions) echo "$client --json" ;;
    notify)
      echo "$client --json --user --session --all --title --body --action-url --action" \
        "--urgency --icon --id --wait-action"
      ;;
    version) echo "$client" ;;
    doctor) echo "$client --json --user" ;;
    "key create") echo "$client --json --user --label --backend --replace" ;;
    "key list") echo "$client --json --user" ;;
    "key public") echo "$client --user --label --format --out" ;;
    "key sign") echo "$client --user --label --in --out --digest" ;;
    "key delete") echo "$client --json --user --label" ;;
    "key attest") echo "$client --json --user --label --challenge --format --out" ;;
    "launch-agent install" | "launch-agent uninstall" | "launch-agent status")
      echo "$client --json --user --all"
      ;;
    "attest ek" | "attest enroll") echo "$client --json" ;;
    "attest activate" | "attest install-cert") echo "$client --json --in" ;;
    presence) echo "$client --json --user --session --reason --timeout" ;;
  esac
}

# Whether a flag takes a value (the next word).
_liaison_takes_value() {
  case "$1" in
    --config | --runtime-dir | --state-dir | --log-level | --user | --session | --title | \
      --body | --action-url | --action | --urgency | --icon | --id | --wait-action | --label | \
      --backend | --format | --in | --out | --challenge | --reason | --timeout)
      return 0
      ;;
  esac
  return 1
}

_liaison() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local prev=""
  ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD - 1]}"
  # `--flag=value`: bash splits at "=" (COMP_WORDBREAKS), giving "--flag" "=" "value".
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
    prev="${COMP_WORDS[COMP_CWORD - 2]}"
  fi
  COMPREPLY=()

  # The command and subcommand typed so far: the words before the cursor that are neither
  # flags nor the values of flags.
  local command="" sub="" word i skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${COMP_WORDS[i]}"
    if ((skip)); then
      skip=0
      [[ $word == "=" ]] && skip=1
      continue
    fi
    if [[ $word == -* ]]; then
      _liaison_takes_value "$word" && skip=1
      continue
    fi
    [[ $word == "=" ]] && continue
    if [[ -z $command ]]; then
      command="$word"
    elif [[ -z $sub && ($command == key || $command == launch-agent || $command == attest) ]]; then
      sub="$word"
    fi
  done

  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "daemon agent sessions notify version key \
        launch-agent attest presence doctor" -- "$cur")
    fi
    return
  fi
  if [[ -z $sub && ($command == key || $command == launch-agent || $command == attest) ]]; then
    local subs="create list public sign delete attest"
    [[ $command == launch-agent ]] && subs="install uninstall status"
    [[ $command == attest ]] && subs="ek enroll activate install-cert"
    [[ $cur == -* ]] && subs="--help"
    mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
    return
  fi

  # The value of the flag before the cursor.
  if _liaison_takes_value "$prev"; then
    case "$prev" in
      --urgency) mapfile -t COMPREPLY < <(compgen -W "low normal critical" -- "$cur") ;;
      --backend) mapfile -t COMPREPLY < <(compgen -W "auto tpm secure-enclave software" -- "$cur") ;;
      --format)
        if [[ $sub == attest ]]; then
          mapfile -t COMPREPLY < <(compgen -W "webauthn tpm" -- "$cur")
        else
          mapfile -t COMPREPLY < <(compgen -W "pem der jwk" -- "$cur")
        fi
        ;;
      --log-level) mapfile -t COMPREPLY < <(compgen -W "debug info warning error" -- "$cur") ;;
      --user) mapfile -t COMPREPLY < <(compgen -W "$(_liaison_users)" -- "$cur") ;;
      --session) mapfile -t COMPREPLY < <(compgen -W "$(_liaison_sessions)" -- "$cur") ;;
      --in | --out | --config | --icon)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        ;;
      --runtime-dir | --state-dir)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        ;;
    esac
    return
  fi

  local path="$command"
  [[ -n $sub ]] && path="$command $sub"
  mapfile -t COMPREPLY < <(compgen -W "$(_liaison_flags "$path")" -- "$cur")
}

complete -F _liaison liaison
