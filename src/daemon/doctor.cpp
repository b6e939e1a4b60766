#include "daemon/doctor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>

#include "daemon/agent_view_json.h"
#include "daemon/concurrently.h"
#include "daemon/off_loop.h"
#include "daemon/user_finder.h"
#include "daemon/users.h"
#include "keys/key_store.h"
#include "keys/provider_check.h"
#include "keys/x509_summary.h"

namespace liaison::daemon {
namespace {

using protocol::Error;
using protocol::Finding;
using protocol::Json;
using protocol::Result;

bool any_failed(const std::vector<Finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.failed(); });
}

std::string story_of(const Session& session) {
  return fmt::format("journalctl -u liaison LIAISON_SESSION={} tells its story", session.id);
}

Finding control_socket_finding(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return Finding::fail("control-socket", fmt::format("{} is missing", path),
                         "restart the daemon: systemctl restart liaison");
  }
  const group* owner = ::getgrgid(status.st_gid);
  const std::string group_name = owner != nullptr ? owner->gr_name : std::to_string(status.st_gid);
  const unsigned mode = status.st_mode & 07777;
  Json facts = {{"path", path}, {"mode", fmt::format("{:04o}", mode)}, {"group", group_name}};
  if (::getgrnam("liaison") == nullptr) {
    return Finding::warn(
        "control-socket",
        fmt::format("{} is root-only ({:04o}): group liaison does not exist", path, mode),
        "systemd-sysusers liaison.conf (or groupadd --system liaison), then "
        "systemctl restart liaison",
        std::move(facts));
  }
  if (group_name != "liaison") {
    return Finding::warn("control-socket",
                         fmt::format("{} belongs to group {}, not liaison (it was made before the "
                                     "group existed)",
                                     path, group_name),
                         "systemctl restart liaison", std::move(facts));
  }
  return Finding::ok("control-socket",
                     fmt::format("{} mode {:04o} group liaison: root and members of liaison may "
                                 "use it",
                                 path, mode),
                     std::move(facts));
}

// "auto" works without its hardware, in the daemon or in a session: key create makes a software
// key and says so. Missing hardware is then a warning, not a failure.
Finding as_auto_fallback(Finding hardware) {
  if (!hardware.failed()) {
    return hardware;
  }
  hardware.status = Finding::Status::kWarn;
  hardware.detail += " (backend auto: new keys are software keys, not hardware-bound)";
  return hardware;
}

bool uses_user_manager(const std::string& strategy) {
  return strategy == "asuser" || strategy == "launch-agent";
}

}  // namespace

Finding agent_finding(const AgentView& view) {
  const std::string since = iso8601(view.since);
  switch (view.state) {
    case AgentState::kReady:
      return Finding::ok(
          "agent", fmt::format("ready: pid {} ({}) since {}", view.pid, view.strategy, since));
    case AgentState::kStarting:
      return Finding::warn(
          "agent", fmt::format("starting since {} ({}), not connected yet", since, view.strategy),
          fmt::format("wait a moment; if it stays so, {}", story_of(view.session)));
    case AgentState::kBackoff:
      return Finding::fail(
          "agent",
          fmt::format("failing ({} time{} in a row): {}", view.consecutive_failures,
                      view.consecutive_failures == 1 ? "" : "s",
                      view.last_failure.empty() ? "no reason recorded" : view.last_failure),
          story_of(view.session));
    case AgentState::kStopping:
      return Finding::warn("agent", fmt::format("stopping since {}", since),
                           "it is being stopped (logout, or the strategy changed)");
    case AgentState::kStopped:
      break;
  }
  if (view.strategy == "launch-agent") {
    return Finding::fail("agent", "no agent: the launch agent is not installed for this user",
                         fmt::format("liaison launch-agent install --user {}", view.session.user));
  }
  return Finding::fail("agent", "no agent runs for this session", story_of(view.session));
}

struct Doctor::Run {
  // One deadline for every agent's answer: agents are asked at once, so doctor takes as long as
  // the slowest of them, never more than kAgentTimeout.
  std::chrono::steady_clock::time_point agents_deadline;
  std::map<std::string, std::vector<Finding>> agent_findings;  // by agent id (shared by sessions)
  std::map<uid_t, Finding> user_manager;
  std::map<uid_t, Finding> setuid_child;
};

Doctor::Doctor(DoctorParts parts) : parts_(std::move(parts)) {}

std::vector<Finding> Doctor::examine_daemon() const {
  std::vector<Finding> findings;
  findings.push_back(Finding::ok(
      "daemon",
      fmt::format("liaison {} pid {} since {}, launch strategy {}", LIAISON_VERSION, ::getpid(),
                  iso8601(started_), parts_.config.agent.launch),
      {{"version", LIAISON_VERSION}, {"pid", ::getpid()}, {"since", iso8601(started_)}}));
  findings.push_back(control_socket_finding(parts_.control_socket));
  for (Finding& finding : examine_daemon_keys()) {
    findings.push_back(std::move(finding));
  }
  if (auto attestation = examine_attestation()) {
    findings.push_back(std::move(*attestation));
  }
  return findings;
}

// Shown only where the platform has attestation and its TPM answers the lookup: a machine without
// a TPM has the "tpm" finding (or none) to say so, not an attestation nag.
std::optional<Finding> Doctor::examine_attestation() const {
  auto attestation = parts_.attestation();
  if (!attestation) {
    return std::nullopt;
  }
  auto state = (*attestation)->state();
  if (!state) {
    return Finding::warn("attestation", fmt::format("cannot read: {}", state.error().message),
                         "see the \"tpm\" finding and docs/troubleshooting.md");
  }
  return attestation_finding(*state, std::chrono::system_clock::now());
}

Finding attestation_finding(const keys::AttestationState& state,
                            std::chrono::system_clock::time_point now) {
  Json certificates = Json::array();
  std::vector<std::string> issuers;
  for (const keys::EndorsementEvidence& ek : state.ek_certificates) {
    auto summary = ek.certificate ? keys::summarize_certificate(*ek.certificate)
                                  : keys::KeyResult<keys::CertificateSummary>(std::unexpected(
                                        keys::KeyError{"failed", "no certificate"}));
    certificates.push_back({{"nv_index", fmt::format("0x{:08x}", ek.nv_index)},
                            {"key_type", ek.key_type},
                            {"issuer", summary ? Json(summary->issuer) : Json()},
                            {"not_after", summary ? Json(summary->not_after) : Json()}});
    if (summary && std::find(issuers.begin(), issuers.end(), summary->issuer) == issuers.end()) {
      issuers.push_back(summary->issuer);
    }
  }
  const std::string eks =
      state.ek_certificates.empty()
          ? "no EK certificate in the TPM"
          : fmt::format("{} EK certificate{} (issuer {})", state.ek_certificates.size(),
                        state.ek_certificates.size() == 1 ? "" : "s", fmt::join(issuers, ", "));
  Json facts = {{"ek_certificates", certificates}, {"attestation_key", nullptr}};
  if (!state.key) {
    return Finding::info("attestation", fmt::format("{}; no attestation key", eks), facts);
  }
  const keys::AttestationKey& key = *state.key;
  Json ak = {{"name", fmt::format("{:02x}", fmt::join(key.name, ""))},
             {"created", key.created},
             {"certificate", nullptr}};
  if (state.key_problem) {
    ak["problem"] = state.key_problem->message;
    facts["attestation_key"] = ak;
    return Finding::fail(
        "attestation",
        fmt::format("{}; the attestation key does not load in this TPM: {}", eks,
                    state.key_problem->message),
        "the TPM was cleared or replaced: remove /var/lib/liaison/attestation/ak.json, then "
        "liaison attest enroll, activate and install-cert again",
        facts);
  }
  if (key.certificate_chain.empty()) {
    facts["attestation_key"] = ak;
    return Finding::warn(
        "attestation",
        fmt::format("{}; attestation key enrolled {}, not certified", eks, key.created),
        "have an attestation CA certify it: liaison attest enroll, attest activate, "
        "attest install-cert",
        facts);
  }
  auto certificate = keys::summarize_certificate(key.certificate_chain.front());
  const std::string not_after = certificate ? certificate->not_after : "";
  const std::string now_text = keys::iso8601_utc(now);
  const bool expired = !not_after.empty() && not_after <= now_text;  // both ISO 8601 UTC
  ak["certificate"] = {{"issuer", certificate ? Json(certificate->issuer) : Json()},
                       {"not_after", not_after},
                       {"expired", expired}};
  facts["attestation_key"] = ak;
  const std::string detail = fmt::format("{}; attestation key certified by {} until {}", eks,
                                         certificate ? certificate->issuer : "?", not_after);
  if (expired) {
    return Finding::warn("attestation", detail + ": EXPIRED",
                         "have the attestation CA certify the key again, then liaison attest "
                         "install-cert",
                         facts);
  }
  return Finding::ok("attestation", detail, facts);
}

// The key providers the daemon itself uses ([keys] backend and tpm_context, and what "auto"
// means on this platform: parts_.auto_keys).
std::vector<Finding> Doctor::examine_daemon_keys() const {
  const Config::Keys& keys = parts_.config.keys;
  const AutoKeyPlacement& auto_keys = parts_.auto_keys;
  std::vector<Finding> findings;
  if (keys.backend == "software") {
    findings.push_back(
        keys::check_provider("software", parts_.daemon_keys("software"), "the daemon"));
  }
  if (keys.backend == "tpm" && keys.tpm_context == "daemon") {
    findings.push_back(keys::check_provider("tpm", parts_.daemon_keys("tpm"), "the daemon"));
  }
  if (keys.backend == "auto" && auto_keys.context == keys::KeyContext::kDaemon) {
    findings.push_back(as_auto_fallback(keys::check_provider(
        auto_keys.backend, parts_.daemon_keys(auto_keys.backend), "the daemon")));
  }
  return findings;
}

// The providers whose operations run in users' sessions, so their agents must be asked.
std::vector<std::string> Doctor::session_key_providers() const {
  const Config::Keys& keys = parts_.config.keys;
  if (keys.backend == "secure-enclave") {
    return {"secure-enclave"};
  }
  if (keys.backend == "tpm" && keys.tpm_context == "user-session") {
    return {"tpm"};
  }
  if (keys.backend == "auto" && parts_.auto_keys.context == keys::KeyContext::kUserSession) {
    return {parts_.auto_keys.backend};
  }
  return {};
}

asio::awaitable<std::vector<Finding>> Doctor::ask_agent(Run& run, const AgentView& agent) {
  if (auto known = run.agent_findings.find(agent.agent_id); known != run.agent_findings.end()) {
    co_return known->second;
  }
  std::vector<Finding> findings;
  auto connection =
      co_await parts_.agents.ready_connection(agent.session.id, std::chrono::milliseconds(0));
  if (!connection) {
    co_return findings;  // not ready: the "agent" finding says why
  }
  Json params = {{"key_providers", session_key_providers()},
                 {"tpm_tcti", parts_.config.keys.tpm_tcti}};
  const auto left = std::max(std::chrono::milliseconds(1),
                             std::chrono::duration_cast<std::chrono::milliseconds>(
                                 run.agents_deadline - std::chrono::steady_clock::now()));
  auto answer = co_await connection->call("doctor", params, left);
  if (!answer) {
    findings.push_back(Finding::fail(
        "agent", fmt::format("the agent did not answer doctor: {}", answer.error().message),
        story_of(agent.session)));
  } else {
    findings = protocol::findings_from_json(*answer);
  }
  if (parts_.config.keys.backend == "auto") {
    const std::string check = keys::provider_check_name(parts_.auto_keys.backend);
    for (Finding& finding : findings) {
      if (finding.check == check) {
        finding = as_auto_fallback(std::move(finding));
      }
    }
  }
  run.agent_findings[agent.agent_id] = findings;
  co_return findings;
}

asio::awaitable<Json> Doctor::examine_session(Run& run, const Session& session,
                                              const AgentView* agent) {
  const auto rules = EligibilityRules::from(parts_.config.sessions);
  const std::string reason = ineligibility_reason(session, rules);
  std::vector<Finding> findings;
  if (!reason.empty()) {
    findings.push_back(Finding::info(
        "eligible", fmt::format("no agent for this session: {} (/etc/liaison/liaison.toml "
                                "[sessions] decides)",
                                reason)));
  } else if (agent != nullptr) {
    findings.push_back(agent_finding(*agent));
    const std::string& strategy = agent->strategy;
    if (parts_.user_context != nullptr && uses_user_manager(strategy)) {
      if (!run.user_manager.contains(session.uid)) {
        // The user's manager is theirs to stall (they own its socket's directory): asked off
        // the loop, which serves everyone else meanwhile.
        // Named, not a temporary of the co_await expression: g++ 12 mis-destroys those.
        std::function<Finding()> check = [probe = parts_.user_context, uid = session.uid,
                                          strategy] {
          return probe->check_user_manager(uid, strategy);
        };
        Finding checked = co_await run_off_loop<Finding>(std::move(check));
        run.user_manager.emplace(session.uid, std::move(checked));
      }
      findings.push_back(run.user_manager.at(session.uid));
    }
    for (Finding& finding : co_await ask_agent(run, *agent)) {
      findings.push_back(std::move(finding));
    }
  }
  if (parts_.user_context != nullptr && reason.empty()) {
    if (!run.setuid_child.contains(session.uid)) {
      Finding seen = co_await parts_.user_context->check_setuid_only_child(session.uid);
      run.setuid_child.emplace(session.uid, std::move(seen));
    }
    findings.push_back(run.setuid_child.at(session.uid));
  }
  co_return Json{{"session", session.id},
                 {"uid", session.uid},
                 {"user", session.user},
                 {"type", session.type},
                 {"eligible", reason.empty()},
                 {"agent", agent != nullptr ? agent_json(*agent) : Json(nullptr)},
                 {"findings", protocol::to_json(findings)}};
}

// One look for every eligible session, after the per-user checks: a thread of its own (the
// journal and the system bus block) must not run beside a setuid-only child's fork.
asio::awaitable<void> Doctor::add_authentication_agents(const std::vector<Session>& sessions,
                                                        std::vector<Json>& reports) {
  if (parts_.user_context == nullptr) {
    co_return;
  }
  std::vector<std::string> eligible;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    if (reports[i].value("eligible", false)) {
      eligible.push_back(sessions[i].id);
    }
  }
  if (eligible.empty()) {
    co_return;
  }
  // Named, not a temporary of the co_await expression: g++ 12 mis-destroys those.
  std::function<std::map<std::string, Finding>()> look = [probe = parts_.user_context, eligible] {
    return probe->check_authentication_agents(eligible);
  };
  const std::map<std::string, Finding> found =
      co_await run_off_loop<std::map<std::string, Finding>>(std::move(look));
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    if (auto finding = found.find(sessions[i].id); finding != found.end()) {
      reports[i]["findings"].push_back(protocol::to_json(finding->second));
    }
  }
}

asio::awaitable<Result<Json>> Doctor::examine(Json params) {
  std::optional<ResolvedUser> only;
  if (auto user = params.find("user"); user != params.end()) {
    if (!user->is_string()) {
      co_return std::unexpected(Error::invalid_params("user: a string"));
    }
    only = co_await find_user(user->get<std::string>(), parts_.agents.agents(), resolve_user);
    if (!only) {
      co_return std::unexpected(
          Error::invalid_params(fmt::format("no user \"{}\"", user->get<std::string>())));
    }
  }
  std::vector<Finding> daemon_findings = examine_daemon();

  // Every session the platform lists, and any an agent still serves that it no longer does.
  std::vector<Session> sessions;
  if (auto listed = parts_.sessions.list_sessions()) {
    sessions = std::move(*listed);
  } else {
    daemon_findings.push_back(
        Finding::fail("sessions", fmt::format("cannot list sessions: {}", listed.error()),
                      "is systemd-logind running? systemctl status systemd-logind"));
  }
  const std::vector<AgentView> agents = parts_.agents.agents();
  for (const AgentView& view : agents) {
    auto same = [&](const Session& s) { return s.id == view.session.id; };
    if (std::none_of(sessions.begin(), sessions.end(), same)) {
      sessions.push_back(view.session);
    }
  }
  std::sort(sessions.begin(), sessions.end(),
            [](const Session& a, const Session& b) { return a.id < b.id; });

  if (only) {
    std::erase_if(sessions, [&](const Session& session) { return session.uid != only->uid; });
  }

  // Every user at once, each user's sessions one after another: what the run learns of a user
  // (their manager, their setuid-only child, a user-scope agent serving several sessions) is
  // asked once and shared by their other sessions.
  Run run{.agents_deadline = std::chrono::steady_clock::now() + kAgentTimeout};
  std::vector<Json> reports(sessions.size());
  std::map<uid_t, std::vector<std::size_t>> sessions_of_user;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    sessions_of_user[sessions[i].uid].push_back(i);
  }
  std::vector<ConcurrentTask> users;
  users.reserve(sessions_of_user.size());
  for (const auto& [uid, indices] : sessions_of_user) {
    users.push_back([this, &run, &sessions, &agents, &reports,
                     &indices]() -> asio::awaitable<void> {
      for (std::size_t i : indices) {
        auto agent = std::find_if(agents.begin(), agents.end(), [&](const AgentView& view) {
          return view.session.id == sessions[i].id;
        });
        reports[i] =
            co_await examine_session(run, sessions[i], agent == agents.end() ? nullptr : &*agent);
      }
    });
  }
  co_await run_concurrently(std::move(users));
  co_await add_authentication_agents(sessions, reports);

  bool ok = !any_failed(daemon_findings);
  Json session_reports = Json::array();
  for (Json& report : reports) {
    for (const Json& finding : report["findings"]) {
      ok = ok && finding["status"] != "fail";
    }
    session_reports.push_back(std::move(report));
  }
  co_return Json{{"ok", ok},
                 {"daemon",
                  {{"version", LIAISON_VERSION},
                   {"pid", ::getpid()},
                   {"strategy", parts_.config.agent.launch},
                   {"findings", protocol::to_json(daemon_findings)}}},
                 {"sessions", std::move(session_reports)}};
}

}  // namespace liaison::daemon
