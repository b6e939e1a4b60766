// One function per `liaison <command>`; main.cpp only parses flags and calls these.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace liaison::cli {

struct DaemonFlags {
  std::string config_path;
  std::string runtime_dir;
  std::string state_dir = "/var/lib/liaison";
  std::string log_level;
};
int run_daemon(const DaemonFlags& flags);

int run_agent();

struct ClientFlags {
  std::string runtime_dir;
  bool json = false;
};

int run_sessions(const ClientFlags& flags);

struct NotifyFlags {
  std::vector<std::string> users;
  std::vector<std::string> sessions;
  bool all = false;
  std::string title;
  std::optional<std::string> body;
  std::optional<std::string> action_url;
  std::vector<std::string> actions;
  std::optional<std::string> urgency;
  std::optional<std::string> icon;
  std::optional<std::string> id;
  std::optional<int> wait_action;
};
int run_notify(const ClientFlags& flags, const NotifyFlags& notify);

int run_version(const ClientFlags& flags);

}  // namespace liaison::cli
