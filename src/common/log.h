// Logging for every liaison process: structured fields into journald when systemd connected our
// stderr to it, one plain line on stderr otherwise. Never pass a token, key material or a signed
// payload here: log lines are readable by every admin and often shipped off the machine.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace liaison::log {

enum class Level { kDebug, kInfo, kWarning, kError };

// A journal field such as {"LIAISON_SESSION", "3"}; the key is upper case, as journald requires.
struct Field {
  std::string_view key;
  std::string value;
};

void set_level(Level level);
Level current_level();
bool parse_level(std::string_view name, Level& level);
std::string_view level_name(Level level);

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

// Text a peer or a user chose (a session string, a label, an agent's message), made safe for a
// log line: at most `max_bytes` of it, control characters, backslashes, double quotes and
// non-ASCII bytes as \xNN, so no one can forge a line, end the quote around it, flood the journal
// or hide in escapes; a cut says how long the text was. Quote it in the message: "session \"{}\"".
std::string untrusted(std::string_view text, std::size_t max_bytes = 120);

inline void debug(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kDebug, message, fields);
}
inline void info(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kInfo, message, fields);
}
inline void warning(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kWarning, message, fields);
}
inline void error(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kError, message, fields);
}

}  // namespace liaison::log
