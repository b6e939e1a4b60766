// Writes packaging/launchd/*.plist from launchd_plist.cpp, so the shipped files are the writer's
// output (launchd_plist_test checks that they still are). Usage: write_launchd_plists DIRECTORY
#include <cstdio>
#include <fstream>
#include <string>

#include "platform/macos/launchd_plist.h"

namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace liaison::platform::macos;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 2;
  }
  const std::string directory = argv[1];
  const bool written = write_file(directory + "/" + std::string(kAgentLabel) + ".plist",
                                  launch_agent_plist(LaunchAgentSpec{})) &&
                       write_file(directory + "/" + std::string(kDaemonLabel) + ".plist",
                                  launch_daemon_plist(LaunchDaemonSpec{}));
  if (!written) {
    std::fprintf(stderr, "cannot write into %s\n", directory.c_str());
  }
  return written ? 0 : 1;
}
