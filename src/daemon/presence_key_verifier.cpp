#include "daemon/presence_key_verifier.h"

#include <fmt/format.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "common/portable_calls.h"
#include "common/safe_files.h"
#include "daemon/presence_service.h"
#include "keys/base64.h"
#include "keys/signature_check.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;
namespace codes = protocol::codes;

constexpr std::string_view kChallengeTag = "liaison presence v1";
constexpr auto kEnrollTimeout = std::chrono::seconds(10);
// presence.check withdraws a check at its own timeout; the agent's call must not end first.
constexpr auto kSignTimeout = kMaxPresenceTimeout + std::chrono::seconds(30);
constexpr std::size_t kMaxPublicKeyBytes = 512;

std::optional<std::vector<uint8_t>> decoded(const Json& answer, const char* field) {
  const auto found = answer.find(field);
  if (found == answer.end() || !found->is_string()) {
    return std::nullopt;
  }
  return keys::base64_decode(found->get_ref<const std::string&>());
}

std::string spki_file(uid_t uid) { return fmt::format("{}.spki", uid); }

}  // namespace

std::vector<uint8_t> presence_challenge(std::string_view session_id,
                                        std::span<const uint8_t> nonce) {
  std::vector<uint8_t> challenge(kChallengeTag.begin(), kChallengeTag.end());
  challenge.push_back(0);
  challenge.insert(challenge.end(), session_id.begin(), session_id.end());
  challenge.push_back(0);
  challenge.insert(challenge.end(), nonce.begin(), nonce.end());
  return challenge;
}

PresenceOutcome presence_signature_outcome(const Result<Json>& answer,
                                           std::span<const uint8_t> public_key,
                                           std::span<const uint8_t> challenge) {
  if (!answer) {
    const Error& error = answer.error();
    if (error.data_code == "denied") {
      return {PresenceResult::kDenied, error.message};
    }
    if (error.data_code == codes::kTimeout) {
      return {PresenceResult::kTimeout, error.message};
    }
    if (error.code == protocol::kMethodNotFound) {
      return {PresenceResult::kUnavailable,
              "the session's agent cannot ask for presence (an older liaison?)"};
    }
    return {PresenceResult::kUnavailable, error.message};
  }
  const auto signed_with = decoded(*answer, "public_key");
  if (signed_with && !std::ranges::equal(*signed_with, public_key)) {
    return {PresenceResult::kUnavailable,
            "the session's presence key is not the one enrolled for this user (was it "
            "deleted?): remove its public key from /var/lib/liaison/presence to enroll anew"};
  }
  const auto signature = decoded(*answer, "signature");
  if (!signature || !keys::check_p256_signature(public_key, challenge, *signature)) {
    return {PresenceResult::kDenied,
            "the agent's answer is no signature of the challenge by the enrolled presence key"};
  }
  return {PresenceResult::kConfirmed, ""};
}

struct PresenceKeyVerifier::Check {
  Session session;
  std::string reason;
  Done done;
  bool ended = false;  // answered, or withdrawn by the caller: `done` is not called again
  std::weak_ptr<protocol::Connection> agent;  // while presence.sign is out

  void finish(PresenceOutcome outcome) {
    if (!ended) {
      ended = true;
      done(std::move(outcome));
    }
  }
};

class PresenceKeyVerifier::Pending final : public PendingPresenceCheck {
 public:
  explicit Pending(std::shared_ptr<Check> check) : check_(std::move(check)) {}
  ~Pending() override {
    const bool asking = !check_->ended;
    check_->ended = true;
    if (auto agent = check_->agent.lock(); agent && asking) {
      agent->notify("presence.cancel", Json::object());
    }
  }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;

 private:
  std::shared_ptr<Check> check_;
};

std::expected<std::unique_ptr<PendingPresenceCheck>, PresenceOutcome> PresenceKeyVerifier::start(
    const Session& session, const std::string& reason, Done done) {
  auto check = std::make_shared<Check>(Check{session, reason, std::move(done)});
  asio::co_spawn(io_, run(check), asio::detached);
  return std::make_unique<Pending>(check);
}

asio::awaitable<void> PresenceKeyVerifier::run(std::shared_ptr<Check> check) {
  auto agent = co_await agents_.ready_connection(check->session.id, std::chrono::seconds(5));
  if (check->ended) {
    co_return;
  }
  if (!agent) {
    check->finish({PresenceResult::kNoAgent,
                   fmt::format("no liaison agent is ready in session {} to ask the user",
                               check->session.id)});
    co_return;
  }
  auto key = co_await public_key_of(check->session, *agent);
  if (check->ended) {
    co_return;
  }
  if (!key) {
    check->finish({PresenceResult::kUnavailable, key.error().message});
    co_return;
  }
  std::vector<uint8_t> nonce(kPresenceNonceBytes);
  if (!fill_random(nonce)) {
    check->finish({PresenceResult::kUnavailable, "no randomness for the nonce"});
    co_return;
  }
  const std::vector<uint8_t> challenge = presence_challenge(check->session.id, nonce);
  check->agent = agent;
  Json params = {{"challenge", keys::base64_encode(challenge)}, {"reason", check->reason}};
  auto answer = co_await agent->call("presence.sign", std::move(params), kSignTimeout);
  check->agent.reset();
  check->finish(presence_signature_outcome(answer, *key, challenge));
}

asio::awaitable<Result<std::vector<uint8_t>>> PresenceKeyVerifier::public_key_of(
    const Session& session, protocol::Connection& agent) {
  auto directory = open_directory((state_dir_ / "presence").string(), true, 0700);
  if (!directory) {
    co_return std::unexpected(Error::application(
        codes::kUnavailable,
        fmt::format("the presence key directory: {}", directory.error().message())));
  }
  auto stored = read_file_beneath(directory->get(), spki_file(session.uid), kMaxPublicKeyBytes);
  if (!stored) {
    co_return std::unexpected(Error::application(
        codes::kUnavailable, fmt::format("the stored presence key: {}", stored.error().message())));
  }
  if (const std::optional<std::string>& known = *stored; known.has_value()) {
    co_return std::vector<uint8_t>(known->begin(), known->end());
  }
  // The first check of this user: the agent makes the key (no prompt) and gives its public half.
  auto enrolled = co_await agent.call("presence.enroll", Json::object(), kEnrollTimeout);
  if (!enrolled) {
    co_return std::unexpected(enrolled.error());
  }
  auto spki = decoded(*enrolled, "public_key");
  if (!spki || spki->size() > kMaxPublicKeyBytes || !keys::check_p256_public_key(*spki)) {
    co_return std::unexpected(
        Error::application(codes::kUnavailable, "the agent's presence key is no P-256 public key"));
  }
  const std::string_view bytes(reinterpret_cast<const char*>(spki->data()), spki->size());
  if (auto written = write_file_beneath(directory->get(), spki_file(session.uid), bytes, 0600);
      !written) {
    co_return std::unexpected(Error::application(
        codes::kUnavailable,
        fmt::format("cannot keep the presence key: {}", written.error().message())));
  }
  co_return std::move(*spki);
}

}  // namespace liaison::daemon
