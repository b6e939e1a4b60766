// What the command line says when a word that should name a subcommand names none
// (`liaison presense`, `liaison key creat`): CLI11 would take it for a stray argument, or print
// the top-level help and exit 0 when --help follows. Like git and systemctl, liaison names the
// word, suggests the nearest command and exits 2.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::cli {

// Edits (insert, delete, substitute one character) between `a` and `b`.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The command among `names` closest to `word`: within two edits, or that `word` begins; empty
// when none is close.
std::string closest_command(std::string_view word, const std::vector<std::string>& names);

// Follows `args` (argv without the program) down `app`'s subcommands until an option, a command
// without subcommands, or the end; a word there that names no subcommand gets the error to print:
// "unknown command "presense" (did you mean "presence"?); `liaison --help` lists them".
std::optional<std::string> unknown_command_error(CLI::App& app, std::span<const char* const> args);

}  // namespace liaison::cli
