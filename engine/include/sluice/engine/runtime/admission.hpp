// An admission limit: at most N holders at once over every thread, waiters
// admitted first come first served. The transfer scheduler takes one ticket
// per data request (GET of a part, PUT of a part or an object), so the limit
// holds over all of a scheduler's transfers, not per call. It takes the ticket
// after the request's memory and sends at once: a ticket holder waits only on
// the network, never on memory, so the two limits cannot wait on each other.
//
// Thread safety: every member may be called from any thread; enter() may be
// awaited on any executor and resumes on it. Lifetime: the limit must outlive
// its tickets and waiters.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

namespace sluice {

class admission_limit {
 public:
  // A granted place; destroying it (or release()) admits the next waiter.
  class ticket {
   public:
    ticket() = default;
    ticket(ticket&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    ticket& operator=(ticket&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = o.owner_;
        o.owner_ = nullptr;
      }
      return *this;
    }
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket() { release(); }
    void release() noexcept;
    explicit operator bool() const noexcept { return owner_ != nullptr; }

   private:
    friend class admission_limit;
    explicit ticket(admission_limit* owner) noexcept : owner_(owner) {}
    admission_limit* owner_ = nullptr;
  };

  explicit admission_limit(unsigned limit);
  ~admission_limit();
  admission_limit(const admission_limit&) = delete;
  admission_limit& operator=(const admission_limit&) = delete;

  // Waits for a place (never blocks the thread). Errors: errc::cancelled when
  // the awaiting coroutine is cancelled through its cancellation slot while
  // it waits (a place granted meanwhile is passed on).
  boost::asio::awaitable<result<ticket>> enter();

  unsigned limit() const noexcept { return limit_; }
  unsigned in_use() const;
  unsigned peak() const;  // high-water mark of in_use()
  std::size_t waiting() const;

 private:
  struct waiter;
  void leave() noexcept;

  const unsigned limit_;
  mutable std::mutex mu_;
  unsigned used_ = 0;
  unsigned peak_ = 0;
  std::deque<std::shared_ptr<waiter>> queue_;
};

}  // namespace sluice
