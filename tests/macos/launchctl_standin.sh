#!/bin/sh
# Stands in for /bin/launchctl in macos_portable_test: appends its arguments to
# $STANDIN_ARGV_LOG (one line per call, arguments separated by tabs), then answers with captured
# macOS output: the files named by $STANDIN_STDOUT / $STANDIN_STDERR and exit $STANDIN_EXIT_CODE,
# or, when set, the per-subcommand $STANDIN_<SUBCOMMAND>_STDOUT etc. (STANDIN_PRINT_EXIT_CODE).
{
  first=1
  for argument in "$@"; do
    if [ "$first" = 1 ]; then first=0; else printf '\t'; fi
    printf '%s' "$argument"
  done
  printf '\n'
} >> "${STANDIN_ARGV_LOG:?}"

subcommand=$(printf '%s' "${1:-}" | tr 'a-z-' 'A-Z_')
answer() {  # answer NAME: the per-subcommand value if set, else the general one
  eval "specific=\${STANDIN_${subcommand}_$1-unset}"
  if [ "$specific" != unset ]; then printf '%s' "$specific"; else eval "printf '%s' \"\${STANDIN_$1:-}\""; fi
}
out=$(answer STDOUT)
err=$(answer STDERR)
code=$(answer EXIT_CODE)
[ -n "$out" ] && cat "$out"
[ -n "$err" ] && cat "$err" >&2
exit "${code:-0}"
