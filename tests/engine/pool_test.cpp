// The buffer pool against real io_contexts and threads: page accounting,
// slices, the budget, FIFO waiting, cancellation, cache reuse and a two-thread
// stress run.
#include <sluice/engine/buffer/pool.hpp>

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sluice::buffer_pool;
using sluice::buffer_slice;
using sluice::errc;
using sluice::pooled_buffer;
using sluice::result;

constexpr std::size_t page = sluice::page_size;
constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * 1024;

std::shared_ptr<buffer_pool> make_pool(std::size_t budget) {
  return buffer_pool::create(buffer_pool::options{.budget_bytes = budget});
}

bool page_aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % page == 0;
}

// Runs ready handlers on `ctx` until none is left (single-threaded tests).
void drain(asio::io_context& ctx) {
  ctx.restart();
  ctx.poll();
}

// Runs `ctx` on this thread until `done()` holds; false on timeout.
bool run_until(asio::io_context& ctx, const std::function<bool()>& done,
               std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    ctx.restart();
    ctx.run_one_for(10ms);
  }
  return true;
}

template <class T>
T run_coroutine(asio::io_context& ctx, asio::awaitable<T> work) {
  auto fut = asio::co_spawn(ctx, std::move(work), asio::use_future);
  bool finished = run_until(ctx, [&] { return fut.wait_for(0s) == std::future_status::ready; });
  if (!finished) throw std::runtime_error("coroutine did not finish");
  return fut.get();
}

// An io_context run by its own thread until finish() (or destruction).
struct context_thread {
  asio::io_context ctx;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ctx.get_executor()};
  std::thread thread{[this] { ctx.run(); }};

  // Lets the context run out of work (pending handlers still run), then joins.
  void finish() {
    guard.reset();
    if (thread.joinable()) thread.join();
  }
  ~context_thread() {
    if (thread.joinable()) {
      ctx.stop();
      thread.join();
    }
  }
};

// Acquires `size` bytes and stores the buffer (or the error) in *out; appends
// `tag` to *order once served.
asio::awaitable<void> acquire_into(buffer_pool* pool, std::size_t size,
                                   std::optional<result<pooled_buffer>>* out, std::vector<int>* order,
                                   int tag) {
  auto r = co_await pool->acquire(size);
  *out = std::move(r);
  if (order) order->push_back(tag);
}

// Acquires and records the error (or none) the acquire itself returned.
asio::awaitable<result<pooled_buffer>> acquire_recording(buffer_pool* pool, std::size_t size,
                                                         std::error_code* seen) {
  auto r = co_await pool->acquire(size);
  *seen = r ? std::error_code{} : r.error().code;
  co_return r;
}

// acquire() raced against a deadline with `||`.
asio::awaitable<void> acquire_with_deadline(buffer_pool* pool, std::size_t size,
                                            std::chrono::milliseconds deadline, std::error_code* seen,
                                            bool* timer_won) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto acquiring = acquire_recording(pool, size, seen);
  auto waiting = timer.async_wait(asio::use_awaitable);
  auto race = std::move(acquiring) || std::move(waiting);
  auto winner = co_await std::move(race);
  *timer_won = winner.index() == 1;
}

// ---------------------------------------------------------------------------

TEST(BufferPoolReservation, reserves_the_size_rounded_up_to_pages) {
  auto pool = make_pool(1 * MiB);
  auto one = pool->try_acquire(1);
  ASSERT_TRUE(one && *one);
  EXPECT_EQ(one->size(), 1u);
  EXPECT_EQ(one->capacity(), page);
  EXPECT_TRUE(page_aligned(one->data()));
  EXPECT_EQ(pool->reserved(), page);

  auto over = pool->try_acquire(page + 1);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->capacity(), 2 * page);
  EXPECT_EQ(pool->reserved(), 3 * page);

  auto exact = pool->try_acquire(2 * page);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->capacity(), 2 * page);
  EXPECT_EQ(pool->reserved(), 5 * page);
  EXPECT_EQ(pool->allocated(), 5 * page);
}

TEST(BufferPoolReservation, small_buffers_do_not_reserve_a_part) {
  auto pool = make_pool(16 * page);
  std::vector<pooled_buffer> held;
  for (int i = 0; i < 16; ++i) {
    auto b = pool->try_acquire(100);
    ASSERT_TRUE(b) << "buffer " << i;
    held.push_back(std::move(*b));
  }
  EXPECT_EQ(pool->reserved(), 16 * page);
  EXPECT_FALSE(pool->try_acquire(100));
}

TEST(BufferPoolReservation, reserved_returns_to_zero_after_all_buffers_die) {
  auto pool = make_pool(4 * MiB);
  asio::io_context ctx;
  {
    auto a = pool->try_acquire(10 * KiB);
    auto b = run_coroutine(ctx, pool->acquire(1 * MiB));
    ASSERT_TRUE(a && b);
    pooled_buffer moved = std::move(*b);
    EXPECT_FALSE(*b);
    pooled_buffer assigned;
    assigned = std::move(*a);
    EXPECT_EQ(pool->reserved(), 12 * KiB + 1 * MiB);
    moved.reset();
    EXPECT_FALSE(moved);
    EXPECT_EQ(pool->reserved(), 12 * KiB);
  }
  EXPECT_EQ(pool->reserved(), 0u);
  EXPECT_EQ(pool->peak_reserved(), 12 * KiB + 1 * MiB);
}

TEST(BufferPoolReservation, slices_keep_memory_alive_until_the_last_one_goes) {
  auto pool = make_pool(1 * MiB);
  auto buf = pool->try_acquire(1000);
  ASSERT_TRUE(buf);
  for (std::size_t i = 0; i < buf->size(); ++i) buf->data()[i] = std::byte(i & 0xff);

  buffer_slice slice = buf->share(10, 100);
  buffer_slice sub = slice.share(5, 10);
  buf->reset();
  EXPECT_EQ(pool->reserved(), page);
  ASSERT_EQ(slice.size(), 100u);
  EXPECT_EQ(slice.data()[0], std::byte(10));
  ASSERT_EQ(sub.size(), 10u);
  EXPECT_EQ(sub.data()[0], std::byte(15));

  buffer_slice copy = sub;
  slice = buffer_slice{};
  sub.trim_front(3);
  EXPECT_EQ(sub.size(), 7u);
  EXPECT_EQ(sub.data()[0], std::byte(18));
  sub.trim(2);
  EXPECT_EQ(sub.span().size(), 2u);
  sub = buffer_slice{};
  EXPECT_EQ(pool->reserved(), page);  // `copy` still holds the block

  copy = buffer_slice{};
  EXPECT_EQ(pool->reserved(), 0u);
}

TEST(BufferPoolReservation, share_outside_the_buffer_throws) {
  auto pool = make_pool(1 * MiB);
  auto buf = pool->try_acquire(100);
  ASSERT_TRUE(buf);
  EXPECT_THROW((void)buf->share(90, 11), std::out_of_range);
  EXPECT_THROW((void)buf->share(101, 0), std::out_of_range);
  buffer_slice whole = buf->share(0, 100);
  EXPECT_THROW((void)whole.share(50, 51), std::out_of_range);
  EXPECT_EQ(whole.share(100, 0).size(), 0u);
}

TEST(BufferPoolReservation, resize_stays_within_capacity) {
  auto pool = make_pool(1 * MiB);
  auto buf = pool->try_acquire(100);
  ASSERT_TRUE(buf);
  buf->resize(page);
  EXPECT_EQ(buf->size(), page);
  EXPECT_EQ(buf->span().size(), page);
  buf->resize(10 * page);
  EXPECT_EQ(buf->size(), page);
  EXPECT_EQ(pool->reserved(), page);
}

TEST(BufferPoolReservation, size_zero_reserves_nothing_and_never_waits) {
  auto pool = make_pool(4 * page);
  auto full = pool->try_acquire(4 * page);
  ASSERT_TRUE(full);
  auto empty = pool->try_acquire(0);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
  EXPECT_EQ(empty->size(), 0u);

  asio::io_context ctx;
  auto r = run_coroutine(ctx, pool->acquire(0));
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(pool->reserved(), 4 * page);
}

TEST(BufferPoolReservation, buffers_and_slices_outlive_the_pool) {
  auto pool = make_pool(1 * MiB);
  auto buf = pool->try_acquire(page);
  ASSERT_TRUE(buf);
  buffer_slice slice = buf->share(0, 16);
  std::weak_ptr<buffer_pool> weak = pool;
  pool.reset();
  EXPECT_TRUE(weak.expired());

  buf->data()[0] = std::byte{42};
  EXPECT_EQ(slice.data()[0], std::byte{42});
  buf->reset();
  EXPECT_EQ(slice.data()[0], std::byte{42});
  slice = buffer_slice{};  // the last reference returns the block to the orphaned state
}

// ---------------------------------------------------------------------------

TEST(BufferPoolLimits, acquire_beyond_the_budget_is_too_large) {
  auto pool = make_pool(1 * MiB);
  asio::io_context ctx;
  auto too_big = run_coroutine(ctx, pool->acquire(1 * MiB + 1));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, errc::too_large);
  EXPECT_FALSE(pool->try_acquire(1 * MiB + 1));

  auto exact = run_coroutine(ctx, pool->acquire(1 * MiB));
  ASSERT_TRUE(exact);
  EXPECT_EQ(pool->reserved(), 1 * MiB);
}

TEST(BufferPoolLimits, a_budget_that_is_not_page_aligned_rejects_what_rounds_past_it) {
  auto pool = make_pool(page + 100);
  asio::io_context ctx;
  auto r = run_coroutine(ctx, pool->acquire(page + 50));  // needs two pages: could never be served
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::too_large);
  EXPECT_TRUE(pool->try_acquire(page));
}

TEST(BufferPoolLimits, try_acquire_fails_when_full_and_succeeds_after_release) {
  auto pool = make_pool(8 * page);
  auto a = pool->try_acquire(6 * page);
  ASSERT_TRUE(a);
  EXPECT_FALSE(pool->try_acquire(3 * page));
  auto b = pool->try_acquire(2 * page);
  ASSERT_TRUE(b);
  EXPECT_FALSE(pool->try_acquire(1));
  a->reset();
  auto c = pool->try_acquire(3 * page);
  ASSERT_TRUE(c);
  EXPECT_EQ(pool->reserved(), 5 * page);
}

TEST(BufferPoolLimits, try_acquire_does_not_jump_the_queue) {
  auto pool = make_pool(8 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(6 * page);
  ASSERT_TRUE(held);
  std::optional<result<pooled_buffer>> big;
  asio::co_spawn(ctx, acquire_into(pool.get(), 8 * page, &big, nullptr, 0), asio::detached);
  drain(ctx);
  ASSERT_EQ(pool->waiting(), 1u);
  EXPECT_FALSE(pool->try_acquire(page));  // two pages are free, but the queued request comes first

  held->reset();
  drain(ctx);
  ASSERT_TRUE(big && *big);
  EXPECT_EQ((*big)->capacity(), 8 * page);
}

// ---------------------------------------------------------------------------

TEST(BufferPoolWaiting, a_waiter_is_woken_when_memory_is_released) {
  auto pool = make_pool(4 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(4 * page);
  ASSERT_TRUE(held);

  std::optional<result<pooled_buffer>> got;
  asio::co_spawn(ctx, acquire_into(pool.get(), page, &got, nullptr, 0), asio::detached);
  drain(ctx);
  EXPECT_EQ(pool->waiting(), 1u);
  EXPECT_FALSE(got);

  held->reset();
  ASSERT_TRUE(run_until(ctx, [&] { return got.has_value(); }));
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->size(), page);
  EXPECT_EQ(pool->reserved(), page);
  EXPECT_EQ(pool->waiting(), 0u);
}

TEST(BufferPoolWaiting, release_wakes_as_many_waiters_as_now_fit) {
  auto pool = make_pool(4 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(4 * page);
  ASSERT_TRUE(held);

  std::vector<std::optional<result<pooled_buffer>>> got(5);
  std::vector<int> order;
  for (int i = 0; i < 5; ++i)
    asio::co_spawn(ctx, acquire_into(pool.get(), page, &got[i], &order, i), asio::detached);
  drain(ctx);
  EXPECT_EQ(pool->waiting(), 5u);

  held->reset();
  drain(ctx);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(pool->waiting(), 1u);
  EXPECT_EQ(pool->reserved(), 4 * page);

  got[0]->value().reset();
  drain(ctx);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

// Holds `size` bytes on its own context until a waiter queues up, then releases them.
asio::awaitable<void> hold_until_someone_waits(buffer_pool* pool, std::size_t size,
                                               std::promise<void>* acquired,
                                               std::promise<std::thread::id>* released_on) {
  auto held = co_await pool->acquire(size);
  acquired->set_value();
  asio::steady_timer poll_timer(co_await asio::this_coro::executor);
  while (pool->waiting() == 0) {
    poll_timer.expires_after(1ms);
    co_await poll_timer.async_wait(asio::use_awaitable);
  }
  held->reset();
  released_on->set_value(std::this_thread::get_id());
}

asio::awaitable<void> acquire_and_report(buffer_pool* pool, std::size_t size,
                                         std::promise<std::pair<std::thread::id, std::size_t>>* resumed) {
  auto r = co_await pool->acquire(size);
  resumed->set_value({std::this_thread::get_id(), r ? r->size() : 0});
}

TEST(BufferPoolWaiting, release_on_another_thread_wakes_a_waiter_on_its_own_context) {
  auto pool = make_pool(4 * page);
  context_thread holder, waiter;

  std::promise<void> acquired;
  std::promise<std::thread::id> released_on;
  asio::co_spawn(holder.ctx, hold_until_someone_waits(pool.get(), 4 * page, &acquired, &released_on),
                 asio::detached);
  ASSERT_EQ(acquired.get_future().wait_for(10s), std::future_status::ready);

  std::promise<std::pair<std::thread::id, std::size_t>> resumed;
  auto resumed_future = resumed.get_future();
  asio::co_spawn(waiter.ctx, acquire_and_report(pool.get(), 2 * page, &resumed), asio::detached);

  ASSERT_EQ(resumed_future.wait_for(10s), std::future_status::ready);
  auto [resumed_on, size] = resumed_future.get();
  EXPECT_EQ(size, 2 * page);
  EXPECT_EQ(resumed_on, waiter.thread.get_id());
  EXPECT_EQ(released_on.get_future().get(), holder.thread.get_id());
  holder.finish();
  waiter.finish();
  EXPECT_EQ(pool->reserved(), 0u);
}

TEST(BufferPoolWaiting, a_big_request_queued_first_is_served_before_later_small_ones) {
  auto pool = make_pool(16 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(12 * page);
  ASSERT_TRUE(held);

  std::vector<int> order;
  std::optional<result<pooled_buffer>> big;
  std::vector<std::optional<result<pooled_buffer>>> small(3);
  asio::co_spawn(ctx, acquire_into(pool.get(), 16 * page, &big, &order, 100), asio::detached);
  drain(ctx);
  for (int i = 0; i < 3; ++i)
    asio::co_spawn(ctx, acquire_into(pool.get(), page, &small[i], &order, i), asio::detached);
  drain(ctx);
  // Four pages are free, but the small requests queue behind the big one.
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(pool->waiting(), 4u);
  EXPECT_EQ(pool->reserved(), 12 * page);

  held->reset();
  drain(ctx);
  EXPECT_EQ(order, (std::vector<int>{100}));
  EXPECT_EQ(pool->reserved(), 16 * page);

  big->value().reset();
  drain(ctx);
  EXPECT_EQ(order, (std::vector<int>{100, 0, 1, 2}));
  EXPECT_EQ(pool->reserved(), 3 * page);
}

// ---------------------------------------------------------------------------

TEST(BufferPoolCancellation, a_waiting_acquire_raced_by_a_timer_returns_cancelled) {
  auto pool = make_pool(4 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(3 * page);
  ASSERT_TRUE(held);

  std::error_code seen;
  bool timer_won = false;
  run_coroutine(ctx, acquire_with_deadline(pool.get(), 2 * page, 5ms, &seen, &timer_won));
  EXPECT_TRUE(timer_won);
  EXPECT_EQ(seen, errc::cancelled);
  EXPECT_EQ(pool->waiting(), 0u);
  EXPECT_EQ(pool->reserved(), 3 * page);

  // The pool is consistent: once memory comes back, the same request succeeds.
  held->reset();
  auto later = run_coroutine(ctx, pool->acquire(4 * page));
  ASSERT_TRUE(later);
  EXPECT_EQ(pool->reserved(), 4 * page);
}

TEST(BufferPoolCancellation, an_acquire_that_fits_beats_its_deadline) {
  auto pool = make_pool(4 * page);
  asio::io_context ctx;
  std::error_code seen = errc::io_error;
  bool timer_won = true;
  run_coroutine(ctx, acquire_with_deadline(pool.get(), 2 * page, 10s, &seen, &timer_won));
  EXPECT_FALSE(timer_won);
  EXPECT_FALSE(seen);
  EXPECT_EQ(pool->reserved(), 0u);  // the winner's buffer died with the race's result
}

TEST(BufferPoolCancellation, a_cancellation_signal_cancels_a_waiter) {
  auto pool = make_pool(4 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(4 * page);
  ASSERT_TRUE(held);

  asio::cancellation_signal signal;
  std::optional<result<pooled_buffer>> got;
  asio::co_spawn(
      ctx, pool->acquire(page),
      asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, result<pooled_buffer> r) {
        if (!e) got = std::move(r);
      }));
  drain(ctx);
  ASSERT_EQ(pool->waiting(), 1u);

  signal.emit(asio::cancellation_type::terminal);
  drain(ctx);
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error().code, errc::cancelled);
  EXPECT_EQ(pool->waiting(), 0u);
  EXPECT_EQ(pool->reserved(), 4 * page);
}

TEST(BufferPoolCancellation, a_cancelled_head_no_longer_holds_back_later_waiters) {
  auto pool = make_pool(8 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(6 * page);
  ASSERT_TRUE(held);

  asio::cancellation_signal signal;
  std::optional<result<pooled_buffer>> big, small;
  asio::co_spawn(
      ctx, pool->acquire(8 * page),
      asio::bind_cancellation_slot(signal.slot(),
                                   [&](std::exception_ptr, result<pooled_buffer> r) { big = std::move(r); }));
  drain(ctx);
  asio::co_spawn(ctx, acquire_into(pool.get(), page, &small, nullptr, 0), asio::detached);
  drain(ctx);
  ASSERT_EQ(pool->waiting(), 2u);
  EXPECT_FALSE(small);

  signal.emit(asio::cancellation_type::terminal);
  drain(ctx);
  ASSERT_TRUE(big && !*big);
  EXPECT_EQ(big->error().code, errc::cancelled);
  ASSERT_TRUE(small && *small);
  EXPECT_EQ(pool->reserved(), 7 * page);
}

TEST(BufferPoolCancellation, a_grant_that_races_the_cancellation_is_returned) {
  auto pool = make_pool(4 * page);
  asio::io_context ctx;
  auto held = pool->try_acquire(4 * page);
  ASSERT_TRUE(held);

  asio::cancellation_signal signal;
  std::optional<result<pooled_buffer>> got;
  asio::co_spawn(
      ctx, pool->acquire(2 * page),
      asio::bind_cancellation_slot(signal.slot(),
                                   [&](std::exception_ptr, result<pooled_buffer> r) { got = std::move(r); }));
  drain(ctx);
  ASSERT_EQ(pool->waiting(), 1u);

  // On the waiter's thread (so the cancellation is delivered at once, not
  // posted): the release grants the waiter, whose resumption is posted, and the
  // cancellation arrives before it runs.
  std::size_t reserved_after_grant = 0;
  asio::post(ctx, [&] {
    held->reset();
    reserved_after_grant = pool->reserved();
    signal.emit(asio::cancellation_type::terminal);
  });
  drain(ctx);
  EXPECT_EQ(reserved_after_grant, 2 * page);
  ASSERT_TRUE(got && !*got);
  EXPECT_EQ(got->error().code, errc::cancelled);
  EXPECT_EQ(pool->reserved(), 0u);
  EXPECT_EQ(pool->allocated(), pool->cached());
}

// ---------------------------------------------------------------------------

TEST(BufferPoolReuse, the_same_size_is_allocated_from_the_system_once) {
  auto pool = make_pool(64 * MiB);
  for (int i = 0; i < 1000; ++i) {
    auto b = pool->try_acquire(8 * MiB);
    ASSERT_TRUE(b);
    b->data()[0] = std::byte{1};
  }
  asio::io_context ctx;
  for (int i = 0; i < 1000; ++i) {
    auto b = run_coroutine(ctx, pool->acquire(8 * MiB - 100));  // same page count, same block
    ASSERT_TRUE(b);
  }
  EXPECT_EQ(pool->system_allocations(), 1u);
  EXPECT_EQ(pool->reserved(), 0u);
  EXPECT_EQ(pool->cached(), 8 * MiB);
  EXPECT_EQ(pool->allocated(), 8 * MiB);
}

TEST(BufferPoolReuse, cached_blocks_of_other_sizes_are_freed_to_make_room) {
  auto pool = make_pool(8 * page);
  {
    auto a = pool->try_acquire(2 * page);
    auto b = pool->try_acquire(6 * page);
    ASSERT_TRUE(a && b);
  }
  EXPECT_EQ(pool->cached(), 8 * page);
  EXPECT_EQ(pool->allocated(), 8 * page);

  auto c = pool->try_acquire(3 * page);  // fits the budget only once a cached block goes
  ASSERT_TRUE(c);
  EXPECT_EQ(pool->system_allocations(), 3u);
  EXPECT_LE(pool->allocated(), pool->budget());
  EXPECT_EQ(pool->cached(), 2 * page);  // the 6-page block alone covered the excess
  EXPECT_EQ(pool->allocated(), 5 * page);

  auto d = pool->try_acquire(2 * page);  // the cached 2-page block comes back
  ASSERT_TRUE(d);
  EXPECT_EQ(pool->system_allocations(), 3u);
}

TEST(BufferPoolReuse, release_cached_returns_free_blocks_to_the_system) {
  auto pool = make_pool(1 * MiB);
  auto live = pool->try_acquire(page);
  { auto freed = pool->try_acquire(4 * page); }
  EXPECT_EQ(pool->allocated(), 5 * page);
  pool->release_cached();
  EXPECT_EQ(pool->cached(), 0u);
  EXPECT_EQ(pool->allocated(), page);
}

// ---------------------------------------------------------------------------

struct stress_state {
  buffer_pool* pool;
  asio::io_context* contexts[2];
  std::atomic<std::size_t> max_reserved{0};
  std::atomic<std::size_t> max_allocated{0};
  std::atomic<std::size_t> max_waiting{0};
  std::atomic<int> finished{0};
  std::atomic<int> served{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> failed{0};

  static void raise(std::atomic<std::size_t>& max, std::size_t v) {
    std::size_t cur = max.load();
    while (v > cur && !max.compare_exchange_weak(cur, v)) {
    }
  }
  void sample() {
    raise(max_reserved, pool->reserved());
    raise(max_allocated, pool->allocated());
    raise(max_waiting, pool->waiting());
  }
};

// mode 0: acquire, hold 0-1 ms, release here; mode 1: the same with a 0-2 ms
// deadline on the acquire; mode 2: release on the other context's thread.
asio::awaitable<void> stress_worker(stress_state* s, int self, std::size_t size, int mode, unsigned hold_us) {
  if (mode == 1) {
    std::error_code seen;
    bool timer_won = false;
    auto deadline = std::chrono::milliseconds(hold_us % 3);
    co_await acquire_with_deadline(s->pool, size, deadline, &seen, &timer_won);
    if (seen == errc::cancelled)
      s->cancelled.fetch_add(1);
    else if (seen)
      s->failed.fetch_add(1);
    else
      s->served.fetch_add(1);  // the buffer died with the race; nothing more to do
    s->sample();
    s->finished.fetch_add(1);
    co_return;
  }
  auto r = co_await s->pool->acquire(size);
  s->sample();
  if (!r || r->size() != size) {
    s->failed.fetch_add(1);
    s->finished.fetch_add(1);
    co_return;
  }
  s->served.fetch_add(1);
  pooled_buffer buf = std::move(*r);
  buf.data()[0] = std::byte{1};
  buf.data()[size - 1] = std::byte{2};
  asio::steady_timer hold(co_await asio::this_coro::executor, std::chrono::microseconds(hold_us));
  co_await hold.async_wait(asio::use_awaitable);
  s->sample();
  if (mode == 2) {
    asio::post(*s->contexts[1 - self], [b = std::move(buf)]() mutable { b.reset(); });
  } else {
    buf.reset();
  }
  s->sample();
  s->finished.fetch_add(1);
}

TEST(BufferPoolStress, two_threads_random_sizes_stay_within_the_budget) {
  constexpr std::size_t budget = 32 * MiB;
  constexpr int workers = 2000;
  auto pool = make_pool(budget);
  stress_state s;  // outlives the threads, also when an assertion returns early
  context_thread threads[2];
  s.pool = pool.get();
  s.contexts[0] = &threads[0].ctx;
  s.contexts[1] = &threads[1].ctx;

  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<std::size_t> size_dist(4 * KiB, 8 * MiB);
  std::uniform_int_distribution<unsigned> hold_dist(0, 1000);
  int cancellable = 0;
  for (int i = 0; i < workers; ++i) {
    int self = i % 2;
    int mode = i % 4 == 1 ? 1 : i % 4 == 3 ? 2 : 0;
    cancellable += mode == 1;
    asio::co_spawn(threads[self].ctx, stress_worker(&s, self, size_dist(rng), mode, hold_dist(rng)),
                   asio::detached);
  }

  const auto end = std::chrono::steady_clock::now() + 120s;
  while (s.finished.load() < workers && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(s.finished.load(), workers) << "served " << s.served << ", waiting " << pool->waiting();
  threads[0].finish();  // runs the releases still posted across threads
  threads[1].finish();

  EXPECT_EQ(s.failed.load(), 0);
  EXPECT_EQ(s.served.load() + s.cancelled.load(), workers);
  EXPECT_LE(s.cancelled.load(), cancellable);
  EXPECT_GE(s.served.load(), workers - cancellable);
  EXPECT_LE(s.max_reserved.load(), budget);
  EXPECT_LE(s.max_allocated.load(), budget);
  EXPECT_LE(pool->peak_reserved(), budget);
  EXPECT_GT(pool->peak_reserved(), budget / 2);  // the budget was under pressure
  EXPECT_GT(s.max_waiting.load(), 0u);           // and workers had to queue
  EXPECT_LE(pool->allocated(), budget);
  EXPECT_EQ(pool->reserved(), 0u);
  EXPECT_EQ(pool->waiting(), 0u);
}

}  // namespace
