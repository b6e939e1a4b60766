// Runs coroutines side by side and resumes the caller once the last has finished: asking N agents
// takes as long as the slowest answer, not the sum of them (a broadcast to 200 sessions, doctor
// over every agent). Asio 1.24's ranged parallel_group does this; Debian 12 ships Asio 1.22.
//
// Costs one coroutine frame per task. Every task runs on the caller's executor (the daemon's one
// loop), so tasks may share the caller's data without locks; everything they refer to must live
// until run_concurrently returns, and they must not throw.
#pragma once

#include <asio/awaitable.hpp>
#include <functional>
#include <vector>

namespace liaison::daemon {

using ConcurrentTask = std::function<asio::awaitable<void>()>;

asio::awaitable<void> run_concurrently(std::vector<ConcurrentTask> tasks);

}  // namespace liaison::daemon
