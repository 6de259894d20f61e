// The runtime: an engine owns its I/O threads, one io_context per thread.
//
// Work is spread across the contexts round-robin (executor()); a connection
// pool, a ring and a buffer stay with the context that created them. Every I/O
// operation in sluice is an asio::awaitable returning result<T>; run() is the
// blocking facade for callers that do not use coroutines.
//
// Thread safety: executor() and run() may be called from any thread except
// one of the engine's own (run() from an engine thread would deadlock).
// Lifetime: the destructor stops the contexts and joins the threads; work
// still pending is abandoned, so finish or cancel transfers first.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace sluice {

namespace asio = boost::asio;

class engine {
 public:
  struct options {
    unsigned threads = 0;  // 0: one per core
  };

  explicit engine(options opts);
  engine() : engine(options{}) {}
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  unsigned thread_count() const noexcept { return static_cast<unsigned>(contexts_.size()); }
  asio::io_context& context(unsigned i) noexcept { return *contexts_[i]; }
  // The next context's executor, round-robin.
  asio::any_io_executor executor() noexcept;
  // The index of the context the calling thread drives, if it is one of this
  // engine's threads; empty on any other thread.
  std::optional<unsigned> current_context() const noexcept;

  // Blocking facade: runs `work` on one of the engine's contexts and waits for
  // its result. Exceptions (bugs only) propagate to the caller.
  template <class T>
  T run(asio::awaitable<T> work) {
    return asio::co_spawn(executor(), std::move(work), asio::use_future).get();
  }

 private:
  using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<work_guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<unsigned> next_{0};
};

}  // namespace sluice
