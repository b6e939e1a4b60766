// key_store_crash_child DIRECTORY LABEL: replaces LABEL in the key store at DIRECTORY with a new
// complete record, over and over, until it is killed. Prints "ready" once the store is open and
// "wrote <hex SHA-256 of the SPKI>" after each create returns, one write(2) per line, so the test
// that SIGKILLs it knows which records were complete.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "keys/key_store.h"
#include "keys/software_provider.h"

namespace {

using liaison::keys::KeyStore;
using liaison::keys::SoftwareKeyProvider;

// Unbuffered: a line in a stdio buffer would die with the process and never be reported.
void report(std::string_view line) {
  std::string text = fmt::format("{}\n", line);
  (void)!::write(STDOUT_FILENO, text.data(), text.size());
}

std::string hex(const liaison::keys::Bytes& bytes) {
  std::string text;
  for (uint8_t byte : bytes) text += fmt::format("{:02x}", byte);
  return text;
}

int replace_forever(KeyStore& store, const std::string& label) {
  SoftwareKeyProvider provider;
  for (;;) {
    auto key = provider.generate();
    if (!key) {
      fmt::print(stderr, "generate: {}\n", key.error().message);
      return 1;
    }
    auto record = liaison::keys::make_key_record(label, provider, **key);
    if (auto created = store.create(record, /*replace=*/true); !created) {
      fmt::print(stderr, "create: {}\n", created.error().message);
      return 1;
    }
    report("wrote " + hex(liaison::keys::sha256(record.public_key_spki)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: key_store_crash_child DIRECTORY LABEL\n");
    return 2;
  }
  auto store = KeyStore::open(argv[1], ::getuid());
  if (!store) {
    fmt::print(stderr, "open: {}\n", store.error().message);
    return 1;
  }
  report("ready");
  return replace_forever(*store, argv[2]);
}
