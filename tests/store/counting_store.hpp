// A store wrapper for tests: forwards to another store and counts the reads
// that reach it (whole values, index-like ranged reads, read_ranges calls and
// their ranges), optionally slowing the ranged ones down so readers overlap.
#pragma once

#include <sluice/engine/runtime/engine.hpp>
#include <sluice/store/store.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace sluice::store_tests {

namespace st = sluice::store;

// Forwards to another store, counting reads: whole values, suffix or other
// ranged reads, and read_ranges calls with their ranges. Index reads (suffix
// ranges, or ranges at offset 0 when `index_at_start`) can be slowed down so
// that readers overlap.
class counting_store final : public st::store {
 public:
  explicit counting_store(std::shared_ptr<st::store> inner) : inner_(std::move(inner)) {}

  std::atomic<unsigned> whole_reads{0}, index_reads{0}, range_calls{0}, ranges{0};
  std::atomic<unsigned> documents{0};  // whole reads of zarr.json documents
  std::chrono::milliseconds index_delay{0};
  bool index_at_start = false;

  void reset() { whole_reads = index_reads = range_calls = ranges = documents = lists = 0; }
  std::atomic<unsigned> lists{0};

  boost::asio::awaitable<result<st::read_result>> read(std::string_view key,
                                                       const st::read_options& opts) override {
    if (opts.range.whole()) {
      if (key.ends_with("zarr.json"))
        ++documents;
      else
        ++whole_reads;
    } else if (opts.range.suffix || (index_at_start && opts.range.offset == 0)) {
      ++index_reads;
      if (index_delay.count() > 0) {
        boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, index_delay);
        co_await t.async_wait(boost::asio::use_awaitable);
      }
    }
    co_return co_await inner_->read(key, opts);
  }
  boost::asio::awaitable<result<st::ranges_result>> read_ranges(std::string_view key,
                                                                std::span<const st::byte_range> asked,
                                                                const st::read_options& opts) override {
    ++range_calls;
    ranges += static_cast<unsigned>(asked.size());
    co_return co_await inner_->read_ranges(key, asked, opts);
  }
  boost::asio::awaitable<result<st::generation>> write(std::string_view key, std::span<const std::byte> v,
                                                       const st::write_options& opts) override {
    co_return co_await inner_->write(key, v, opts);
  }
  boost::asio::awaitable<result<void>> remove(std::string_view key, const st::remove_options& opts) override {
    co_return co_await inner_->remove(key, opts);
  }
  boost::asio::awaitable<result<st::remove_stats>> remove_prefix(std::string_view prefix) override {
    co_return co_await inner_->remove_prefix(prefix);
  }
  boost::asio::awaitable<result<void>> list(std::string_view prefix, const st::list_options& opts,
                                            const st::list_callback& cb) override {
    ++lists;
    co_return co_await inner_->list(prefix, opts, cb);
  }
  boost::asio::awaitable<result<st::generation>> copy(std::string_view from, std::string_view to) override {
    co_return co_await inner_->copy(from, to);
  }
  boost::asio::awaitable<result<std::optional<st::read_result>>> stat(std::string_view key) override {
    co_return co_await inner_->stat(key);
  }
  st::feature_set features() const override { return inner_->features(); }
  std::string describe(std::string_view key) const override { return inner_->describe(key); }
  // An engine to decode on, as the S3 store offers its scheduler's (none: the caller decodes).
  engine* compute_engine() const noexcept override { return compute; }
  engine* compute = nullptr;
  // What read_ranges_gap() says (the memory store underneath merges nothing).
  std::uint64_t read_ranges_gap() const noexcept override { return gap; }
  std::uint64_t gap = 0;

 private:
  std::shared_ptr<st::store> inner_;
};

}  // namespace sluice::store_tests
