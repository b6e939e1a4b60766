// Owning handles for sd-bus objects, so every bus, slot, message and error is released exactly
// once on every path (sd-bus's own _cleanup_ helpers, written as C++ RAII).
#pragma once

#include <systemd/sd-bus.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <system_error>

namespace liaison::platform {

// The owner's handle: flushes what is still queued (a signal we emitted), closes the connection
// and drops the reference, as sd-bus's own sd_bus_flush_close_unrefp cleanup does.
struct SdBusCloser {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct SdBusSlotUnref {
  // Unreferencing a slot also removes its match rule or object from the bus.
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
struct SdBusMessageUnref {
  void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};

using SdBusPtr = std::unique_ptr<sd_bus, SdBusCloser>;
using SdBusSlotPtr = std::unique_ptr<sd_bus_slot, SdBusSlotUnref>;
using SdBusMessagePtr = std::unique_ptr<sd_bus_message, SdBusMessageUnref>;

// A second reference to a bus someone else owns: keeps the object alive, never closes the
// connection (dropping an SdBusPtr closes it, whoever else still holds it).
struct SdBusUnref {
  void operator()(sd_bus* bus) const { sd_bus_unref(bus); }
};
using SdBusRef = std::unique_ptr<sd_bus, SdBusUnref>;
inline SdBusRef add_bus_reference(sd_bus* bus) { return SdBusRef(sd_bus_ref(bus)); }

// An sd_bus_error that frees its name and message when it goes out of scope. Pass `get()` to
// sd-bus calls that fill it in.
class SdBusError {
 public:
  SdBusError() = default;
  SdBusError(const SdBusError&) = delete;
  SdBusError& operator=(const SdBusError&) = delete;
  ~SdBusError() { sd_bus_error_free(&error_); }

  sd_bus_error* get() { return &error_; }
  bool is_set() const { return sd_bus_error_is_set(&error_) != 0; }
  bool has_name(const char* name) const { return sd_bus_error_has_name(&error_, name) != 0; }

  // "<name>: <message>" when the peer or sd-bus named the error; otherwise the errno text of
  // `negative_errno`, the return value of the call that failed.
  std::string describe(int negative_errno) const {
    if (is_set()) {
      std::string text = error_.name;
      if (error_.message != nullptr && error_.message[0] != '\0') {
        text += ": ";
        text += error_.message;
      }
      return text;
    }
    return std::generic_category().message(negative_errno < 0 ? -negative_errno : negative_errno);
  }

 private:
  sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

// A string vector sd-bus allocated (sd_bus_message_read_strv, sd_bus_get_property_strv).
struct StrvFree {
  void operator()(char** strv) const {
    if (strv == nullptr) {
      return;
    }
    for (char** entry = strv; *entry != nullptr; ++entry) {
      free(*entry);  // NOLINT(cppcoreguidelines-no-malloc)
    }
    free(strv);  // NOLINT(cppcoreguidelines-no-malloc)
  }
};
using StrvPtr = std::unique_ptr<char*[], StrvFree>;

}  // namespace liaison::platform
