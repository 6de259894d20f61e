// run_on: awaiting work on another thread's executor. Values and exceptions
// come back on the caller's executor; cancelling the caller cancels the work
// on the work's thread; and cancelling at any moment, including the moment
// the work completes, is safe (plain co_spawn + use_awaitable is not in Boost
// 1.81: run_on.hpp).
#include <sluice/engine/runtime/run_on.hpp>

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sluice::run_on;

// Two io_contexts, each run by a thread of its own: the caller's (a) and the
// work's (b).
class two_threads {
 public:
  two_threads() {
    ta_ = std::thread([this] { a.run(); });
    tb_ = std::thread([this] { b.run(); });
    ida = id_of(a);
    idb = id_of(b);
  }
  ~two_threads() {
    guard_a_.reset();
    guard_b_.reset();
    ta_.join();
    tb_.join();
  }

  asio::io_context a{1}, b{1};
  std::thread::id ida, idb;

 private:
  static std::thread::id id_of(asio::io_context& ctx) {
    std::promise<std::thread::id> p;
    asio::post(ctx, [&p] { p.set_value(std::this_thread::get_id()); });
    return p.get_future().get();
  }
  asio::executor_work_guard<asio::io_context::executor_type> guard_a_ = asio::make_work_guard(a);
  asio::executor_work_guard<asio::io_context::executor_type> guard_b_ = asio::make_work_guard(b);
  std::thread ta_, tb_;
};

// Runs `caller` on a and waits for it.
template <class T>
T on_a(two_threads& t, asio::awaitable<T> caller) {
  return asio::co_spawn(t.a, std::move(caller), asio::use_future).get();
}

TEST(RunOn, values_void_and_exceptions_come_back_on_the_callers_thread) {
  two_threads t;
  std::atomic<int> wrong_thread{0};
  auto work = [&]() -> asio::awaitable<int> {
    if (std::this_thread::get_id() != t.idb) ++wrong_thread;
    co_return 42;
  };
  auto caller = [&]() -> asio::awaitable<int> {
    const int v = co_await run_on(t.b.get_executor(), work());
    if (std::this_thread::get_id() != t.ida) ++wrong_thread;
    co_return v;
  };
  EXPECT_EQ(on_a(t, caller()), 42);

  bool ran = false;
  auto void_work = [&]() -> asio::awaitable<void> {
    ran = std::this_thread::get_id() == t.idb;
    co_return;
  };
  auto void_caller = [&]() -> asio::awaitable<bool> {
    co_await run_on(t.b.get_executor(), void_work());
    co_return std::this_thread::get_id() == t.ida;
  };
  EXPECT_TRUE(on_a(t, void_caller()));
  EXPECT_TRUE(ran);

  auto throwing = []() -> asio::awaitable<int> {
    throw std::runtime_error("a bug in the work");
    co_return 0;
  };
  auto catching = [&]() -> asio::awaitable<std::string> {
    try {
      co_await run_on(t.b.get_executor(), throwing());
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) + (std::this_thread::get_id() == t.ida ? " on a" : " elsewhere");
    }
    co_return "no exception";
  };
  EXPECT_EQ(on_a(t, catching()), "a bug in the work on a");
  EXPECT_EQ(wrong_thread.load(), 0);
}

TEST(RunOn, cancelling_the_caller_cancels_the_work_on_the_works_thread) {
  two_threads t;
  std::atomic<bool> waiting{false};
  std::atomic<int> cancelled_on_b{0};
  // The work waits for ever unless cancelled.
  auto work = [&]() -> asio::awaitable<int> {
    asio::steady_timer never(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    waiting = true;
    auto [ec] = co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted && std::this_thread::get_id() == t.idb) ++cancelled_on_b;
    co_return ec == asio::error::operation_aborted ? -1 : 1;
  };
  asio::cancellation_signal cancel;
  std::promise<int> got;
  auto caller = [&]() -> asio::awaitable<void> {
    got.set_value(co_await run_on(t.b.get_executor(), work()));
  };
  asio::post(t.a, [&] {
    asio::co_spawn(t.a, caller(), asio::bind_cancellation_slot(cancel.slot(), [](std::exception_ptr) {}));
  });
  while (!waiting) std::this_thread::sleep_for(1ms);
  asio::post(t.a, [&] { cancel.emit(asio::cancellation_type::terminal); });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "the cancellation did not reach the work";
  EXPECT_EQ(f.get(), -1);
  EXPECT_EQ(cancelled_on_b.load(), 1);
}

// A caller cancelled at random moments around its work's completion, many
// times over: every run ends (with the value or cancelled), nothing touches
// freed memory (the plain co_spawn version crashes here, or reports a
// use-after-free under ASan, within a few thousand rounds).
TEST(RunOn, cancelling_at_any_moment_near_completion_is_safe) {
  two_threads t;
  constexpr int rounds = 20000;
  struct round_state {
    asio::cancellation_signal cancel;
    bool done = false;  // on a
    int outcome = 0;    // on a: 1 value, 2 cancelled
  };
  // Hops between b's queue entries k times, then returns; a cancellation
  // seen on the way ends it early, as a store read ends errc::cancelled.
  auto work = [](int hops) -> asio::awaitable<int> {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < hops; ++i) {
      co_await asio::post(ex, asio::use_awaitable);
      if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
        co_return 2;
    }
    co_return 1;
  };
  auto caller = [&t, work](std::shared_ptr<round_state> st, int hops) -> asio::awaitable<void> {
    st->outcome = co_await run_on(t.b.get_executor(), work(hops));
  };
  auto driver = [&]() -> asio::awaitable<std::pair<int, int>> {
    std::mt19937 rng(20261202);
    int values = 0, cancels = 0;
    for (int r = 0; r < rounds; ++r) {
      auto st = std::make_shared<round_state>();
      const int hops = static_cast<int>(rng() % 4);
      asio::co_spawn(
          t.a, caller(st, hops),
          asio::bind_cancellation_slot(st->cancel.slot(), [st](std::exception_ptr) { st->done = true; }));
      for (int y = static_cast<int>(rng() % 6); y > 0; --y) co_await asio::post(t.a, asio::use_awaitable);
      // Sometimes keep b busy a moment, so that a resumes (and forgets
      // its slot's handler) before b runs the emit queued behind.
      if (rng() % 2) asio::post(t.b, [] { std::this_thread::sleep_for(20us); });
      if (!st->done) st->cancel.emit(asio::cancellation_type::terminal);
      while (!st->done) co_await asio::post(t.a, asio::use_awaitable);
      if (st->outcome == 1) ++values;
      if (st->outcome == 2) ++cancels;
    }
    co_return std::pair{values, cancels};
  };
  auto [values, cancels] = on_a(t, driver());
  EXPECT_EQ(values + cancels, rounds) << "a round ended with neither the value nor cancelled";
  EXPECT_GT(cancels, 0);
  EXPECT_GT(values, 0);
}

}  // namespace

namespace {

// Already on the work's thread, run_on awaits the work in place: it starts
// before anything queued on that context meanwhile (a spawned coroutine would
// start only after it), and the caller's cancellation still reaches it.
TEST(RunOn, on_the_works_own_thread_the_work_runs_in_place_and_is_still_cancellable) {
  two_threads t;
  std::atomic<bool> queued_ran_first{false};
  auto work = [&]() -> asio::awaitable<int> { co_return queued_ran_first ? 1 : 2; };
  auto caller = [&]() -> asio::awaitable<int> {
    asio::post(t.a, [&] { queued_ran_first = true; });
    co_return co_await run_on(t.a.get_executor(), work());
  };
  EXPECT_EQ(on_a(t, caller()), 2) << "the work waited behind a handler queued after the call";

  std::atomic<bool> waiting{false};
  auto waits = [&]() -> asio::awaitable<int> {
    asio::steady_timer never(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    waiting = true;
    auto [ec] = co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return ec == asio::error::operation_aborted&& std::this_thread::get_id() == t.ida ? -1 : 1;
  };
  asio::cancellation_signal cancel;
  std::promise<int> got;
  auto cancelled_caller = [&]() -> asio::awaitable<void> {
    got.set_value(co_await run_on(t.a.get_executor(), waits()));
  };
  asio::post(t.a, [&] {
    asio::co_spawn(t.a, cancelled_caller(),
                   asio::bind_cancellation_slot(cancel.slot(), [](std::exception_ptr) {}));
  });
  while (!waiting) std::this_thread::sleep_for(1ms);
  asio::post(t.a, [&] { cancel.emit(asio::cancellation_type::terminal); });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "the cancellation did not reach the work";
  EXPECT_EQ(f.get(), -1);
}

}  // namespace
