#include <sluice/engine/runtime/admission.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace sluice {

namespace asio = boost::asio;

// A queued enter(): its timer never expires; it is cancelled on its own
// executor when a place is handed over (`granted` set under the mutex first).
struct admission_limit::waiter {
  explicit waiter(const asio::any_io_executor& ex) : wake(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  bool granted = false;  // guarded by the limit's mutex
};

void admission_limit::ticket::release() noexcept {
  if (owner_) std::exchange(owner_, nullptr)->leave();
}

admission_limit::admission_limit(unsigned limit) : limit_(std::max(1u, limit)) {}

admission_limit::~admission_limit() = default;

asio::awaitable<result<admission_limit::ticket>> admission_limit::enter() {
  std::shared_ptr<waiter> w;
  {
    std::lock_guard lk(mu_);
    if (used_ < limit_ && queue_.empty()) {
      peak_ = std::max(peak_, ++used_);
      co_return ticket{this};
    }
    w = std::make_shared<waiter>(co_await asio::this_coro::executor);
    queue_.push_back(w);
  }
  (void)co_await w->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  std::lock_guard lk(mu_);
  if (w->granted) co_return ticket{this};  // leave() counted it as ours
  // Cancelled through the caller's slot before a place came.
  queue_.erase(std::find(queue_.begin(), queue_.end(), w));
  co_return fail(errc::cancelled, "cancelled while waiting for a request slot");
}

// A place comes free: it passes straight to the first waiter (used_ stays).
void admission_limit::leave() noexcept {
  std::shared_ptr<waiter> next;
  {
    std::lock_guard lk(mu_);
    if (queue_.empty()) {
      --used_;
      return;
    }
    next = std::move(queue_.front());
    queue_.pop_front();
    next->granted = true;
  }
  auto ex = next->wake.get_executor();
  asio::post(ex, [next = std::move(next)] { next->wake.cancel(); });
}

unsigned admission_limit::in_use() const {
  std::lock_guard lk(mu_);
  return used_;
}
unsigned admission_limit::peak() const {
  std::lock_guard lk(mu_);
  return peak_;
}
std::size_t admission_limit::waiting() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

}  // namespace sluice
