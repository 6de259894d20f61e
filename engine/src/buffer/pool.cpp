// The buffer pool: accounting, the block cache and the waiter queue.
//
// One mutex guards the accounting, the cache and the queue; it is held only
// for bookkeeping (and for the rare free() of a cached block evicted to make
// room, so the footprint stays within the budget at every instant). Waiters are
// completed outside the lock by posting to their own executor, so a release on
// one thread never runs another thread's coroutine inline.
//
// Waiting is a hand-written Asio operation: the waiter lives in the acquire()
// coroutine frame, holds the type-erased completion handler and a tracked
// executor (so its io_context keeps running), and is linked into the queue.
// Exactly one of grant and cancel claims a queued waiter, under the lock; the
// loser sees the stage already changed and does nothing.
#include <sluice/engine/buffer/pool.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace sluice {

namespace asio = boost::asio;
namespace bi = boost::intrusive;
using boost::system::error_code;

namespace detail {

constexpr std::size_t round_to_pages(std::size_t size) noexcept {
  return (size + page_size - 1) / page_size * page_size;
}

struct pool_block : bi::set_base_hook<> {
  pool_block(std::byte* d, std::size_t c) noexcept : data(d), capacity(c) {}

  std::byte* const data;
  const std::size_t capacity;
  std::atomic<std::size_t> refs{0};  // the buffer and its slices; 0 while cached
  // Set while handed out, so the block finds its way back after the pool object
  // is gone; null while cached, so the cache does not keep its own state alive.
  std::shared_ptr<pool_state> owner;
};

struct block_capacity {
  using type = std::size_t;
  std::size_t operator()(const pool_block& b) const noexcept { return b.capacity; }
};
using block_cache = bi::multiset<pool_block, bi::key_of_value<block_capacity>>;

void free_block(pool_block* b) noexcept {
  std::free(b->data);
  delete b;
}
struct block_disposer {
  void operator()(pool_block* b) const noexcept { free_block(b); }
};

// One acquire() that could not be served at once. Lives in the coroutine frame.
struct pool_waiter : bi::list_base_hook<> {
  enum class stage { idle, queued, granted, taken, cancelled };

  pool_waiter(pool_state* s, std::size_t cap) noexcept : state(s), capacity(cap) {}
  pool_waiter(const pool_waiter&) = delete;
  pool_waiter& operator=(const pool_waiter&) = delete;
  ~pool_waiter();  // returns a grant that was never picked up

  pool_state* const state;
  const std::size_t capacity;
  // Written under the state's mutex while queued; read by the owning coroutine
  // once resumed (the post that resumes it orders the accesses).
  stage st = stage::idle;
  pool_block* block = nullptr;  // with a grant: a cached block, or null to allocate one
  // Owned by whoever holds the waiter: the coroutine until queued, then the
  // pool until it posts the completion.
  std::optional<asio::any_completion_handler<void(error_code)>> handler;
  asio::any_io_executor work;  // the coroutine's executor, tracking work so its io_context keeps running
  asio::cancellation_slot slot;
};
using waiter_queue = bi::list<pool_waiter>;

struct pool_state {
  explicit pool_state(std::size_t b) noexcept : budget(b) {}
  ~pool_state() { synced_.cache.clear_and_dispose(block_disposer{}); }
  pool_state(const pool_state&) = delete;
  pool_state& operator=(const pool_state&) = delete;

  // Immutable after construction: any thread.
  const std::size_t budget;

  // Any thread, no lock.
  std::atomic<std::size_t> system_allocations{0};  // blocks ever taken from the system

  mutable std::mutex mutex;
  // Guarded by `mutex`. Invariant: reserved + cached <= budget, and that sum is
  // what the pool holds (or is about to allocate) from the system.
  struct synced {
    std::size_t reserved = 0;  // capacities granted to live buffers and unclaimed grants
    std::size_t peak = 0;      // high-water mark of reserved
    std::size_t cached = 0;    // capacities of the blocks in `cache`
    block_cache cache;         // free blocks by capacity
    waiter_queue queue;        // acquire() calls waiting for memory, oldest first
    bool closed = false;       // the pool object is gone: returned blocks are freed, not cached
  } synced_;

  bool fits_locked(std::size_t cap) const noexcept { return synced_.reserved + cap <= budget; }

  // Reserves `cap` (which must fit) and returns a cached block of exactly that
  // capacity, or null when the caller must allocate one; in that case cached
  // blocks of other sizes are freed until the new block fits beside them.
  pool_block* reserve_locked(std::size_t cap) noexcept {
    auto& s = synced_;
    s.reserved += cap;
    s.peak = std::max(s.peak, s.reserved);
    // Equal keys are inserted last, so this takes the most recently used block (warm in cache).
    auto it = s.cache.upper_bound(cap);
    if (it != s.cache.begin() && std::prev(it)->capacity == cap) {
      pool_block* b = &*std::prev(it);
      s.cache.erase(std::prev(it));
      s.cached -= cap;
      return b;
    }
    while (s.reserved + s.cached > budget) {
      // The smallest block that covers the excess alone, else the largest one.
      std::size_t excess = s.reserved + s.cached - budget;
      auto victim = s.cache.lower_bound(excess);
      if (victim == s.cache.end()) victim = std::prev(s.cache.end());
      pool_block* b = &*victim;
      s.cache.erase(victim);
      s.cached -= b->capacity;
      free_block(b);
    }
    return nullptr;
  }

  // Grants the head of the queue while it fits; the head holds back later,
  // smaller waiters so a big request is not starved.
  void grant_locked(waiter_queue& ready) noexcept {
    auto& q = synced_.queue;
    while (!q.empty() && fits_locked(q.front().capacity)) {
      pool_waiter& w = q.front();
      q.pop_front();
      w.block = reserve_locked(w.capacity);
      w.st = pool_waiter::stage::granted;
      ready.push_back(w);
    }
  }

  // Resumes a waiter on its own executor. The waiter may be gone once this returns.
  static void complete(pool_waiter& w, error_code ec) {
    auto handler = std::move(*w.handler);
    w.handler.reset();
    auto work = std::move(w.work);
    auto slot = w.slot;
    asio::post(work, [handler = std::move(handler), slot, ec]() mutable {
      // The slot belongs to the coroutine's executor, where this runs.
      if (slot.is_connected()) slot.clear();
      handler(ec);
    });
  }

  static void complete_all(waiter_queue& ready) {
    while (!ready.empty()) {
      pool_waiter& w = ready.front();
      ready.pop_front();
      complete(w, {});
    }
  }

  void enqueue(pool_waiter& w) {
    waiter_queue ready;
    {
      std::lock_guard lock(mutex);
      w.st = pool_waiter::stage::queued;
      synced_.queue.push_back(w);
      grant_locked(ready);  // memory may have come back since acquire() looked
    }
    complete_all(ready);
  }

  void cancel(pool_waiter& w) {
    waiter_queue ready;
    {
      std::lock_guard lock(mutex);
      if (w.st != pool_waiter::stage::queued) return;  // granted first: the coroutine returns the grant
      synced_.queue.erase(synced_.queue.iterator_to(w));
      w.st = pool_waiter::stage::cancelled;
      grant_locked(ready);  // a cancelled head no longer holds back the others
    }
    complete(w, asio::error::operation_aborted);
    complete_all(ready);
  }

  // Returns a reservation of `cap` bytes with its block (null when the block was
  // never allocated) and grants waiters that now fit.
  void give_back(std::size_t cap, pool_block* block) noexcept {
    waiter_queue ready;
    {
      std::lock_guard lock(mutex);
      synced_.reserved -= cap;
      if (block && synced_.closed) {
        free_block(block);
      } else if (block) {
        synced_.cache.insert(*block);
        synced_.cached += cap;
      }
      grant_locked(ready);
    }
    complete_all(ready);
  }

  // Takes a block for a reservation of `cap` from the system; on failure gives
  // the reservation back and throws std::bad_alloc.
  pool_block* allocate(std::size_t cap) {
    void* p = std::aligned_alloc(page_size, cap);
    pool_block* b = p ? new (std::nothrow) pool_block(static_cast<std::byte*>(p), cap) : nullptr;
    if (!b) {
      std::free(p);
      give_back(cap, nullptr);
      throw std::bad_alloc();
    }
    system_allocations.fetch_add(1, std::memory_order_relaxed);
    return b;
  }

  void release_cached() noexcept {
    std::lock_guard lock(mutex);
    synced_.cache.clear_and_dispose(block_disposer{});
    synced_.cached = 0;
  }

  void close() noexcept {
    std::lock_guard lock(mutex);
    synced_.closed = true;
    synced_.cache.clear_and_dispose(block_disposer{});
    synced_.cached = 0;
  }
};

pool_waiter::~pool_waiter() {
  // Granted but never picked up: the coroutine was cancelled after the grant,
  // or its frame was destroyed before it resumed (its io_context went away).
  if (st == stage::granted) state->give_back(capacity, block);
}

void add_ref(pool_block* b) noexcept {
  if (b) b->refs.fetch_add(1, std::memory_order_relaxed);
}

void drop_ref(pool_block* b) noexcept {
  if (!b || b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  auto owner = std::move(b->owner);  // may be the last reference to the state
  owner->give_back(b->capacity, b);
}

// Cancellation slot handler of a queued waiter; runs on the waiter's executor.
struct cancel_wait {
  pool_state* state;
  pool_waiter* waiter;
  void operator()(asio::cancellation_type type) const {
    if (type != asio::cancellation_type::none) state->cancel(*waiter);
  }
};

struct initiate_wait {
  pool_state* state;
  pool_waiter* waiter;
  template <class Handler>
  void operator()(Handler&& handler) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    waiter->handler.emplace(std::forward<Handler>(handler));
    waiter->slot = slot;
    if (slot.is_connected()) slot.template emplace<cancel_wait>(cancel_wait{state, waiter});
    state->enqueue(*waiter);
  }
};

}  // namespace detail

// pooled_buffer

pooled_buffer::pooled_buffer(pooled_buffer&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

pooled_buffer& pooled_buffer::operator=(pooled_buffer&& other) noexcept {
  if (this != &other) {
    reset();
    block_ = std::exchange(other.block_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void pooled_buffer::reset() noexcept {
  detail::drop_ref(std::exchange(block_, nullptr));
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
}

buffer_slice pooled_buffer::share(std::size_t offset, std::size_t len) const {
  if (offset > size_ || len > size_ - offset)
    throw std::out_of_range("pooled_buffer::share: range past the end");
  return buffer_slice(block_, data_ + offset, len);
}

// buffer_slice

buffer_slice::buffer_slice(detail::pool_block* block, const std::byte* data, std::size_t size) noexcept
    : block_(block), data_(data), size_(size) {
  detail::add_ref(block_);
}

buffer_slice::buffer_slice(const buffer_slice& other) noexcept
    : block_(other.block_), data_(other.data_), size_(other.size_) {
  detail::add_ref(block_);
}

buffer_slice& buffer_slice::operator=(const buffer_slice& other) noexcept {
  detail::add_ref(other.block_);  // first: `other` may be this, or hold the last other reference
  detail::drop_ref(block_);
  block_ = other.block_;
  data_ = other.data_;
  size_ = other.size_;
  return *this;
}

buffer_slice::buffer_slice(buffer_slice&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

buffer_slice& buffer_slice::operator=(buffer_slice&& other) noexcept {
  if (this != &other) {
    detail::drop_ref(block_);
    block_ = std::exchange(other.block_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

buffer_slice::~buffer_slice() {
  detail::drop_ref(block_);
}

buffer_slice buffer_slice::share(std::size_t offset, std::size_t len) const {
  if (offset > size_ || len > size_ - offset)
    throw std::out_of_range("buffer_slice::share: range past the end");
  return buffer_slice(block_, data_ + offset, len);
}

void buffer_slice::trim_front(std::size_t n) noexcept {
  n = std::min(n, size_);
  data_ += n;
  size_ -= n;
}

void buffer_slice::trim(std::size_t n) noexcept {
  size_ = std::min(n, size_);
}

// buffer_pool

std::shared_ptr<buffer_pool> buffer_pool::create(options opts) {
  return std::make_shared<buffer_pool>(passkey{}, opts);
}

buffer_pool::buffer_pool(passkey, options opts)
    : state_(std::make_shared<detail::pool_state>(opts.budget_bytes)) {}

buffer_pool::~buffer_pool() {
  state_->close();
}

pooled_buffer buffer_pool::hand_out(const std::shared_ptr<detail::pool_state>& state, detail::pool_block* b,
                                    std::size_t size) noexcept {
  b->owner = state;
  b->refs.store(1, std::memory_order_relaxed);
  return pooled_buffer(b, b->data, size, b->capacity);
}

asio::awaitable<result<pooled_buffer>> buffer_pool::acquire(std::size_t size) {
  constexpr auto tok = asio::as_tuple(asio::use_awaitable);
  // Hold the state, not `this`: the pool object may go away while we wait.
  std::shared_ptr<detail::pool_state> st = state_;
  if (size == 0) co_return pooled_buffer{};
  if (size > st->budget || detail::round_to_pages(size) > st->budget)
    co_return fail(errc::too_large, "buffer of " + std::to_string(size) +
                                        " bytes exceeds the pool budget of " + std::to_string(st->budget) +
                                        " bytes");
  const std::size_t cap = detail::round_to_pages(size);

  bool reserved = false;
  detail::pool_block* block = nullptr;
  {
    std::lock_guard lock(st->mutex);
    if (st->synced_.queue.empty() && st->fits_locked(cap)) {
      block = st->reserve_locked(cap);
      reserved = true;
    }
  }
  if (!reserved) {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
      co_return fail(errc::cancelled, "buffer acquisition cancelled");
    detail::pool_waiter w(st.get(), cap);
    auto ex = co_await asio::this_coro::executor;
    w.work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
    auto [ec] = co_await asio::async_initiate<decltype(tok), void(error_code)>(
        detail::initiate_wait{st.get(), &w}, tok);
    if (ec) co_return fail(errc::cancelled, "buffer acquisition cancelled while waiting for memory");
    // Granted, but the cancellation may have raced with the grant: give it back.
    if (cs.cancelled() != asio::cancellation_type::none)
      co_return fail(errc::cancelled, "buffer acquisition cancelled while waiting for memory");
    w.st = detail::pool_waiter::stage::taken;
    block = w.block;
  }
  if (!block) block = st->allocate(cap);
  co_return hand_out(st, block, size);
}

std::optional<pooled_buffer> buffer_pool::try_acquire(std::size_t size) {
  if (size == 0) return pooled_buffer{};
  detail::pool_state& st = *state_;
  if (size > st.budget || detail::round_to_pages(size) > st.budget) return std::nullopt;
  const std::size_t cap = detail::round_to_pages(size);
  detail::pool_block* block = nullptr;
  {
    std::lock_guard lock(st.mutex);
    if (!st.synced_.queue.empty() || !st.fits_locked(cap)) return std::nullopt;
    block = st.reserve_locked(cap);
  }
  if (!block) block = st.allocate(cap);
  return hand_out(state_, block, size);
}

std::size_t buffer_pool::budget() const noexcept {
  return state_->budget;
}

std::size_t buffer_pool::reserved() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->synced_.reserved;
}

std::size_t buffer_pool::peak_reserved() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->synced_.peak;
}

std::size_t buffer_pool::allocated() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->synced_.reserved + state_->synced_.cached;
}

std::size_t buffer_pool::cached() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->synced_.cached;
}

std::size_t buffer_pool::waiting() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->synced_.queue.size();
}

std::size_t buffer_pool::system_allocations() const noexcept {
  return state_->system_allocations.load(std::memory_order_relaxed);
}

void buffer_pool::release_cached() noexcept {
  state_->release_cached();
}

}  // namespace sluice
