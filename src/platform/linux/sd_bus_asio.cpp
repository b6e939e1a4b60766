#include "platform/linux/sd_bus_asio.h"

#include <fmt/format.h>
#include <poll.h>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "platform/linux/sd_bus_ptr.h"

namespace liaison::platform {
namespace {

// Messages handled per pass before the driver lets other handlers run: a flood of signals must
// not starve the agent's socket to the daemon.
constexpr int kMaxMessagesPerPass = 64;

std::string errno_text(int negative_errno) {
  return std::generic_category().message(-negative_errno);
}

// sd-bus deadlines are absolute CLOCK_MONOTONIC microseconds, the clock steady_clock reads on
// Linux.
std::chrono::steady_clock::time_point monotonic_deadline(uint64_t usec) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::microseconds(usec)));
}

}  // namespace

struct SdBusAsio::Core : std::enable_shared_from_this<SdBusAsio::Core> {
  Core(asio::io_context& io, SdBusRef bus, DisconnectHandler on_disconnect)
      : bus(std::move(bus)), descriptor(io), timer(io), on_disconnect(std::move(on_disconnect)) {}

  ~Core() { give_fd_back(); }

  void give_fd_back() {
    if (!descriptor.is_open()) {
      return;
    }
    std::error_code ignored;
    descriptor.cancel(ignored);
    descriptor.release();  // the bus owns the fd: asio must not close it
  }

  void detach() {
    detached = true;
    timer.cancel();
    give_fd_back();
  }

  void process_soon() {
    if (detached || process_posted) {
      return;
    }
    process_posted = true;
    asio::post(descriptor.get_executor(), [self = shared_from_this()] {
      self->process_posted = false;
      if (!self->detached) {
        self->process();
      }
    });
  }

  void process() {
    for (int handled = 0; handled < kMaxMessagesPerPass; ++handled) {
      int result = sd_bus_process(bus.get(), nullptr);
      if (detached) {
        return;  // a callback tore the driver down
      }
      if (result < 0) {
        return disconnected(fmt::format("processing the bus: {}", errno_text(result)));
      }
      if (result == 0) {
        return wait_for_bus();
      }
    }
    process_soon();  // more is queued: continue in a fresh handler
  }

  void wait_for_bus() {
    int events = sd_bus_get_events(bus.get());
    if (events < 0) {
      return disconnected(fmt::format("bus closed: {}", errno_text(events)));
    }
    if ((events & POLLIN) != 0) {
      wait_for(asio::posix::descriptor_base::wait_read, read_pending);
    }
    if ((events & POLLOUT) != 0) {
      wait_for(asio::posix::descriptor_base::wait_write, write_pending);
    }
    wait_for_deadline();
  }

  // One outstanding wait per direction: a wait already pending covers the new request too.
  void wait_for(asio::posix::descriptor_base::wait_type type, bool& pending) {
    if (pending) {
      return;
    }
    pending = true;
    descriptor.async_wait(type,
                          [self = shared_from_this(), &pending](const std::error_code& error) {
                            pending = false;
                            if (self->detached || error == asio::error::operation_aborted) {
                              return;
                            }
                            // An error (EPOLLERR/EPOLLHUP) is for sd_bus_process to find and
                            // report.
                            self->process();
                          });
  }

  void wait_for_deadline() {
    uint64_t usec = UINT64_MAX;
    if (int result = sd_bus_get_timeout(bus.get(), &usec); result < 0) {
      return disconnected(fmt::format("bus closed: {}", errno_text(result)));
    }
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (usec != UINT64_MAX) {
      deadline = monotonic_deadline(usec);
    }
    if (deadline == armed_deadline) {
      return;  // that wait is already pending (or none is needed)
    }
    armed_deadline = deadline;
    ++timer_generation;
    if (!deadline) {
      timer.cancel();
      return;
    }
    timer.expires_at(*deadline);  // cancels the previous wait, if any
    timer.async_wait(
        [self = shared_from_this(), generation = timer_generation](const std::error_code& error) {
          if (self->detached || error == asio::error::operation_aborted) {
            return;
          }
          if (generation != self->timer_generation) {
            return;  // superseded by a later deadline
          }
          self->armed_deadline.reset();
          self->process();
        });
  }

  void disconnected(std::string reason) {
    log::warning(fmt::format("D-Bus connection lost: {}", reason));
    DisconnectHandler handler = std::move(on_disconnect);
    detach();
    if (handler) {
      handler(reason);
    }
  }

  SdBusRef bus;  // not the owner: the connection stays open for whoever owns it
  asio::posix::stream_descriptor descriptor;
  asio::steady_timer timer;
  DisconnectHandler on_disconnect;
  bool detached = false;
  bool process_posted = false;
  bool read_pending = false;
  bool write_pending = false;
  std::optional<std::chrono::steady_clock::time_point> armed_deadline;
  uint64_t timer_generation = 0;
};

std::expected<std::unique_ptr<SdBusAsio>, std::string> SdBusAsio::attach(
    asio::io_context& io, sd_bus* bus, DisconnectHandler on_disconnect) {
  int fd = sd_bus_get_fd(bus);
  if (fd < 0) {
    return std::unexpected(
        fmt::format("cannot poll the D-Bus connection: sd_bus_get_fd: {}", errno_text(fd)));
  }
  auto core = std::make_shared<Core>(io, add_bus_reference(bus), std::move(on_disconnect));
  std::error_code error;
  core->descriptor.assign(fd, error);  // registers the fd with the io_context's reactor
  if (error) {
    return std::unexpected(fmt::format(
        "cannot watch the D-Bus connection's fd in the event loop: {}", error.message()));
  }
  core->process_soon();
  return std::make_unique<SdBusAsio>(PrivateTag(), std::move(core));
}

SdBusAsio::SdBusAsio(PrivateTag, std::shared_ptr<Core> core) : core_(std::move(core)) {}

SdBusAsio::~SdBusAsio() {
  // Cancelling the waits can only fail in asio's reactor; a destructor reports that, never throws.
  try {
    core_->detach();
  } catch (const std::exception& e) {
    log::warning(fmt::format("detaching the D-Bus connection from the event loop: {}", e.what()));
  } catch (...) {
    log::warning("detaching the D-Bus connection from the event loop failed");
  }
}

void SdBusAsio::process_soon() { core_->process_soon(); }

}  // namespace liaison::platform
