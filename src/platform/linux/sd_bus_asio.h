// Drives an sd-bus connection from an Asio io_context, so the agent's one event loop also
// dispatches D-Bus signals and replies: no thread, no polling timer.
//
// How: the bus's fd sits in the io_context as a non-owning asio::posix::stream_descriptor. The
// driver waits for what sd_bus_get_events() asks (readable, and writable while output is queued)
// and for sd_bus_get_timeout() (a pending method-call timeout, authentication) with an
// asio::steady_timer; whenever one fires it calls sd_bus_process() until it returns 0, then waits
// again. With nothing pending on the bus the io_context holds one read wait and no timer.
//
// Synchronous calls (sd_bus_call) made between two waits can read incoming messages into sd-bus's
// own queue, where the fd no longer announces them: call process_soon() after using the bus
// outside the loop.
//
// Everything runs on the thread that runs the io_context; the io_context must outlive the driver.
#pragma once

#include <systemd/sd-bus.h>

#include <expected>
#include <functional>
#include <memory>
#include <string>

namespace asio {
class io_context;
}  // namespace asio

namespace liaison::platform {

class SdBusAsio {
 public:
  // Called once when the connection is gone (the bus daemon went away, or a protocol error); the
  // driver stops waiting after that. The string says what happened.
  using DisconnectHandler = std::function<void(const std::string& reason)>;

  // Starts driving `bus` (which gets one more reference) on `io`, beginning with one processing
  // pass posted to `io`. Fails when the bus has no single pollable fd.
  static std::expected<std::unique_ptr<SdBusAsio>, std::string> attach(
      asio::io_context& io, sd_bus* bus, DisconnectHandler on_disconnect = {});

  // Stops driving the bus: cancels the waits and gives the fd back to the bus (never closes it).
  ~SdBusAsio();
  SdBusAsio(const SdBusAsio&) = delete;
  SdBusAsio& operator=(const SdBusAsio&) = delete;

  // Schedules a processing pass on the io_context (at most one pending at a time).
  void process_soon();

 private:
  // The state the pending waits share: it lives until the last of them has run, so a wait that
  // completes after the driver is gone finds it and does nothing.
  struct Core;
  // Only attach() makes drivers; the tag keeps the constructor usable by std::make_unique.
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  SdBusAsio(PrivateTag, std::shared_ptr<Core> core);

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace liaison::platform
