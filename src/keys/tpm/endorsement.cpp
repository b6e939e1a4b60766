#include "keys/tpm/endorsement.h"

#include <algorithm>

namespace liaison::keys::tpm {
namespace {

constexpr TPM2_HANDLE kEkRangeFirst = 0x01c00000;
constexpr uint32_t kEkRangeCount = 0x20;  // through 0x01c0001f: both ranges of the profile

}  // namespace

KeyResult<std::vector<EkCertificate>> read_ek_certificates(TpmConnection& tpm) {
  auto defined = tpm.nv_indices(kEkRangeFirst, kEkRangeCount);
  if (!defined) {
    return std::unexpected(defined.error());
  }
  std::vector<EkCertificate> certificates;
  for (const EkCertificateIndex& candidate : kEkCertificateIndices) {
    if (std::find(defined->begin(), defined->end(), candidate.nv_index) == defined->end()) {
      continue;
    }
    auto der = tpm.read_nv(candidate.nv_index);
    if (!der) {
      return std::unexpected(der.error());
    }
    certificates.push_back({candidate.nv_index, candidate.key_type, std::move(*der)});
  }
  return certificates;
}

}  // namespace liaison::keys::tpm
