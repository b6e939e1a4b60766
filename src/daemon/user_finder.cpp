#include "daemon/user_finder.h"

#include <functional>

#include "daemon/off_loop.h"

namespace liaison::daemon {
namespace {

std::optional<ResolvedUser> from_sessions(const std::string& name_or_uid,
                                          const std::vector<AgentView>& agents) {
  for (const AgentView& agent : agents) {
    if (agent.session.user == name_or_uid || std::to_string(agent.session.uid) == name_or_uid) {
      return ResolvedUser{agent.session.uid, agent.session.user, true};
    }
  }
  return std::nullopt;
}

}  // namespace

asio::awaitable<std::vector<std::optional<ResolvedUser>>> find_users(std::vector<std::string> names,
                                                                     std::vector<AgentView> agents,
                                                                     UserLookup users) {
  std::vector<std::optional<ResolvedUser>> found(names.size());
  std::vector<std::string> unknown;
  for (std::size_t i = 0; i < names.size(); ++i) {
    found[i] = from_sessions(names[i], agents);
    if (!found[i]) {
      unknown.push_back(names[i]);
    }
  }
  if (unknown.empty()) {
    co_return found;
  }
  // Named, not a temporary of the co_await expression: g++ 12 mis-destroys those.
  std::function<std::vector<std::optional<ResolvedUser>>()> look_up = [users = std::move(users),
                                                                       unknown] {
    std::vector<std::optional<ResolvedUser>> answers;
    answers.reserve(unknown.size());
    for (const std::string& name : unknown) {
      answers.push_back(users(name));
    }
    return answers;
  };
  std::vector<std::optional<ResolvedUser>> answers =
      co_await run_off_loop<std::vector<std::optional<ResolvedUser>>>(std::move(look_up));
  std::size_t next = 0;
  for (std::optional<ResolvedUser>& user : found) {
    if (!user) {
      user = std::move(answers[next++]);
    }
  }
  co_return found;
}

asio::awaitable<std::optional<ResolvedUser>> find_user(std::string name_or_uid,
                                                       std::vector<AgentView> agents,
                                                       UserLookup users) {
  std::vector<std::string> names{std::move(name_or_uid)};
  std::vector<std::optional<ResolvedUser>> found =
      co_await find_users(std::move(names), std::move(agents), std::move(users));
  co_return std::move(found.front());
}

}  // namespace liaison::daemon
