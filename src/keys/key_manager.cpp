#include "keys/key_manager.h"

#include <fmt/format.h>

#include "keys/label.h"

namespace liaison::keys {
namespace {

KeyError invalid(std::string message) { return KeyError{"invalid_params", std::move(message)}; }

}  // namespace

KeyResult<KeyRecord> KeyManager::create(std::string_view label, std::string_view backend,
                                        bool replace) {
  if (auto valid = check_label(label); !valid) {
    return std::unexpected(invalid(valid.error()));
  }
  if (!replace) {
    // Checked before generating: a TPM key generation is slow, and refusing after it is waste.
    if (auto existing = store_.load(label); existing) {
      return std::unexpected(
          KeyError{"exists", fmt::format("a key \"{}\" exists already (use --replace)", label)});
    }
  }
  auto provider = providers_(backend);
  if (!provider) {
    return std::unexpected(provider.error());
  }
  auto key = (*provider)->generate();
  if (!key) {
    return std::unexpected(key.error());
  }
  KeyRecord record = make_key_record(std::string(label), **provider, **key);
  if (auto stored = store_.create(record, replace); !stored) {
    return std::unexpected(stored.error());
  }
  loaded_.insert_or_assign(std::string(label), Loaded{record.wrapped_key, std::move(*key)});
  return record;
}

KeyResult<KeyRecord> KeyManager::find(std::string_view label) {
  auto stamp = store_.stamp(label);
  if (stamp) {
    if (auto known = known_.find(label); known != known_.end() && known->second.stamp == *stamp) {
      return known->second.record;
    }
  }
  // Changed, new, or gone: the store reads and checks it (and says precisely what is wrong).
  auto record = store_.load(label);
  if (!record || !stamp) {
    known_.erase(std::string(label));
    return record;
  }
  known_.insert_or_assign(std::string(label), Known{*stamp, *record});
  return record;
}

KeyResult<UnexportableSigningKey*> KeyManager::load(const KeyRecord& record) {
  if (auto found = loaded_.find(record.label);
      found != loaded_.end() && found->second.wrapped == record.wrapped_key) {
    return found->second.key.get();
  }
  auto provider = providers_(record.backend);
  if (!provider) {
    return std::unexpected(provider.error());
  }
  auto key = (*provider)->from_wrapped(record.wrapped_key);
  if (!key) {
    return std::unexpected(key.error());
  }
  UnexportableSigningKey* raw = key->get();
  loaded_.insert_or_assign(record.label, Loaded{record.wrapped_key, std::move(*key)});
  return raw;
}

KeyResult<Bytes> KeyManager::sign_digest(std::string_view label, std::span<const uint8_t> digest) {
  if (digest.size() != 32) {
    return std::unexpected(
        invalid(fmt::format("a SHA-256 digest is 32 bytes, not {}", digest.size())));
  }
  auto record = find(label);
  if (!record) {
    return std::unexpected(record.error());
  }
  auto key = load(*record);
  if (!key) {
    return std::unexpected(key.error());
  }
  return (*key)->sign_digest(digest);
}

KeyResult<void> KeyManager::remove(std::string_view label) {
  auto record = find(label);
  if (!record) {
    return std::unexpected(record.error());
  }
  loaded_.erase(std::string(label));
  known_.erase(std::string(label));
  if (auto provider = providers_(record->backend); provider) {
    if (auto erased = (*provider)->erase(record->wrapped_key); !erased) {
      return std::unexpected(erased.error());
    }
  }
  return store_.remove(label);
}

}  // namespace liaison::keys
