// Key labels name a key within one user's keys, and become file names in the key store, so the
// rules keep them boring: 1 to 64 of [A-Za-z0-9._-], never starting with '.' (which also rules
// out "." and "..", and leaves names starting with '.' free for the store's temporary files).
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace liaison::keys {

inline constexpr std::size_t kMaxLabelLength = 64;

// Nothing when `label` is acceptable; otherwise a message naming the problem, e.g.
// `label "a b" has ' ' at position 2: only letters, digits, '.', '_' and '-' are allowed`.
std::expected<void, std::string> check_label(std::string_view label);

}  // namespace liaison::keys
