#include <dlfcn.h>
#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <filesystem>
#include <string_view>

#include "cli/service_module.h"

namespace liaison::cli {
namespace {

constexpr char kEntrySymbol[] = "liaison_service_entry_points";

// The dlopen handle is never closed: the daemon or agent runs in it until the process ends.
std::expected<ServiceEntryPoints, std::string> open_module(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return std::unexpected(fmt::format("cannot load {}: {}", path, ::dlerror()));
  }
  using EntryFunction = const ServiceEntryPoints* (*)();
  auto entry = reinterpret_cast<EntryFunction>(::dlsym(handle, kEntrySymbol));
  if (entry == nullptr) {
    return std::unexpected(
        fmt::format("{} is not liaison's service module (no {})", path, kEntrySymbol));
  }
  const ServiceEntryPoints* points = entry();
  if (std::string_view(points->version) != LIAISON_VERSION) {
    return std::unexpected(
        fmt::format("{} is of liaison {}, this binary of liaison {}: reinstall liaison", path,
                    points->version, LIAISON_VERSION));
  }
  return *points;
}

}  // namespace

std::string service_module_path(const std::string& executable) {
  const std::filesystem::path bin = std::filesystem::path(executable).parent_path();
  return (bin / LIAISON_SERVICE_MODULE_FROM_BIN).lexically_normal().string();
}

std::expected<ServiceEntryPoints, std::string> load_service() {
  char executable[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", executable, sizeof(executable) - 1);
  if (length <= 0) {
    return std::unexpected("cannot read /proc/self/exe to find the service module");
  }
  return open_module(service_module_path(std::string(executable, static_cast<size_t>(length))));
}

}  // namespace liaison::cli
