// The memory driver: a sorted map under one mutex; values are shared slices of
// pool blocks, so a read, a copy and an overwrite never copy stored bytes.
#include <sluice/store/memory.hpp>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>

namespace sluice::store {

namespace {

namespace asio = boost::asio;
using asio::awaitable;

constexpr std::size_t page_entries = 1000;

struct value {
  buffer_slice bytes;
  uint64_t size = 0;
  generation gen;
  std::string content_type;
  std::map<std::string, std::string> metadata;
};

class memory_store final : public store {
 public:
  explicit memory_store(const memory_options& o)
      : pool_(buffer_pool::create({o.capacity})), compute_(o.compute) {}
  engine* compute_engine() const noexcept override { return compute_; }

  awaitable<result<read_result>> read(std::string_view key, const read_options& opts) override {
    co_return read_now(key, opts);
  }

  awaitable<result<generation>> write(std::string_view key, std::span<const std::byte> bytes,
                                      const write_options& opts) override {
    co_return write_now(key, bytes, opts);
  }

  awaitable<result<void>> remove(std::string_view key, const remove_options& opts) override {
    SLUICE_CO_TRY_VOID(validate_key(key));
    std::lock_guard lk(mu_);
    auto it = values_.find(key);
    if (opts.if_equal) {
      if (it == values_.end() || it->second.gen != *opts.if_equal)
        co_return fail(errc::precondition_failed,
                       describe(key) + ": not removed: its generation is not the one given");
    }
    if (it != values_.end()) values_.erase(it);
    co_return result<void>{};
  }

  awaitable<result<remove_stats>> remove_prefix(std::string_view prefix) override {
    remove_stats st;
    std::lock_guard lk(mu_);
    for (auto it = values_.lower_bound(prefix); it != values_.end() && it->first.starts_with(prefix);) {
      if (covers(prefix, it->first)) {
        it = values_.erase(it);
        ++st.removed;
      } else {
        ++it;
      }
    }
    co_return st;
  }

  awaitable<result<void>> list(std::string_view prefix, const list_options& opts,
                               const list_callback& on_page) override {
    // One page at a time under the lock; the callback runs without it. The
    // next page resumes at `resume` (inclusive) or after it.
    std::string resume(prefix);
    bool inclusive = true;
    if (opts.start_after >= resume) {
      resume = opts.start_after;
      inclusive = false;
    }
    for (;;) {
      list_page page;
      bool full = false;
      {
        std::lock_guard lk(mu_);
        auto it = inclusive ? values_.lower_bound(resume) : values_.upper_bound(resume);
        while (it != values_.end() && it->first.starts_with(prefix)) {
          if (page.entries.size() + page.prefixes.size() >= page_entries) {
            full = true;
            break;
          }
          const std::string& k = it->first;
          auto d = opts.delimiter.empty() ? std::string::npos : k.find(opts.delimiter, prefix.size());
          if (d != std::string::npos) {
            std::string common = k.substr(0, d + opts.delimiter.size());
            resume = successor(common);  // past every key under it
            inclusive = true;
            page.prefixes.push_back(std::move(common));
            it = resume.empty() ? values_.end() : values_.lower_bound(resume);
            continue;
          }
          page.entries.push_back({k, it->second.size, it->second.gen, {}});
          resume = k;
          inclusive = false;
          ++it;
        }
      }
      if (page.entries.empty() && page.prefixes.empty()) co_return result<void>{};
      SLUICE_CO_TRY(bool more, on_page(page));
      if (!more || !full) co_return result<void>{};
    }
  }

  // The smallest string after every string that starts with `p`.
  static std::string successor(std::string p) {
    while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
    if (!p.empty()) p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
    return p;
  }

  awaitable<result<generation>> copy(std::string_view from, std::string_view to) override {
    SLUICE_CO_TRY_VOID(validate_key(from));
    SLUICE_CO_TRY_VOID(validate_key(to));
    std::lock_guard lk(mu_);
    auto it = values_.find(from);
    if (it == values_.end()) co_return fail(errc::not_found, describe(from) + ": no such key");
    value v = it->second;
    v.gen = next_generation();
    generation g = v.gen;
    values_.insert_or_assign(std::string(to), std::move(v));
    co_return g;
  }

  awaitable<result<std::optional<read_result>>> stat(std::string_view key) override {
    SLUICE_CO_TRY_VOID(validate_key(key));
    std::lock_guard lk(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) co_return std::optional<read_result>{};
    read_result r;
    r.state = read_state::value;
    fill(r, it->second);
    co_return std::optional<read_result>(std::move(r));
  }

  awaitable<result<generation>> move(std::string_view from, std::string_view to) override {
    SLUICE_CO_TRY_VOID(validate_key(from));
    SLUICE_CO_TRY_VOID(validate_key(to));
    std::lock_guard lk(mu_);
    auto it = values_.find(from);
    if (it == values_.end()) co_return fail(errc::not_found, describe(from) + ": no such key");
    value v = std::move(it->second);
    values_.erase(it);
    generation g = v.gen;
    values_.insert_or_assign(std::string(to), std::move(v));
    co_return g;
  }

  feature_set features() const override {
    feature_set f;
    f.conditional_create = f.conditional_replace = f.conditional_remove = true;
    f.atomic_move = true;
    f.server_side_copy = true;
    f.user_metadata = true;
    return f;
  }

  std::string describe(std::string_view key) const override { return "memory:" + std::string(key); }

 private:
  generation next_generation() { return {"m" + std::to_string(++counter_)}; }

  static void fill(read_result& r, const value& v) {
    r.gen = v.gen;
    r.size = v.size;
    r.content_type = v.content_type;
    r.metadata = v.metadata;
  }

  result<read_result> read_now(std::string_view key, const read_options& opts) {
    SLUICE_TRY_VOID(validate_key(key));
    std::lock_guard lk(mu_);
    read_result r;
    auto it = values_.find(key);
    if (it == values_.end()) {
      if (opts.if_equal)
        return fail(errc::precondition_failed, describe(key) + ": no value to match the generation given");
      return r;
    }
    const value& v = it->second;
    if (opts.if_equal && v.gen != *opts.if_equal)
      return fail(errc::precondition_failed, describe(key) + ": its generation is not the one given");
    fill(r, v);
    if (opts.if_not_equal && v.gen == *opts.if_not_equal) {
      r.state = read_state::unchanged;
      return r;
    }
    SLUICE_TRY(resolved_range rr, resolve(opts.range, v.size));
    r.state = read_state::value;
    if (rr.count > 0)
      r.bytes = v.bytes.share(static_cast<std::size_t>(rr.first), static_cast<std::size_t>(rr.count));
    r.verified = true;  // never left this process
    return r;
  }

  result<generation> write_now(std::string_view key, std::span<const std::byte> bytes,
                               const write_options& opts) {
    SLUICE_TRY_VOID(validate_key(key));
    value v;
    v.size = bytes.size();
    v.content_type = opts.content_type;
    v.metadata = opts.metadata;
    if (!bytes.empty()) {
      auto buf = pool_->try_acquire(bytes.size());
      if (!buf)
        return fail(errc::no_space, describe(key) + ": the memory store is full (" +
                                        std::to_string(pool_->reserved()) + " of " +
                                        std::to_string(pool_->budget()) + " bytes held)");
      std::memcpy(buf->data(), bytes.data(), bytes.size());
      v.bytes = buf->share(0, bytes.size());
    }
    std::lock_guard lk(mu_);
    auto it = values_.find(key);
    if (opts.must_not_exist && it != values_.end())
      return fail(errc::precondition_failed, describe(key) + ": not written: the key exists");
    if (opts.if_equal && (it == values_.end() || it->second.gen != *opts.if_equal))
      return fail(errc::precondition_failed,
                  describe(key) + ": not written: its generation is not the one given");
    v.gen = next_generation();
    generation g = v.gen;
    if (it == values_.end())
      values_.emplace(std::string(key), std::move(v));
    else
      it->second = std::move(v);
    return g;
  }

  std::shared_ptr<buffer_pool> pool_;
  engine* compute_ = nullptr;
  std::mutex mu_;  // guards values_ and counter_
  std::map<std::string, value, std::less<>> values_;
  uint64_t counter_ = 0;
};

}  // namespace

std::shared_ptr<store> make_memory_store(const memory_options& opts) {
  return std::make_shared<memory_store>(opts);
}

}  // namespace sluice::store
