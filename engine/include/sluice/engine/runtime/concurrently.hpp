// Structured concurrency for a fixed number of workers on one executor.
#pragma once

#include <sluice/engine/runtime/engine.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>

namespace sluice {

namespace detail {

// Spawns body(0) .. body(n-1) (on the engine's contexts first, first+1, ...
// when `eng` is given, else on the caller's executor) and waits, on the
// caller's executor, until all have finished. `body` lives in the caller's frame.
template <class Body>
boost::asio::awaitable<void> spawn_and_join(engine* eng, unsigned first, unsigned n, Body& body) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  struct shared {
    explicit shared(asio::any_io_executor e) : done(e, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;
    unsigned left = 0;
    std::exception_ptr first_exception;
  };
  auto st = std::make_shared<shared>(ex);
  st->left = n;
  for (unsigned i = 0; i < n; ++i) {
    auto finished = asio::bind_executor(ex, [st](std::exception_ptr e) {
      if (e && !st->first_exception) st->first_exception = e;
      if (--st->left == 0) st->done.cancel();
    });
    if (eng != nullptr)
      asio::co_spawn(eng->context((first + i) % eng->thread_count()), body(i), std::move(finished));
    else
      asio::co_spawn(ex, body(i), std::move(finished));
  }
  while (st->left > 0) co_await st->done.async_wait(asio::as_tuple(asio::use_awaitable));
  if (st->first_exception) std::rethrow_exception(st->first_exception);
}

}  // namespace detail

// Runs body(0) .. body(workers-1) concurrently on the calling coroutine's
// executor and returns when every one has finished. The executor must be
// single-threaded (an engine context, or an io_context run by one thread):
// the bookkeeping is not synchronised. Exceptions in a worker (bugs only) are
// rethrown after all have finished. A worker's own errors travel through
// whatever state `body` captures.
template <class Body>
boost::asio::awaitable<void> run_concurrently(unsigned workers, Body body) {
  co_await detail::spawn_and_join(nullptr, 0, workers, body);
}

// Runs body(0) .. body(n-1) concurrently, body(s) on the engine context
// (first + s) % thread_count, and returns when every one has finished. The
// caller's executor must be single-threaded (the completion bookkeeping runs
// there); body's state is shared across threads, so whatever it captures must
// be synchronised or handed over explicitly (co_spawn onto the owner's
// executor). Exceptions (bugs only) are rethrown after all have finished.
template <class Body>
boost::asio::awaitable<void> run_on_contexts(engine& eng, unsigned first, unsigned n, Body body) {
  co_await detail::spawn_and_join(&eng, first, n, body);
}

}  // namespace sluice
