// Errors from system calls and libraries that report errno-style codes, for std::expected.
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <expected>
#include <string>
#include <system_error>

namespace liaison {

// What failed ("open /run/liaison/agent.sock") and the errno it failed with.
struct SystemError {
  std::string what;
  int error_number = 0;

  std::string message() const {
    if (error_number == 0) {
      return what;
    }
    return fmt::format("{}: {}", what, std::generic_category().message(error_number));
  }
};

template <typename T>
using SystemResult = std::expected<T, SystemError>;

// The last errno, wrapped with a description of the call that set it.
inline std::unexpected<SystemError> last_system_error(std::string what) {
  return std::unexpected(SystemError{std::move(what), errno});
}

// For libsystemd-style calls that return a negative errno.
inline std::unexpected<SystemError> negative_errno_error(std::string what, int negative_errno) {
  return std::unexpected(SystemError{std::move(what), -negative_errno});
}

}  // namespace liaison
