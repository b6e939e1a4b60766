// /etc/liaison/liaison.toml: root's file, but a typo must be an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)liaison::parse_config(text, "fuzz.toml");
  return 0;
}
