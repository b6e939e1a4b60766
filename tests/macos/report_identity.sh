#!/bin/sh
# Stands in for the agent (or any program) started by spawn_as_user in macos_portable_test:
# writes what it finds itself with into the file $1 (created by the test, writable by anyone):
# its ids, its environment, and what fd 3 carries (the token pipe), then exits with $2 (0).
out=${1:?}
{
  printf 'uid=%s\n' "$(id -u)"
  printf 'gid=%s\n' "$(id -g)"
  printf 'groups=%s\n' "$(id -G)"
  printf 'cwd=%s\n' "$(pwd)"
  printf 'sid_is_pid=%s\n' "$(if [ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ]; then echo yes; else echo no; fi)"
  if [ -e /dev/fd/3 ]; then printf 'fd3=%s\n' "$(cat <&3)"; else printf 'fd3=<closed>\n'; fi
  if [ -e /dev/fd/5 ]; then printf 'fd5=open\n'; else printf 'fd5=closed\n'; fi
  env | sort | sed 's/^/env:/'
} > "$out"
exit "${2:-0}"
