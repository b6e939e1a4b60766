#include "daemon/key_router.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/log.h"
#include "daemon/user_finder.h"
#include "daemon/users.h"
#include "keys/attestation_statement.h"
#include "keys/base64.h"
#include "keys/key_methods.h"
#include "keys/software_provider.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Json;
using protocol::Result;
namespace codes = protocol::codes;

constexpr std::string_view kDaemonContext = "daemon";
// The hardware an agent's own "auto" tries (agent/agent_keys.cpp): for it, "auto" is forwarded
// as is; any other hardware is named to the agent, and the fallback decided here.
constexpr std::string_view kAgentsOwnAuto = "tpm";

// "no TPM (…)", "no Secure Enclave (…)": what a note calls the hardware that was missing.
std::string hardware_name(std::string_view backend) {
  if (backend == "tpm") {
    return "TPM";
  }
  if (backend == "secure-enclave") {
    return "Secure Enclave";
  }
  return std::string(backend);
}

std::string software_fallback_note(std::string_view backend, const std::string& why) {
  return fmt::format("no {} ({}): made a software key, not hardware-backed", hardware_name(backend),
                     why);
}

// An agent's answer that its hardware is out of reach (no Secure Enclave, the keychain
// entitlement missing, no keychain for this process), as opposed to a refusal of the request
// itself (an existing label, a bad one) or a failure of hardware that is there.
bool hardware_out_of_reach(const Error& error) {
  return error.data_code == codes::kUnavailable || error.data_code == codes::kNotPermitted;
}

struct Placement {
  std::string backend;  // concrete, or "auto" when the agent is to decide
  keys::KeyContext context;
  std::string note;  // said next to the result when the choice deserves a word
};

// --user NAME|UID arrives as a string or a number.
std::string user_param(const Json& params) {
  auto found = params.find("user");
  if (found == params.end()) {
    return "";
  }
  if (found->is_number_unsigned() || (found->is_number_integer() && *found >= 0)) {
    return std::to_string(found->get<int64_t>());
  }
  return found->is_string() ? found->get<std::string>() : "";
}

Json with_owner(Json result, uid_t uid, const std::string& user) {
  result["user"] = user;
  result["uid"] = uid;
  return result;
}

}  // namespace

asio::awaitable<Result<Json>> KeyRouter::handle(protocol::Request request) {
  if (request.method == "key.create") {
    co_return co_await create(request.params);
  }
  if (request.method == "key.list") {
    co_return co_await list(request.params);
  }
  if (request.method == "key.attest") {
    co_return co_await attest(request.params);
  }
  if (request.method == "key.public" || request.method == "key.sign" ||
      request.method == "key.delete") {
    co_return co_await on_existing_key(request.method, request.params);
  }
  co_return std::unexpected(Error::method_not_found(request.method));
}

Result<keys::KeyManager*> KeyRouter::manager_for(uid_t uid) {
  if (auto found = managers_.find(uid); found != managers_.end()) {
    return found->second.get();
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(state_dir_) / "keys", ignored);
  auto store = keys::KeyStore::open(keys::daemon_key_directory(state_dir_, uid), ::geteuid());
  if (!store) {
    return std::unexpected(keys::key_error_to_rpc(store.error()));
  }
  auto manager = std::make_unique<keys::KeyManager>(std::move(*store), providers_);
  keys::KeyManager* raw = manager.get();
  managers_.emplace(uid, std::move(manager));
  return raw;
}

std::string KeyRouter::session_of(uid_t uid) const {
  for (const AgentView& agent : agents_.agents()) {
    if (agent.session.uid == uid && agent.state == AgentState::kReady) {
      return agent.session.id;
    }
  }
  for (const AgentView& agent : agents_.agents()) {
    if (agent.session.uid == uid) {
      return agent.session.id;  // starting: worth a short wait
    }
  }
  return "";
}

asio::awaitable<Result<std::shared_ptr<protocol::Connection>>> KeyRouter::agent_of(
    uid_t uid, const std::string& user) {
  const std::string session = session_of(uid);
  if (session.empty()) {
    co_return std::unexpected(Error::application(
        codes::kNoSession,
        fmt::format("{}'s user-session keys live in their session, and {} has none", user, user)));
  }
  auto connection = co_await agents_.ready_connection(session, std::chrono::seconds(5));
  if (!connection) {
    co_return std::unexpected(Error::application(
        codes::kUnavailable, fmt::format("the agent for session {} is not ready", session)));
  }
  co_return connection;
}

asio::awaitable<Result<Json>> KeyRouter::forward_to_agent(uid_t uid, const std::string& user,
                                                          const std::string& method, Json params) {
  auto connection = co_await agent_of(uid, user);
  if (!connection) {
    co_return std::unexpected(connection.error());
  }
  params["tpm_tcti"] = config_.keys.tpm_tcti;
  auto answer = co_await (*connection)->call(method, std::move(params), kAgentKeyTimeout);
  if (!answer) {
    co_return std::unexpected(answer.error());
  }
  co_return with_owner(std::move(*answer), uid, user);
}

// "auto" whose hardware lives in the session (the Secure Enclave on macOS): the agent is asked
// for a key of that hardware; if it answers that the hardware is out of its reach, it makes a
// software key instead, in the same session, and the answer says so. Anything else (an existing
// label, an agent that went away, hardware that is there but failed) is reported as it is.
asio::awaitable<Result<Json>> KeyRouter::create_in_session_or_software(uid_t uid,
                                                                       const std::string& user,
                                                                       Json params) {
  auto connection = co_await agent_of(uid, user);
  if (!connection) {
    co_return std::unexpected(connection.error());
  }
  params["tpm_tcti"] = config_.keys.tpm_tcti;
  params["backend"] = auto_keys_.backend;
  auto answer = co_await (*connection)->call("key.create", params, kAgentKeyTimeout);
  if (answer) {
    co_return with_owner(std::move(*answer), uid, user);
  }
  if (!hardware_out_of_reach(answer.error()) || !(*connection)->is_open()) {
    co_return std::unexpected(answer.error());
  }
  const std::string note = software_fallback_note(auto_keys_.backend, answer.error().message);
  params["backend"] = std::string(keys::kSoftwareProviderName);
  auto software = co_await (*connection)->call("key.create", std::move(params), kAgentKeyTimeout);
  if (!software) {
    co_return std::unexpected(software.error());
  }
  Json result = with_owner(std::move(*software), uid, user);
  result["note"] = note;
  log::warning(
      fmt::format("made a software key \"{}\" for {}: {}", result.value("label", ""), user, note),
      {{"LIAISON_UID", std::to_string(uid)}, {"LIAISON_EVENT", "key-created"}});
  co_return result;
}

// The user a key call names, who must be able to own keys: an account the user database knows,
// never root. "--user 0" once made "a key of root" and a uid without an account a key of nobody;
// a machine-wide key, if one is ever wanted, gets a flag of its own, not root's user keys.
// Found without blocking the loop (user_finder.h).
asio::awaitable<Result<ResolvedUser>> KeyRouter::key_owner(const Json& params) const {
  const std::string named = user_param(params);
  if (named.empty()) {
    co_return std::unexpected(Error::invalid_params("user is required"));
  }
  const std::optional<ResolvedUser> user = co_await find_user(named, agents_.agents(), users_);
  if (!user || !user->has_account) {
    co_return std::unexpected(Error::application(
        codes::kNoUser, fmt::format("no user \"{}\": a key belongs to a user account",
                                    protocol::bounded_for_error(named, 64))));
  }
  if (user->uid == 0) {
    co_return std::unexpected(Error::application(
        codes::kNoUser, "root owns no keys: keys belong to the users who log in"));
  }
  co_return *user;
}

asio::awaitable<Result<Json>> KeyRouter::create(const Json& params) {
  auto user = co_await key_owner(params);
  if (!user) {
    co_return std::unexpected(user.error());
  }
  Placement placement{params.value("backend", config_.keys.backend), keys::KeyContext::kDaemon, ""};
  const bool tpm_in_session = config_.keys.tpm_context == "user-session";
  const bool auto_in_session = auto_keys_.context == keys::KeyContext::kUserSession;
  if (placement.backend == "auto" && auto_in_session && auto_keys_.backend != kAgentsOwnAuto) {
    Json asked = {{"label", params.value("label", "")},
                  {"replace", params.value("replace", false)}};
    co_return co_await create_in_session_or_software(user->uid, user->name, std::move(asked));
  }
  if (placement.backend == "secure-enclave" || (placement.backend == "tpm" && tpm_in_session) ||
      (placement.backend == "auto" && auto_in_session)) {
    placement.context = keys::KeyContext::kUserSession;
  } else if (placement.backend == "auto") {
    auto hardware = providers_(auto_keys_.backend);
    placement.backend = hardware ? auto_keys_.backend : std::string(keys::kSoftwareProviderName);
    if (!hardware) {
      placement.note = software_fallback_note(auto_keys_.backend, hardware.error().message);
    }
  } else if (placement.backend != "tpm" && placement.backend != "software") {
    co_return std::unexpected(Error::invalid_params(fmt::format(
        "backend \"{}\" is not one of auto, tpm, secure-enclave, software", placement.backend)));
  }
  Json forwarded = {{"label", params.value("label", "")},
                    {"backend", placement.backend},
                    {"replace", params.value("replace", false)}};
  if (placement.context == keys::KeyContext::kUserSession) {
    co_return co_await forward_to_agent(user->uid, user->name, "key.create", std::move(forwarded));
  }
  auto manager = manager_for(user->uid);
  if (!manager) {
    co_return std::unexpected(manager.error());
  }
  auto created = keys::run_key_method(**manager, "key.create", forwarded, kDaemonContext);
  if (!created) {
    co_return std::unexpected(keys::key_error_to_rpc(created.error()));
  }
  Json result = with_owner(std::move(*created), user->uid, user->name);
  if (!placement.note.empty()) {
    result["note"] = placement.note;
  }
  log::info(fmt::format("created key \"{}\" ({}) for {}", result.value("label", ""),
                        placement.backend, user->name),
            {{"LIAISON_UID", std::to_string(user->uid)}, {"LIAISON_EVENT", "key-created"}});
  co_return result;
}

asio::awaitable<Result<Json>> KeyRouter::on_existing_key(const std::string& method,
                                                         const Json& params) {
  auto user = co_await key_owner(params);
  if (!user) {
    co_return std::unexpected(user.error());
  }
  Json forwarded = params;
  forwarded.erase("user");
  auto manager = manager_for(user->uid);
  if (!manager) {
    co_return std::unexpected(manager.error());
  }
  // A label lives in one place: the daemon's store first, else the user's session.
  if (auto here = (*manager)->find(forwarded.value("label", ""));
      here || here.error().code != "not_found") {
    auto done = keys::run_key_method(**manager, method, forwarded, kDaemonContext);
    if (!done) {
      co_return std::unexpected(keys::key_error_to_rpc(done.error()));
    }
    co_return with_owner(std::move(*done), user->uid, user->name);
  }
  if (session_of(user->uid).empty()) {
    co_return std::unexpected(Error::application(
        codes::kNotFound,
        fmt::format("{} has no key \"{}\" (user-session keys can only be reached while {} has a "
                    "session)",
                    user->name, forwarded.value("label", ""), user->name)));
  }
  co_return co_await forward_to_agent(user->uid, user->name, method, std::move(forwarded));
}

asio::awaitable<Result<Json>> KeyRouter::list(const Json& params) {
  std::set<uid_t> uids;
  std::map<uid_t, std::string> names;
  if (params.contains("user") && !params["user"].is_null()) {
    auto user = co_await key_owner(params);
    if (!user) {
      co_return std::unexpected(user.error());
    }
    uids.insert(user->uid);
    names[user->uid] = user->name;
  } else {
    std::error_code ignored;
    std::vector<std::string> owners;  // the key directories, named by uid
    for (const auto& entry :
         std::filesystem::directory_iterator(std::filesystem::path(state_dir_) / "keys", ignored)) {
      owners.push_back(entry.path().filename().string());
    }
    const std::vector<std::optional<ResolvedUser>> found =
        co_await find_users(std::move(owners), agents_.agents(), users_);
    for (const std::optional<ResolvedUser>& user : found) {
      if (user) {
        uids.insert(user->uid);
        names[user->uid] = user->name;
      }
    }
    for (const AgentView& agent : agents_.agents()) {
      uids.insert(agent.session.uid);
      names[agent.session.uid] = agent.session.user;
    }
  }
  Json keys = Json::array();
  Json problems = Json::array();
  auto gather = [&](Json listing, uid_t uid) {
    for (Json& key : listing["keys"]) {
      keys.push_back(with_owner(std::move(key), uid, names[uid]));
    }
    for (Json& problem : listing["problems"]) {
      problems.push_back(with_owner(std::move(problem), uid, names[uid]));
    }
  };
  for (uid_t uid : uids) {
    auto manager = manager_for(uid);
    if (!manager) {
      co_return std::unexpected(manager.error());
    }
    auto here = keys::run_key_method(**manager, "key.list", Json::object(), kDaemonContext);
    if (!here) {
      co_return std::unexpected(keys::key_error_to_rpc(here.error()));
    }
    gather(std::move(*here), uid);
    if (session_of(uid).empty()) {
      continue;
    }
    auto there = co_await forward_to_agent(uid, names[uid], "key.list", Json::object());
    if (there) {
      gather(std::move(*there), uid);
    } else {
      problems.push_back({{"user", names[uid]},
                          {"uid", uid},
                          {"code", there.error().data_code},
                          {"message", "user-session keys not listed: " + there.error().message}});
    }
  }
  co_return Json{{"keys", keys}, {"problems", problems}};
}

// The challenge a verifier sent: any bytes, base64, 1 to 1024 of them (it is hashed).
constexpr std::size_t kMaxChallengeBytes = 1024;

asio::awaitable<Result<Json>> KeyRouter::attest(const Json& params) {
  const std::string format = params.value("format", std::string("webauthn"));
  if (format != "webauthn" && format != "tpm") {
    co_return std::unexpected(
        Error::invalid_params(fmt::format("unknown attestation format \"{}\": use webauthn or tpm",
                                          protocol::bounded_for_error(format, 64))));
  }
  const auto encoded = params.find("challenge");
  std::optional<keys::Bytes> challenge;
  if (encoded != params.end() && encoded->is_string()) {
    challenge = keys::base64_decode(encoded->get<std::string>());
  }
  if (!challenge || challenge->empty() || challenge->size() > kMaxChallengeBytes) {
    co_return std::unexpected(Error::invalid_params(fmt::format(
        "\"challenge\" must be base64 of 1 to {} bytes (the verifier's)", kMaxChallengeBytes)));
  }
  // The key's TPM blob, from the daemon's store or the user's agent (key.tpm_blob): only the
  // owner and label go along, nothing of the caller's else.
  Json lookup = Json::object();
  for (const char* field : {"user", "label"}) {
    if (params.contains(field)) {
      lookup[field] = params.at(field);
    }
  }
  auto key = co_await on_existing_key("key.tpm_blob", lookup);
  if (!key) {
    co_return std::unexpected(key.error());
  }
  auto attestation = attestation_();
  if (!attestation) {
    co_return std::unexpected(keys::key_error_to_rpc(attestation.error()));
  }
  auto wrapped = keys::base64_decode(key->value("wrapped_key", ""));
  if (!wrapped) {
    co_return std::unexpected(
        Error::application(codes::kFailed, "the key's wrapped form came back damaged"));
  }
  key->erase("wrapped_key");
  auto spki = (*attestation)->public_key_of(*wrapped);
  if (!spki) {
    co_return std::unexpected(keys::key_error_to_rpc(spki.error()));
  }
  keys::Bytes authenticator_data;
  keys::Bytes extra_data;
  if (format == "webauthn") {
    auto made = keys::webauthn_authenticator_data(*spki);
    if (!made) {
      co_return std::unexpected(keys::key_error_to_rpc(made.error()));
    }
    authenticator_data = std::move(*made);
    extra_data = keys::webauthn_extra_data(authenticator_data, *challenge);
  } else {
    extra_data = keys::tpm_format_extra_data(*challenge);
  }
  auto certified = (*attestation)->certify(*wrapped, extra_data);
  if (!certified) {
    co_return std::unexpected(keys::key_error_to_rpc(certified.error()));
  }
  Json result = std::move(*key);
  result["format"] = format;
  if (format == "webauthn") {
    result["attestation_object"] =
        keys::base64_encode(keys::webauthn_attestation_object(*certified, authenticator_data));
  } else {
    result["statement"] = keys::tpm_attestation_statement(*certified);
  }
  co_return result;
}

}  // namespace liaison::daemon
