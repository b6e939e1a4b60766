#include "platform/linux/restart_detection.h"

#include <unistd.h>

#include <string>
#include <string_view>

#include "common/log.h"
#include "platform/linux/sd_bus_ptr.h"

namespace liaison::platform {

bool own_unit_is_restarting(std::chrono::milliseconds timeout) {
  sd_bus* raw = nullptr;
  if (sd_bus_open_system(&raw) < 0) {
    return false;
  }
  SdBusPtr bus(raw);
  sd_bus_set_method_call_timeout(
      bus.get(), static_cast<uint64_t>(
                     std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
  SdBusError error;
  sd_bus_message* reply = nullptr;
  int result =
      sd_bus_call_method(bus.get(), "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                         "org.freedesktop.systemd1.Manager", "GetUnitByPID", error.get(), &reply,
                         "u", static_cast<uint32_t>(::getpid()));
  SdBusMessagePtr unit_reply(reply);
  const char* unit_path = nullptr;
  if (result < 0 || sd_bus_message_read(unit_reply.get(), "o", &unit_path) < 0) {
    return false;
  }
  const std::string unit(unit_path);

  // Unit.Job is (uo): the id and path of the job pending on the unit; id 0 when none.
  reply = nullptr;
  result = sd_bus_get_property(bus.get(), "org.freedesktop.systemd1", unit.c_str(),
                               "org.freedesktop.systemd1.Unit", "Job", error.get(), &reply, "(uo)");
  SdBusMessagePtr job_reply(reply);
  uint32_t job_id = 0;
  const char* job_path = nullptr;
  if (result < 0 || sd_bus_message_read(job_reply.get(), "(uo)", &job_id, &job_path) < 0 ||
      job_id == 0) {
    return false;
  }
  char* type = nullptr;
  result =
      sd_bus_get_property_string(bus.get(), "org.freedesktop.systemd1", job_path,
                                 "org.freedesktop.systemd1.Job", "JobType", error.get(), &type);
  if (result < 0) {
    return false;
  }
  const std::string job_type(type);
  std::free(type);  // NOLINT(cppcoreguidelines-no-malloc)
  log::debug("the unit's pending job is " + job_type);
  return job_type == "restart" || job_type == "try-restart";
}

}  // namespace liaison::platform
