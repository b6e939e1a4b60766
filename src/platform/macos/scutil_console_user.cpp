#include "platform/macos/scutil_console_user.h"

#include <fmt/format.h>

#include <charconv>

namespace liaison::platform::macos {
namespace {

constexpr std::string_view kDictionaryOpen = "<dictionary> {";
constexpr std::string_view kArrayOpen = "<array> {";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = trim(text.substr(0, end));
    if (!line.empty()) {
      lines.push_back(line);
    }
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return lines;
}

ScutilNode container_for(std::string_view opener) {
  ScutilNode node;
  node.kind = opener == kArrayOpen ? ScutilNode::Kind::kArray : ScutilNode::Kind::kDictionary;
  return node;
}

// Reads the lines of one container after its opening line, up to and including its "}".
std::expected<ScutilNode, std::string> parse_container(const std::vector<std::string_view>& lines,
                                                       size_t& next, ScutilNode container) {
  while (next < lines.size()) {
    const std::string_view line = lines[next++];
    if (line == "}") {
      return container;
    }
    const auto separator = line.find(" : ");
    if (separator == std::string_view::npos) {
      return std::unexpected(fmt::format("scutil output: unexpected line \"{}\"", line));
    }
    std::string key(line.substr(0, separator));
    const std::string_view value = line.substr(separator + 3);
    if (value == kDictionaryOpen || value == kArrayOpen) {
      auto child = parse_container(lines, next, container_for(value));
      if (!child) {
        return child;
      }
      container.children.emplace_back(std::move(key), std::move(*child));
    } else {
      ScutilNode scalar;
      scalar.scalar = std::string(value);
      container.children.emplace_back(std::move(key), std::move(scalar));
    }
  }
  return std::unexpected(std::string("scutil output ends before its containers close"));
}

std::optional<uid_t> parse_uid(const ScutilNode* node) {
  if (node == nullptr || node->kind != ScutilNode::Kind::kScalar) {
    return std::nullopt;
  }
  uid_t uid = 0;
  const auto& text = node->scalar;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), uid);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return uid;
}

std::string scalar_or_empty(const ScutilNode* node) {
  if (node == nullptr || node->kind != ScutilNode::Kind::kScalar) {
    return {};
  }
  return node->scalar;
}

ConsoleSessionEntry session_entry_from(const ScutilNode& entry) {
  return ConsoleSessionEntry{
      .session_id = scalar_or_empty(entry.find("kCGSSessionIDKey")),
      .uid = parse_uid(entry.find("kCGSSessionUserIDKey")),
      .user = scalar_or_empty(entry.find("kCGSSessionUserNameKey")),
      .on_console = scalar_or_empty(entry.find("kCGSSessionOnConsoleKey")) == "TRUE",
  };
}

// The uid of a session that belongs to a person; nullopt for system accounts and the login
// window.
std::optional<uid_t> person_uid(const ConsoleSessionEntry& entry) {
  if (!entry.uid || *entry.uid < kFirstHumanUid || is_system_console_name(entry.user)) {
    return std::nullopt;
  }
  return entry.uid;
}

}  // namespace

const ScutilNode* ScutilNode::find(std::string_view key) const {
  for (const auto& [child_key, child] : children) {
    if (child_key == key) {
      return &child;
    }
  }
  return nullptr;
}

std::expected<std::optional<ScutilNode>, std::string> parse_scutil_dictionary(
    std::string_view text) {
  const auto lines = split_lines(text);
  if (lines.size() == 1 && lines.front() == "No such key") {
    return std::nullopt;
  }
  if (lines.empty() || lines.front() != kDictionaryOpen) {
    return std::unexpected(std::string("scutil output does not start with <dictionary> {"));
  }
  size_t next = 1;
  auto root = parse_container(lines, next, container_for(kDictionaryOpen));
  if (!root) {
    return std::unexpected(root.error());
  }
  if (next != lines.size()) {
    return std::unexpected(std::string("scutil output has text after its dictionary"));
  }
  return std::optional<ScutilNode>(std::move(*root));
}

ConsoleUserState console_user_state_from(const ScutilNode& dictionary) {
  ConsoleUserState state;
  if (const auto* name = dictionary.find("Name"); name && name->kind == ScutilNode::Kind::kScalar) {
    state.name = name->scalar;
  }
  state.uid = parse_uid(dictionary.find("UID"));
  if (const auto* sessions = dictionary.find("SessionInfo")) {
    for (const auto& [index, entry] : sessions->children) {
      if (entry.kind == ScutilNode::Kind::kDictionary) {
        state.sessions.push_back(session_entry_from(entry));
      }
    }
  }
  return state;
}

std::expected<ConsoleUserState, std::string> parse_console_user_state(std::string_view text) {
  auto dictionary = parse_scutil_dictionary(text);
  if (!dictionary) {
    return std::unexpected(dictionary.error());
  }
  const std::optional<ScutilNode>& node = *dictionary;
  if (!node) {
    return ConsoleUserState{};
  }
  return console_user_state_from(*node);
}

bool is_system_console_name(std::string_view name) {
  return name == "loginwindow" || name == "_mbsetupuser";
}

std::optional<uid_t> user_on_console(const ConsoleUserState& state) {
  // Before the first login there is no Name; at the login window it is "loginwindow" while
  // SessionInfo may still mark a switched-away user as on console.
  if (!state.name || is_system_console_name(*state.name)) {
    return std::nullopt;
  }
  for (const auto& entry : state.sessions) {
    if (!entry.on_console) {
      continue;
    }
    const std::optional<uid_t> uid = person_uid(entry);
    if (!uid) {
      return std::nullopt;
    }
    if (state.uid && *state.uid != *uid) {
      return std::nullopt;
    }
    return uid;
  }
  return std::nullopt;
}

std::vector<daemon::Session> gui_sessions(const ConsoleUserState& state) {
  const auto on_screen = user_on_console(state);
  std::vector<daemon::Session> sessions;
  for (const auto& entry : state.sessions) {
    const std::optional<uid_t> uid = person_uid(entry);
    if (!uid) {
      continue;
    }
    const bool active = on_screen && entry.on_console && *uid == *on_screen;
    sessions.push_back(daemon::Session{
        .id = entry.session_id,
        .uid = *uid,
        .user = entry.user,
        .type = "aqua",
        .session_class = "user",
        .state = active ? "active" : "online",
    });
  }
  return sessions;
}

}  // namespace liaison::platform::macos
