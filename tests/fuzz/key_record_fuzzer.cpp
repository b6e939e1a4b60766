// A key store record: a file in the user's own directory, so any bytes at all.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "keys/key_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto record = liaison::keys::parse_key_record(text, "fuzz-label");
  if (record && record->label != "fuzz-label") {
    std::abort();  // a record must be under the label it was asked for
  }
  return 0;
}
