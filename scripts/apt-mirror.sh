#!/usr/bin/env bash
# apt-mirror.sh [--proxy]: the Debian mirror this machine's own apt uses for bookworm main, so
# debootstrap (the e2e root filesystem, the fresh-check one) works wherever apt does: behind an
# internal mirror, a snapshot or a proxy.
#
#   apt-mirror.sh          prints the mirror URI: $E2E_MIRROR if set, else the first enabled
#                          "deb" source for suite bookworm with component main, read from
#                          $APT_ETC/sources.list.d/*.sources (deb822), then $APT_ETC/sources.list
#                          and $APT_ETC/sources.list.d/*.list (one-line); else deb.debian.org.
#   apt-mirror.sh --proxy  prints apt's Acquire::http::Proxy (empty when there is none).
#
# APT_ETC (default /etc/apt) exists for the tests of this script.
set -euo pipefail

apt_etc=${APT_ETC:-/etc/apt}
fallback=http://deb.debian.org/debian

if [[ ${1:-} == --proxy ]]; then
  proxy=''
  if command -v apt-config >/dev/null; then
    eval "$(apt-config shell proxy Acquire::http::Proxy)"
  fi
  echo "$proxy"
  exit 0
fi

if [[ -n ${E2E_MIRROR:-} ]]; then
  echo "$E2E_MIRROR"
  exit 0
fi

# deb822: stanzas separated by blank lines, "Field: value" with values split on whitespace.
# Only http(s) URIs: debootstrap cannot use mirror+file:, cdrom: or file: sources.
from_deb822() {
  awk '
    function flush() {
      if (!found && types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ &&
          components ~ /(^| )main( |$)/ && tolower(enabled) != "no") {
        n = split(uris, list, " ")
        for (i = 1; i <= n; i++) if (list[i] ~ /^https?:\/\//) { print list[i]; found = 1; exit }
      }
      types = suites = components = uris = enabled = ""
    }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    {
      field = tolower($1); sub(/:$/, "", field)
      value = $0; sub(/^[^:]*:[ \t]*/, "", value); gsub(/[ \t]+/, " ", value)
      if (field == "types") types = value
      else if (field == "suites") suites = value
      else if (field == "components") components = value
      else if (field == "uris") uris = value
      else if (field == "enabled") enabled = value
    }
    END { flush() }
  ' "$@"
}

# One-line: "deb [options] URI SUITE COMPONENT...".
from_one_line() {
  awk '
    /^[ \t]*#/ { next }
    $1 == "deb" {
      line = $0; sub(/#.*/, "", line)
      gsub(/\[[^]]*\]/, "", line)  # [arch=amd64 signed-by=...]
      n = split(line, w, " ")
      if (n < 4 || w[2] !~ /^https?:\/\// || w[3] != "bookworm") next
      for (i = 4; i <= n; i++) if (w[i] == "main") { print w[2]; exit }
    }
  ' "$@"
}

shopt -s nullglob
candidates=()
deb822_files=("$apt_etc"/sources.list.d/*.sources)
[[ ${#deb822_files[@]} -gt 0 ]] && candidates+=($(for f in "${deb822_files[@]}"; do from_deb822 "$f"; done))
one_line_files=()
[[ -f $apt_etc/sources.list ]] && one_line_files+=("$apt_etc/sources.list")
one_line_files+=("$apt_etc"/sources.list.d/*.list)
[[ ${#one_line_files[@]} -gt 0 ]] && candidates+=($(for f in "${one_line_files[@]}"; do from_one_line "$f"; done))

if [[ ${#candidates[@]} -gt 0 ]]; then
  echo "${candidates[0]%/}"
else
  echo "$fallback"
fi
