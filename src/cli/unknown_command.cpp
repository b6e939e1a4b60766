#include "cli/unknown_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace liaison::cli {
namespace {

constexpr std::size_t kMaxSuggestedEdits = 2;

std::vector<std::string> names_of(const std::vector<CLI::App*>& subcommands) {
  std::vector<std::string> names;
  names.reserve(subcommands.size());
  for (const CLI::App* subcommand : subcommands) {
    names.push_back(subcommand->get_name());
  }
  return names;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the Levenshtein table at a time.
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_command(std::string_view word, const std::vector<std::string>& names) {
  std::string best;
  std::size_t best_distance = kMaxSuggestedEdits + 1;
  for (const std::string& name : names) {
    const std::size_t distance =
        !word.empty() && name.starts_with(word) ? 0 : edit_distance(word, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

std::optional<std::string> unknown_command_error(CLI::App& app, std::span<const char* const> args) {
  CLI::App* current = &app;
  // CLI11 names the top-level app after argv[0] only while parsing, which has not happened yet.
  std::string path = app.get_name().empty() ? std::string("liaison") : app.get_name();
  for (const char* raw : args) {
    std::string_view word(raw);
    const std::vector<CLI::App*> subcommands = current->get_subcommands({});  // all of them
    if (word.starts_with('-') || subcommands.empty()) {
      return std::nullopt;  // options, and what a command without subcommands takes
    }
    auto next = std::ranges::find_if(
        subcommands, [&](const CLI::App* subcommand) { return subcommand->get_name() == word; });
    if (next == subcommands.end()) {
      std::string suggestion = closest_command(word, names_of(subcommands));
      return fmt::format(
          "unknown command \"{}\"{}; `{} --help` lists them", word,
          suggestion.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", suggestion), path);
    }
    current = *next;
    path += " " + current->get_name();
  }
  return std::nullopt;
}

}  // namespace liaison::cli
