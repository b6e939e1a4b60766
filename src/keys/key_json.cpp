#include "keys/key_json.h"

#include "keys/public_key_formats.h"

namespace liaison::keys {

nlohmann::json key_record_json(const KeyRecord& record, std::string_view context) {
  nlohmann::json key = {{"label", record.label},
                        {"backend", record.backend},
                        {"hardware_backed", record.hardware_backed},
                        {"context", context},
                        {"created", record.created}};
  auto pem = public_key_pem(record.public_key_spki);
  key["public_key"] = pem ? nlohmann::json(*pem) : nlohmann::json(nullptr);
  auto kid = jwk_thumbprint(record.public_key_spki);
  key["kid"] = kid ? nlohmann::json(*kid) : nlohmann::json(nullptr);
  return key;
}

nlohmann::json key_listing_json(const KeyListing& listing, std::string_view context) {
  nlohmann::json keys = nlohmann::json::array();
  for (const KeyRecord& record : listing.records) {
    keys.push_back(key_record_json(record, context));
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const KeyStoreProblem& problem : listing.problems) {
    problems.push_back({{"file", problem.file_name},
                        {"code", problem.error.code},
                        {"message", problem.error.message}});
  }
  return {{"keys", keys}, {"problems", problems}};
}

}  // namespace liaison::keys
