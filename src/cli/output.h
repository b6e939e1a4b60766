// What the commands print: aligned tables for people, stable JSON for scripts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/json_rpc.h"

namespace liaison::cli {

// Whether to colour what goes to stdout: only on a terminal, and not when NO_COLOR is set
// (no-color.org) or TERM is "dumb".
bool stdout_wants_colour();

// `text` in an ANSI colour ("green", "yellow", "red", "dim"); unchanged when `colour` is false.
std::string coloured(const std::string& text, std::string_view colour, bool enabled);

// One JSON value as a table cell: "-" for null, yes/no for booleans, strings as they are.
std::string text_of(const protocol::Json& value);

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// `liaison sessions` without --json.
std::string format_sessions(const protocol::Json& sessions);

// `liaison notify` without --json: one line per target, failures included.
std::string format_notify_results(const protocol::Json& results);

// `liaison doctor` without --json: the daemon's findings, then one block per session, each
// failure or warning followed by its fix; a closing count.
std::string format_doctor(const protocol::Json& report, bool colour);

}  // namespace liaison::cli
