// Awaiting a coroutine that runs on another executor (another thread), with
// the caller's cancellation passed on safely.
//
// `co_await asio::co_spawn(other, work, asio::use_awaitable)` is not safe to
// cancel in Boost 1.81: co_spawn's cancellation handler, which lives in the
// caller's cancellation slot, dispatches the emit to `other` with a raw
// pointer to a signal inside itself. When the work completes and the caller
// resumes (clearing its slot, freeing that handler) before `other` runs the
// dispatched emit, the emit writes to freed memory (chriskohlhoff/asio#1332,
// fixed upstream after 1.81). It happens whenever a caller is cancelled near
// the moment its work ends: a timer racing a read, a server's per-request
// deadline. run_on owns the signal through a shared_ptr that every pending
// emit holds, and emits only on the work's own executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace sluice {

namespace detail {

template <class T>
struct run_on_signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct run_on_signature<void> {
  using type = void(std::exception_ptr);
};

// The initiation: connects the caller's slot (when it has one) to a signal
// the work's co_spawn listens to, and completes on the caller's executor.
struct initiate_run_on {
  template <class Handler, class T>
  void operator()(Handler handler, boost::asio::any_io_executor where, boost::asio::awaitable<T> work) const {
    namespace asio = boost::asio;
    // Touched on the caller's thread while co_spawn installs its handler
    // (before any emit can be requested), then only on `where`.
    auto signal = std::make_shared<asio::cancellation_signal>();
    auto caller_slot = asio::get_associated_cancellation_slot(handler);
    if (caller_slot.is_connected()) {
      caller_slot.assign([signal, where](asio::cancellation_type_t type) {
        asio::dispatch(where, [signal, type] { signal->emit(type); });
      });
    }
    const auto caller = asio::get_associated_executor(handler);
    auto done = [handler = std::move(handler), signal](std::exception_ptr e, auto&&... value) mutable {
      // On the caller's executor: the caller's slot no longer needs ours.
      auto slot = asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.clear();
      std::move(handler)(e, std::forward<decltype(value)>(value)...);
    };
    asio::co_spawn(
        where, std::move(work),
        asio::bind_cancellation_slot(signal->slot(), asio::bind_executor(caller, std::move(done))));
  }
};

}  // namespace detail

// Runs `work` on `where` and completes on the calling coroutine's executor
// with its value (an exception in `work`, bugs only, is rethrown here).
// Cancelling the caller emits the same cancellation type into `work`, on
// `where`; the work decides how it ends. `work` must not borrow anything from
// a frame that could end before it does: the caller awaits it, so the
// caller's frame is safe. Already on `where`'s thread (an io_context's
// executor that runs in this thread), `work` is simply awaited: no hop, no
// spawned coroutine, the caller's cancellation reaches it directly.
template <class T>
boost::asio::awaitable<T> run_on(boost::asio::any_io_executor where, boost::asio::awaitable<T> work) {
  if (const auto* here = where.target<boost::asio::io_context::executor_type>();
      here && here->running_in_this_thread())
    co_return co_await std::move(work);
  using signature = typename detail::run_on_signature<T>::type;
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, signature>(
      detail::initiate_run_on{}, boost::asio::use_awaitable, std::move(where), std::move(work));
}

}  // namespace sluice
