#include "zarr/shard_index_cache.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

namespace sluice::zarr {

namespace asio = boost::asio;
using index_ptr = std::shared_ptr<const shard_index>;

// One key's fetch and, once it succeeded, its cached index. Waiters block on
// `latch` until the fetcher closes it (closing wakes every receiver).
struct shard_index_cache::slot {
  explicit slot(asio::any_io_executor ex) : latch(std::move(ex), 0) {}
  asio::experimental::concurrent_channel<void(boost::system::error_code)> latch;
  std::mutex mu;
  std::optional<result<index_ptr>> value;  // set once, by the fetcher
  std::size_t bytes = 0;                   // counted in the cache's bytes_ while cached
};

asio::awaitable<result<index_ptr>> shard_index_cache::get(std::string key, fetch_fn fetch) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<slot> s;
  bool mine = false;
  {
    std::lock_guard lk(mu_);
    if (auto it = slots_.find(key); it != slots_.end()) {
      s = it->second;
    } else {
      s = std::make_shared<slot>(ex);
      slots_.emplace(key, s);
      mine = true;
    }
  }
  if (!mine) {
    {
      std::lock_guard lk(s->mu);
      if (s->value) co_return *s->value;
    }
    co_await s->latch.async_receive(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lk(s->mu);
    if (s->value) co_return *s->value;
    co_return fail(sluice::errc::cancelled, key + ": the shard index fetch was abandoned");
  }
  fetches_.fetch_add(1, std::memory_order_relaxed);
  result<index_ptr> got = co_await fetch();
  {
    std::lock_guard lk(s->mu);
    s->value = got;
  }
  {
    std::lock_guard lk(mu_);
    auto it = slots_.find(key);
    const bool ours = it != slots_.end() && it->second == s;
    if (!got || !*got) {
      if (ours) slots_.erase(it);  // failures and missing shards are asked again next time
    } else if (ours) {
      s->bytes = (*got)->where.size() * sizeof(chunk_codecs::inner_location) + key.size();
      bytes_ += s->bytes;
      order_.emplace_back(key, s);
      evict_locked();
    }
  }
  s->latch.close();
  co_return got;
}

void shard_index_cache::evict_locked() {
  // Entries forgotten since they were cached stay in order_ with no bytes:
  // drop them once they are the larger part, so order_ stays proportional.
  if (order_.size() > 2 * slots_.size() + 64)
    std::erase_if(order_, [](const auto& entry) { return entry.second->bytes == 0; });
  while (bytes_ > max_bytes_ && !order_.empty()) {
    auto [key, s] = std::move(order_.front());
    order_.pop_front();
    auto it = slots_.find(key);
    if (it != slots_.end() && it->second == s) slots_.erase(it);
    bytes_ -= s->bytes;
    s->bytes = 0;
  }
}

void shard_index_cache::forget(const std::string& key, const store::generation& gen) {
  std::lock_guard lk(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return;
  const std::shared_ptr<slot>& s = it->second;
  std::lock_guard sl(s->mu);
  if (!s->value) return;  // still being fetched: that fetch is fresh
  if (*s->value && **s->value && (**s->value)->gen != gen) return;
  bytes_ -= s->bytes;
  s->bytes = 0;
  slots_.erase(it);
}

void shard_index_cache::forget(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return;
  {
    std::lock_guard sl(it->second->mu);
    bytes_ -= it->second->bytes;
    it->second->bytes = 0;
  }
  slots_.erase(it);
}

}  // namespace sluice::zarr
