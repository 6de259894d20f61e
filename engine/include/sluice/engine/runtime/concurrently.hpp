// Structured concurrency for a fixed number of workers on one executor.
#pragma once

#include <sluice/engine/runtime/engine.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <vector>

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
    shared(asio::any_io_executor e, unsigned n)
        : done(e, asio::steady_timer::time_point::max()), stop(n), running(n, true) {}
    asio::steady_timer done;
    unsigned left = 0;
    std::exception_ptr first_exception;
    std::vector<asio::cancellation_signal> stop;  // worker i's slot; emitted on worker i's executor only
    std::vector<bool> running;                    // on the caller's executor
  };
  auto st = std::make_shared<shared>(ex, n);
  st->left = n;
  std::vector<asio::any_io_executor> where(n);
  for (unsigned i = 0; i < n; ++i) {
    where[i] = eng != nullptr
                   ? asio::any_io_executor(eng->context((first + i) % eng->thread_count()).get_executor())
                   : ex;
    auto finished = asio::bind_cancellation_slot(st->stop[i].slot(),
                                                 asio::bind_executor(ex, [st, i](std::exception_ptr e) {
                                                   if (e && !st->first_exception) st->first_exception = e;
                                                   st->running[i] = false;
                                                   if (--st->left == 0) st->done.cancel();
                                                 }));
    asio::co_spawn(where[i], body(i), std::move(finished));
  }
  // Structured: never leave (nor throw) while a worker runs; a cancellation
  // of the caller is passed on to every running worker instead.
  const bool threw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
  co_await asio::this_coro::throw_if_cancelled(false);
  auto cs = co_await asio::this_coro::cancellation_state;
  bool passed_on = false;
  while (st->left > 0) {
    co_await st->done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!passed_on && cs.cancelled() != asio::cancellation_type::none) {
      passed_on = true;
      for (unsigned i = 0; i < n; ++i)
        if (st->running[i])
          asio::dispatch(where[i], [st, i] { st->stop[i].emit(asio::cancellation_type::terminal); });
    }
  }
  co_await asio::this_coro::throw_if_cancelled(threw_if_cancelled);
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
