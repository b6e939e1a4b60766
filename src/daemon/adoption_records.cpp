#include "daemon/adoption_records.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/safe_files.h"
#include "protocol/json_rpc.h"

namespace liaison::daemon {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kSuffix = ".json";
constexpr size_t kMaxRecordBytes = 64 * std::size_t{1024};
constexpr size_t kMaxDigests = 2;

bool is_safe_name_character(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '_';
}

bool is_digest(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Json to_json(const AdoptionRecord& record) {
  return {{"agent", record.agent_id},
          {"strategy", record.strategy},
          {"uid", record.uid},
          {"pid", record.pid},
          {"start_time", record.start_time},
          {"token_sha256", record.token_digests}};
}

std::optional<AdoptionRecord> from_json(const std::string& text) {
  // The records are root's own files, but parsed bounded all the same (protocol::parse_json).
  const Json json = protocol::parse_json(text).value_or(Json());
  if (!json.is_object()) {
    return std::nullopt;
  }
  try {
    AdoptionRecord record{.agent_id = json.at("agent").get<std::string>(),
                          .strategy = json.at("strategy").get<std::string>(),
                          .uid = json.at("uid").get<uid_t>(),
                          .pid = json.at("pid").get<pid_t>(),
                          .start_time = json.at("start_time").get<uint64_t>(),
                          .token_digests = json.at("token_sha256").get<std::vector<std::string>>()};
    const bool digests_ok =
        !record.token_digests.empty() && record.token_digests.size() <= kMaxDigests &&
        std::all_of(record.token_digests.begin(), record.token_digests.end(), is_digest);
    if (record.agent_id.empty() || record.pid <= 0 || !digests_ok) {
      return std::nullopt;
    }
    return record;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> list_names(int directory_fd) {
  std::vector<std::string> names;
  int copy = ::dup(directory_fd);
  if (copy < 0) {
    return names;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> directory(::fdopendir(copy), ::closedir);
  if (!directory) {
    ::close(copy);
    return names;
  }
  while (dirent* entry = ::readdir(directory.get())) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(std::move(name));
    }
  }
  return names;
}

}  // namespace

std::string AdoptionRecords::file_name(const std::string& agent_id) {
  const bool safe = !agent_id.empty() && agent_id.size() <= 64 &&
                    std::all_of(agent_id.begin(), agent_id.end(), is_safe_name_character);
  if (safe) {
    return agent_id + std::string(kSuffix);
  }
  std::string hex = "x";
  for (unsigned char c : agent_id) {
    hex += fmt::format("{:02x}", c);
  }
  return hex.substr(0, 200) + std::string(kSuffix);
}

std::expected<void, std::string> AdoptionRecords::save(const AdoptionRecord& record) const {
  if (!enabled()) {
    return {};
  }
  auto directory = open_directory(directory_, true, 0700, FileOwner{::geteuid(), ::getegid()});
  if (!directory) {
    return std::unexpected(directory.error().message());
  }
  auto written = write_file_beneath(directory->get(), file_name(record.agent_id),
                                    to_json(record).dump() + "\n", 0600);
  if (!written) {
    return std::unexpected(written.error().message());
  }
  return {};
}

void AdoptionRecords::remove(const std::string& agent_id) const {
  if (!enabled()) {
    return;
  }
  auto directory = open_directory(directory_);
  if (directory) {
    (void)remove_beneath(directory->get(), file_name(agent_id));
  }
}

std::vector<AdoptionRecord> AdoptionRecords::load_all() const {
  std::vector<AdoptionRecord> records;
  if (!enabled()) {
    return records;
  }
  auto directory = open_directory(directory_);
  if (!directory) {
    return records;  // no records yet: the first daemon since boot or a stop
  }
  struct stat status {};
  if (::fstat(directory->get(), &status) != 0 || status.st_uid != ::geteuid() ||
      (status.st_mode & 077) != 0) {
    log::warning(
        fmt::format("ignoring adoption records in {}: not owned by us or not 0700", directory_));
    return records;
  }
  for (const std::string& name : list_names(directory->get())) {
    auto text = read_file_beneath(directory->get(), name, kMaxRecordBytes);
    std::optional<AdoptionRecord> record;
    if (text && name.ends_with(kSuffix)) {
      if (const auto& contents = *text; contents) {
        record = from_json(*contents);
      }
    }
    if (!record || file_name(record->agent_id) != name) {
      log::warning(fmt::format("removing {}/{}: not an adoption record", directory_, name));
      (void)remove_beneath(directory->get(), name);
      continue;
    }
    records.push_back(std::move(*record));
  }
  std::sort(records.begin(), records.end(), [](const AdoptionRecord& a, const AdoptionRecord& b) {
    return a.agent_id < b.agent_id;
  });
  return records;
}

}  // namespace liaison::daemon
