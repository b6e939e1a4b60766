// Where the daemon puts its sockets unless --runtime-dir or $LIAISON_RUNTIME_DIR says otherwise,
// per platform, in this one place (DESIGN.md, install layout): the daemon binds there, the agent
// connects there and the CLI looks there. Linux: /run/liaison (the unit's RuntimeDirectory).
// macOS: /var/run/liaison (there is no /run; /var/run is emptied at boot as /run is).
#pragma once

namespace liaison {

#if defined(__APPLE__)
inline constexpr const char* kDefaultRuntimeDir = "/var/run/liaison";
#else
inline constexpr const char* kDefaultRuntimeDir = "/run/liaison";
#endif

}  // namespace liaison
