// What the commands print: aligned tables for people, stable JSON for scripts.
#pragma once

#include <string>
#include <vector>

#include "protocol/json_rpc.h"

namespace liaison::cli {

// One JSON value as a table cell: "-" for null, yes/no for booleans, strings as they are.
std::string text_of(const protocol::Json& value);

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// `liaison sessions` without --json.
std::string format_sessions(const protocol::Json& sessions);

// `liaison notify` without --json: one line per target, failures included.
std::string format_notify_results(const protocol::Json& results);

}  // namespace liaison::cli
