// A PresenceKey for tests: a software P-256 key; each signing waits until the test says whether
// the "user" confirmed, denied, or never answers (then cancel() ends it with `timeout`).
#pragma once

#include <openssl/sha.h>

#include <memory>
#include <optional>

#include "agent/presence_key.h"
#include "keys/software_provider.h"

namespace liaison::agent {

class FakePresenceKey final : public PresenceKey {
 public:
  FakePresenceKey() : key_(std::move(*keys::SoftwareKeyProvider().generate())) {}

  protocol::Result<std::vector<uint8_t>> public_key() override {
    ++public_key_calls;
    return key_->public_key_spki();
  }

  void sign(std::vector<uint8_t> message, std::string reason, Signed done) override {
    reasons.push_back(reason);
    message_ = std::move(message);
    pending_ = std::move(done);
  }

  void cancel() override {
    ++cancels;
    finish(std::unexpected(protocol::Error::application("timeout", "the prompt was withdrawn")));
  }

  bool prompting() const { return pending_ != nullptr; }

  // The user proves presence: the real signature of what was asked.
  void confirm() {
    std::vector<uint8_t> digest(SHA256_DIGEST_LENGTH);
    SHA256(message_.data(), message_.size(), digest.data());
    finish(*key_->sign_digest(digest));
  }
  void deny() {
    finish(std::unexpected(protocol::Error::application("denied", "the user cancelled")));
  }
  // What a hijacked agent might send: a signature by another key.
  void sign_with_another_key() {
    auto other = *keys::SoftwareKeyProvider().generate();
    std::vector<uint8_t> digest(SHA256_DIGEST_LENGTH);
    SHA256(message_.data(), message_.size(), digest.data());
    finish(*other->sign_digest(digest));
  }

  int public_key_calls = 0;
  int cancels = 0;
  std::vector<std::string> reasons;

 private:
  void finish(protocol::Result<std::vector<uint8_t>> result) {
    if (auto done = std::exchange(pending_, nullptr)) {
      done(std::move(result));
    }
  }

  std::unique_ptr<keys::UnexportableSigningKey> key_;
  std::vector<uint8_t> message_;
  Signed pending_;
};

}  // namespace liaison::agent
