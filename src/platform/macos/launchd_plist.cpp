#include "platform/macos/launchd_plist.h"

#include <fmt/format.h>

namespace liaison::platform::macos {
namespace {

constexpr std::string_view kHeader =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n";
constexpr std::string_view kFooter = "</dict>\n</plist>\n";

// Writes key/value lines of the top-level dict, tab-indented as Apple's tools write them.
class DictWriter {
 public:
  explicit DictWriter(std::string& out) : out_(out) {}

  void key(std::string_view name) { line(fmt::format("<key>{}</key>", xml_escape(name))); }
  void string(std::string_view name, std::string_view value) {
    key(name);
    line(fmt::format("<string>{}</string>", xml_escape(value)));
  }
  void boolean(std::string_view name, bool value) {
    key(name);
    line(value ? "<true/>" : "<false/>");
  }
  void strings(std::string_view name, const std::vector<std::string>& values) {
    key(name);
    line("<array>");
    ++depth_;
    for (const auto& value : values) {
      line(fmt::format("<string>{}</string>", xml_escape(value)));
    }
    --depth_;
    line("</array>");
  }
  void open_dict(std::string_view name) {
    key(name);
    line("<dict>");
    ++depth_;
  }
  void close_dict() {
    --depth_;
    line("</dict>");
  }

 private:
  void line(std::string_view text) {
    out_.append(static_cast<size_t>(depth_), '\t');
    out_.append(text);
    out_.push_back('\n');
  }

  std::string& out_;
  int depth_ = 1;
};

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char character : text) {
    switch (character) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      default:
        escaped += character;
    }
  }
  return escaped;
}

std::string launch_agent_plist(const LaunchAgentSpec& spec) {
  std::string out(kHeader);
  DictWriter dict(out);
  // Keys in sorted order, as plutil and plistlib write them, so diffs against either stay small.
  dict.strings("AssociatedBundleIdentifiers", spec.associated_bundle_identifiers);
  dict.open_dict("KeepAlive");
  dict.boolean("Crashed", true);
  dict.boolean("SuccessfulExit", false);
  dict.close_dict();
  dict.string("Label", spec.label);
  dict.string("LimitLoadToSessionType", "Aqua");
  dict.string("ProcessType", "Interactive");
  dict.strings("ProgramArguments", spec.program_arguments);
  dict.boolean("RunAtLoad", true);
  out += kFooter;
  return out;
}

std::string launch_daemon_plist(const LaunchDaemonSpec& spec) {
  std::string out(kHeader);
  DictWriter dict(out);
  dict.boolean("KeepAlive", true);
  dict.string("Label", spec.label);
  dict.string("ProcessType", "Standard");
  dict.strings("ProgramArguments", spec.program_arguments);
  dict.boolean("RunAtLoad", true);
  out += kFooter;
  return out;
}

std::string launch_agent_plist_path(std::string_view label) {
  return fmt::format("{}/{}.plist", kLaunchAgentsDirectory, label);
}

std::string launch_daemon_plist_path(std::string_view label) {
  return fmt::format("{}/{}.plist", kLaunchDaemonsDirectory, label);
}

}  // namespace liaison::platform::macos
