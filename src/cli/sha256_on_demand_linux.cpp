#include <dlfcn.h>
#include <fmt/format.h>
#include <openssl/evp.h>  // declarations only: the pointer types below are OpenSSL's own

#include "cli/sha256_on_demand.h"

namespace liaison::cli {
namespace {

// The soname of OpenSSL 3's libcrypto, the ABI <openssl/evp.h> declares.
constexpr char kLibcrypto[] = "libcrypto.so.3";

struct Libcrypto {
  decltype(&EVP_Digest) digest = nullptr;
  decltype(&EVP_sha256) sha256 = nullptr;
  std::string error;
};

// Loaded once and never unloaded (the process is a short command).
const Libcrypto& libcrypto() {
  static const Libcrypto loaded = [] {
    Libcrypto functions;
    void* handle = ::dlopen(kLibcrypto, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      functions.error = fmt::format("cannot load {} for SHA-256: {}", kLibcrypto, ::dlerror());
      return functions;
    }
    functions.digest = reinterpret_cast<decltype(&EVP_Digest)>(::dlsym(handle, "EVP_Digest"));
    functions.sha256 = reinterpret_cast<decltype(&EVP_sha256)>(::dlsym(handle, "EVP_sha256"));
    if (functions.digest == nullptr || functions.sha256 == nullptr) {
      functions.error = fmt::format("{} has no EVP_Digest or EVP_sha256", kLibcrypto);
    }
    return functions;
  }();
  return loaded;
}

}  // namespace

std::expected<std::vector<uint8_t>, std::string> sha256_on_demand(std::span<const uint8_t> data) {
  const Libcrypto& crypto = libcrypto();
  if (!crypto.error.empty()) {
    return std::unexpected(crypto.error);
  }
  std::vector<uint8_t> digest(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (crypto.digest(data.data(), data.size(), digest.data(), &length, crypto.sha256(), nullptr) !=
          1 ||
      length != 32) {
    return std::unexpected("libcrypto could not compute the SHA-256 digest");
  }
  digest.resize(length);
  return digest;
}

}  // namespace liaison::cli
