// A provider for tests of whatever routes and stores keys: the test chooses its name, the context
// it claims to need and whether it says it is hardware-backed, and can make the next operation
// fail. Signatures are real (the software provider underneath), so a test can verify them.
// Its wrapped form is "fake:" + the software provider's: no other provider loads it by mistake.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "keys/software_provider.h"
#include "keys/unexportable_key.h"

namespace liaison::keys {

class FakeKeyProvider final : public UnexportableKeyProvider {
 public:
  explicit FakeKeyProvider(KeyContext context = KeyContext::kDaemon, bool hardware_backed = true,
                           std::string name = "fake")
      : state_(std::make_shared<State>()), name_(std::move(name)) {
    state_->context = context;
    state_->hardware_backed = hardware_backed;
  }

  void set_context(KeyContext context) {
    std::lock_guard lock(state_->mutex);
    state_->context = context;
  }
  // Applies to keys made or loaded from now on.
  void set_hardware_backed(bool hardware_backed) {
    std::lock_guard lock(state_->mutex);
    state_->hardware_backed = hardware_backed;
  }
  // The next operation (generate, from_wrapped, erase, or a sign by any key of this provider)
  // returns `error` instead of doing anything. Only that one.
  void fail_next(KeyError error) {
    std::lock_guard lock(state_->mutex);
    state_->next_failure = std::move(error);
  }

  struct Calls {
    int generate = 0;
    int from_wrapped = 0;
    int erase = 0;
    int sign = 0;
    int describe = 0;
  };
  Calls calls() const {
    std::lock_guard lock(state_->mutex);
    return state_->calls;
  }

  std::string name() const override { return name_; }
  KeyContext context() const override {
    std::lock_guard lock(state_->mutex);
    return state_->context;
  }
  bool hardware_backed() const override {
    std::lock_guard lock(state_->mutex);
    return state_->hardware_backed;
  }

  KeyResult<std::unique_ptr<UnexportableSigningKey>> generate() override {
    if (auto failure = state_->take_failure(&Calls::generate)) {
      return std::unexpected(*failure);
    }
    return wrap(software_.generate());
  }

  KeyResult<std::unique_ptr<UnexportableSigningKey>> from_wrapped(
      std::span<const uint8_t> wrapped) override {
    if (auto failure = state_->take_failure(&Calls::from_wrapped)) {
      return std::unexpected(*failure);
    }
    if (!has_fake_prefix(wrapped)) {
      return std::unexpected(KeyError{"failed", name_ + ": not a wrapped key of this provider"});
    }
    return wrap(software_.from_wrapped(wrapped.subspan(kPrefix.size())));
  }

  KeyResult<void> erase(std::span<const uint8_t>) override {
    if (auto failure = state_->take_failure(&Calls::erase)) {
      return std::unexpected(*failure);
    }
    return {};
  }

  KeyResult<ProviderDescription> describe() override {
    if (auto failure = state_->take_failure(&Calls::describe)) {
      return std::unexpected(*failure);
    }
    return ProviderDescription{.summary = name_ + ": a fake provider",
                               .facts = {{"fake", true}},
                               .problem = "",
                               .fix = ""};
  }

 private:
  static constexpr std::string_view kPrefix = "fake:";

  struct State {
    mutable std::mutex mutex;
    KeyContext context = KeyContext::kDaemon;
    bool hardware_backed = true;
    std::optional<KeyError> next_failure;
    Calls calls;

    // Counts the call, and hands back the failure it must return, if one was asked for.
    std::optional<KeyError> take_failure(int Calls::*counter) {
      std::lock_guard lock(mutex);
      ++(calls.*counter);
      return std::exchange(next_failure, std::nullopt);
    }
  };

  class FakeSigningKey final : public UnexportableSigningKey {
   public:
    FakeSigningKey(std::unique_ptr<UnexportableSigningKey> real, std::shared_ptr<State> state,
                   bool hardware_backed)
        : real_(std::move(real)), state_(std::move(state)), hardware_backed_(hardware_backed) {}

    Bytes public_key_spki() const override { return real_->public_key_spki(); }
    Bytes wrapped_key() const override {
      Bytes wrapped(kPrefix.begin(), kPrefix.end());
      Bytes inner = real_->wrapped_key();
      wrapped.insert(wrapped.end(), inner.begin(), inner.end());
      return wrapped;
    }
    bool hardware_backed() const override { return hardware_backed_; }
    KeyResult<Bytes> sign_digest(std::span<const uint8_t> digest) override {
      if (auto failure = state_->take_failure(&Calls::sign)) {
        return std::unexpected(*failure);
      }
      return real_->sign_digest(digest);
    }

   private:
    std::unique_ptr<UnexportableSigningKey> real_;
    std::shared_ptr<State> state_;
    bool hardware_backed_;
  };

  static bool has_fake_prefix(std::span<const uint8_t> wrapped) {
    return wrapped.size() >= kPrefix.size() &&
           std::equal(kPrefix.begin(), kPrefix.end(), wrapped.begin());
  }

  KeyResult<std::unique_ptr<UnexportableSigningKey>> wrap(
      KeyResult<std::unique_ptr<UnexportableSigningKey>> real) {
    if (!real) {
      return std::unexpected(real.error());
    }
    return std::make_unique<FakeSigningKey>(std::move(*real), state_, hardware_backed());
  }

  // Shared with the keys this provider made, since a key may outlive its provider.
  std::shared_ptr<State> state_;
  std::string name_;
  SoftwareKeyProvider software_;
};

}  // namespace liaison::keys
