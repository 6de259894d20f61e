// The memory budget: page-aligned buffers from a pool that never holds more
// than its budget from the system.
//
// A request reserves its memory (its size rounded up to a page, never a whole
// part) before it is sent; when the budget is spent, acquire() suspends the
// coroutine until enough memory comes back, first come first served, so the
// transfer scheduler gets backpressure instead of allocations past the budget.
// Freed blocks are cached by capacity and handed out again, so a steady state
// does no malloc/free; cached blocks of other sizes are freed when a request
// would not fit beside them.
//
// Buffers are move-only and own their block; share() hands out refcounted,
// read-only slices of it (seastar's temporary_buffer). The block returns to the
// pool when the buffer and every slice of it are gone, on whatever thread that
// happens.
#pragma once

#include <sluice/engine/buffer/buffer.hpp>
#include <sluice/engine/runtime/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

namespace sluice {

class buffer_pool;
class buffer_slice;

namespace detail {
struct pool_block;  // one system allocation: page-aligned bytes and their refcount
struct pool_state;  // the budget, the cache and the waiters, shared by the pool and its blocks
}  // namespace detail

// Pool memory for one request: page-aligned, move-only. Destroying it (and
// every slice shared from it) returns the bytes to the pool's budget and wakes
// waiters. A default-constructed buffer, or one acquired with size 0, holds no
// memory and tests false.
//
// Thread safety: one buffer is used by one thread at a time, but it (and its
// slices) may be destroyed on any thread, also after the pool object is gone.
class pooled_buffer {
 public:
  pooled_buffer() = default;
  pooled_buffer(pooled_buffer&& other) noexcept;
  pooled_buffer& operator=(pooled_buffer&& other) noexcept;
  pooled_buffer(const pooled_buffer&) = delete;
  pooled_buffer& operator=(const pooled_buffer&) = delete;
  ~pooled_buffer() { reset(); }

  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  // The requested size (or what resize() set).
  std::size_t size() const noexcept { return size_; }
  // The size rounded up to the page size: the bytes reserved from the budget,
  // all of them usable (an O_DIRECT tail may write up to here).
  std::size_t capacity() const noexcept { return capacity_; }
  std::span<std::byte> span() noexcept { return {data_, size_}; }
  std::span<const std::byte> span() const noexcept { return {data_, size_}; }
  // Sets the visible size; clamped to capacity().
  void resize(std::size_t n) noexcept { size_ = n <= capacity_ ? n : capacity_; }
  explicit operator bool() const noexcept { return block_ != nullptr; }

  // Shares [offset, offset+len) without copying. The memory returns to the
  // pool when this buffer and all slices are gone. Throws std::out_of_range
  // when the range is not inside [0, size()) (a bug in the caller).
  buffer_slice share(std::size_t offset, std::size_t len) const;
  // Gives this buffer's reference back now; the memory returns to the pool
  // unless slices of it are still alive.
  void reset() noexcept;

 private:
  friend class buffer_pool;
  pooled_buffer(detail::pool_block* block, std::byte* data, std::size_t size, std::size_t capacity) noexcept
      : block_(block), data_(data), size_(size), capacity_(capacity) {}

  detail::pool_block* block_ = nullptr;  // holds one reference
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// A refcounted, read-only view into pool memory (cheap to copy: one atomic
// increment). Copies may live on different threads.
class buffer_slice {
 public:
  buffer_slice() = default;  // empty
  buffer_slice(const buffer_slice& other) noexcept;
  buffer_slice& operator=(const buffer_slice& other) noexcept;
  buffer_slice(buffer_slice&& other) noexcept;
  buffer_slice& operator=(buffer_slice&& other) noexcept;
  ~buffer_slice();

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::byte> span() const noexcept { return {data_, size_}; }

  // A sub-slice [offset, offset+len) of this one; throws std::out_of_range when
  // the range is not inside it.
  buffer_slice share(std::size_t offset, std::size_t len) const;
  // Drops the first n bytes (clamped to size()).
  void trim_front(std::size_t n) noexcept;
  // Shrinks to the first n bytes (no-op when n >= size()).
  void trim(std::size_t n) noexcept;

 private:
  friend class pooled_buffer;
  buffer_slice(detail::pool_block* block, const std::byte* data, std::size_t size) noexcept;

  detail::pool_block* block_ = nullptr;  // holds one reference (null when empty)
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// A hard byte budget over page-aligned buffers.
//
// Thread safety: every member may be called from any thread; acquire() may be
// awaited on any executor, and a waiter is resumed on its own executor.
// Lifetime: buffers and waiters keep the pool's state alive, so they may
// outlive the pool object; once it is gone, returned blocks go straight back to
// the system instead of the cache.
class buffer_pool : public std::enable_shared_from_this<buffer_pool> {
  struct passkey {};

 public:
  struct options {
    std::size_t budget_bytes = std::size_t(256) << 20;
  };
  static std::shared_ptr<buffer_pool> create(options opts);
  buffer_pool(passkey, options opts);  // use create()
  ~buffer_pool();
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

  // Reserves `size` bytes (accounted rounded up to the page size) and returns a
  // buffer. When the budget is spent it waits (suspends the coroutine, never
  // blocks the thread, never allocates past the budget), first come first
  // served: a big request at the head of the queue holds back later small ones.
  // A waiter is resumed on its own executor, whichever thread released the memory.
  // Errors: errc::too_large when size > budget; errc::cancelled when the
  // awaiting coroutine is cancelled through its cancellation slot (e.g.
  // `acquire(n) || timer.async_wait(...)`); its reservation, if it was granted
  // meanwhile, is returned. Size 0 is allowed: no bytes reserved, no waiting,
  // an empty buffer. Throws std::bad_alloc only when the system refuses memory
  // that is within the budget.
  boost::asio::awaitable<result<pooled_buffer>> acquire(std::size_t size);
  // Non-waiting variant: an empty optional when the budget does not allow it
  // now, when waiters are queued ahead, or when size > budget.
  std::optional<pooled_buffer> try_acquire(std::size_t size);

  std::size_t budget() const noexcept;
  // Bytes held by live buffers and their slices (and grants not yet picked up).
  std::size_t reserved() const noexcept;
  // High-water mark of reserved().
  std::size_t peak_reserved() const noexcept;
  // Bytes the pool holds from the system: reserved plus cached free blocks;
  // never more than budget().
  std::size_t allocated() const noexcept;
  // Bytes in cached free blocks.
  std::size_t cached() const noexcept;
  // Coroutines queued in acquire().
  std::size_t waiting() const noexcept;
  // How many blocks the pool ever took from the system (cache misses).
  std::size_t system_allocations() const noexcept;
  // Frees every cached block now (e.g. after a burst, in a long-lived process).
  void release_cached() noexcept;

 private:
  static pooled_buffer hand_out(const std::shared_ptr<detail::pool_state>& state, detail::pool_block* block,
                                std::size_t size) noexcept;

  std::shared_ptr<detail::pool_state> state_;  // shared with every block handed out and every waiter
};

}  // namespace sluice
