#include "keys/tpm/credential.h"

#include <fmt/format.h>
#include <tss2_mu.h>

#include <cstdint>

namespace liaison::keys::tpm {
namespace {

constexpr uint32_t kMagic = 0xBADCC0DE;
constexpr uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 8;

uint32_t big_endian_32(std::span<const uint8_t> bytes) {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
         uint32_t{bytes[3]};
}

KeyError invalid(std::string_view why) {
  return KeyError{"invalid_params",
                  fmt::format("not a credential as tpm2_makecredential writes it: {}", why)};
}

}  // namespace

KeyResult<Credential> parse_credential_file(std::span<const uint8_t> file) {
  if (file.size() < kHeaderSize) {
    return std::unexpected(invalid(fmt::format("{} bytes, shorter than its header", file.size())));
  }
  if (const uint32_t magic = big_endian_32(file.first(4)); magic != kMagic) {
    return std::unexpected(invalid(fmt::format("magic 0x{:08x}, not 0x{:08x}", magic, kMagic)));
  }
  if (const uint32_t version = big_endian_32(file.subspan(4, 4)); version != kVersion) {
    return std::unexpected(invalid(fmt::format("version {}, not {}", version, kVersion)));
  }
  Credential credential;
  std::size_t offset = kHeaderSize;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(file.data(), file.size(), &offset, &credential.blob) !=
      TSS2_RC_SUCCESS) {
    return std::unexpected(invalid("its credential blob is cut short or too long"));
  }
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(file.data(), file.size(), &offset,
                                               &credential.secret) != TSS2_RC_SUCCESS) {
    return std::unexpected(invalid("its encrypted secret is cut short or too long"));
  }
  if (offset != file.size()) {
    return std::unexpected(invalid(fmt::format("{} bytes after the secret", file.size() - offset)));
  }
  if (credential.blob.size == 0 || credential.secret.size == 0) {
    return std::unexpected(invalid("an empty credential blob or secret"));
  }
  return credential;
}

}  // namespace liaison::keys::tpm
