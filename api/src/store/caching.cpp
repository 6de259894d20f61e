// The caching adapter (see caching.hpp): cached listings, remembered changes
// and cached values under one mutex. A change through the adapter updates all
// three once the inner store has answered; a read or listing that was in
// flight meanwhile is marked stale and does not fill a cache with what it got.
#include <sluice/store/caching.hpp>

#include <sluice/engine/buffer/buffer.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace sluice::store {

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using steady = std::chrono::steady_clock;

constexpr std::size_t page_items = 1000;     // entries + prefixes in a page the adapter builds
constexpr std::size_t value_overhead = 256;  // bytes counted per cached value beyond its data

// One item of a listing: a value or, in a delimiter listing, a common prefix.
struct listed {
  bool is_prefix = false;
  uint64_t size = 0;
  generation gen;
  std::string last_modified;
};
using listed_items = std::map<std::string, listed, std::less<>>;

// The item `key` makes in a listing of `prefix`: itself, or the common prefix it rolls into.
struct level_item {
  std::string key;
  bool is_prefix = false;
};
level_item level_of(std::string_view key, std::string_view prefix, std::string_view delimiter) {
  if (!delimiter.empty()) {
    const auto d = key.find(delimiter, prefix.size());
    if (d != std::string_view::npos) return {std::string(key.substr(0, d + delimiter.size())), true};
  }
  return {std::string(key), false};
}

// Whether remove_prefix(removed) may have removed a key a listing of `prefix` shows.
bool overlaps(std::string_view prefix, std::string_view removed) {
  return prefix.starts_with(removed) || removed.starts_with(prefix);
}

// Whether remove_prefix(removed) removed every key under the common prefix `common`.
bool removes_all_under(std::string_view removed, std::string_view common) {
  if (removed.empty()) return true;
  if (removed.back() == '/') return common.starts_with(removed);
  return common.size() > removed.size() && common.starts_with(removed) && common[removed.size()] == '/';
}

// Whether a failed change may still have changed something (a timeout may
// have written; a refused condition did not).
bool may_have_changed(const error& e) {
  return !(e.code == condition::precondition_failed || e.code == condition::invalid_argument ||
           e.code == condition::unsupported || e.code == condition::not_found);
}

// A remembered change as it shows in a listing of one prefix.
struct overlay_item {
  enum kind_t { put_entry, put_prefix, hide };
  std::string key;
  kind_t kind = put_entry;
  uint64_t size = 0;
  generation gen;
};

// Merges remembered changes into a listing that streams page by page from the
// inner store and passes it on in pages of at most page_items; keeps a copy of
// what it passed on when the listing is to be cached (up to `keep_limit` items).
class listing_merger {
 public:
  listing_merger(const list_callback& out, std::vector<overlay_item> overlay,
                 std::vector<std::string> removed, listed_items* keep, std::size_t keep_limit)
      : out_(out),
        overlay_(std::move(overlay)),
        removed_(std::move(removed)),
        keep_(keep),
        keep_limit_(keep_limit) {}

  // One page of the inner listing; false once the callback stopped.
  result<bool> feed(list_page& in) {
    if (overlay_.empty() && removed_.empty() && !keep_) return pass(in);
    std::vector<item> out;
    out.reserve(in.entries.size() + in.prefixes.size());
    std::size_t e = 0, p = 0;
    while (e < in.entries.size() || p < in.prefixes.size()) {
      item it;
      if (p == in.prefixes.size() || (e < in.entries.size() && in.entries[e].key < in.prefixes[p])) {
        entry& x = in.entries[e++];
        it.key = std::move(x.key);
        it.v = {false, x.size, std::move(x.gen), std::move(x.last_modified)};
      } else {
        it.key = std::move(in.prefixes[p++]);
        it.v.is_prefix = true;
      }
      overlay_before(it.key, out);
      if (next_ < overlay_.size() && overlay_[next_].key == it.key) {
        const overlay_item& o = overlay_[next_++];
        if (o.kind == overlay_item::hide) continue;
        if (o.kind == overlay_item::put_entry && (it.v.is_prefix || it.v.gen != o.gen))
          it.v = {false, o.size, o.gen, {}};
        out.push_back(std::move(it));
        continue;
      }
      if (removed_by_prefix(it)) continue;
      out.push_back(std::move(it));
    }
    return emit(out);
  }

  // After the inner listing ended: the remembered keys after its last one.
  result<bool> finish() {
    std::vector<item> out;
    overlay_before({}, out);
    return emit(out);
  }

  bool stopped() const noexcept { return stopped_; }
  // Whether everything passed on was kept (not over the limit).
  bool kept_all() const noexcept { return keep_ != nullptr; }

 private:
  struct item {
    std::string key;
    listed v;
  };

  result<bool> pass(list_page& in) {
    SLUICE_TRY(bool more, out_(in));
    stopped_ = !more;
    return more;
  }

  // Moves the remembered writes before `key` (all of them when it is empty) to `out`.
  void overlay_before(std::string_view key, std::vector<item>& out) {
    for (; next_ < overlay_.size() && (key.empty() || overlay_[next_].key < key); ++next_) {
      overlay_item& o = overlay_[next_];
      if (o.kind == overlay_item::put_entry)
        out.push_back({std::move(o.key), {false, o.size, std::move(o.gen), {}}});
      else if (o.kind == overlay_item::put_prefix)
        out.push_back({std::move(o.key), {true, 0, {}, {}}});
    }
  }

  bool removed_by_prefix(const item& it) const {
    for (const std::string& r : removed_)
      if (it.v.is_prefix ? removes_all_under(r, it.key) : covers(r, it.key)) return true;
    return false;
  }

  result<bool> emit(std::vector<item>& items) {
    for (std::size_t i = 0; i < items.size();) {
      list_page page;
      for (const std::size_t end = std::min(items.size(), i + page_items); i < end; ++i) {
        item& it = items[i];
        if (keep_) {
          keep_->insert_or_assign(it.key, it.v);
          if (keep_->size() > keep_limit_) {
            keep_->clear();
            keep_ = nullptr;
          }
        }
        if (it.v.is_prefix)
          page.prefixes.push_back(std::move(it.key));
        else
          page.entries.push_back(
              {std::move(it.key), it.v.size, std::move(it.v.gen), std::move(it.v.last_modified)});
      }
      SLUICE_TRY(bool more, out_(page));
      if (!more) {
        stopped_ = true;
        return false;
      }
    }
    return true;
  }

  const list_callback& out_;
  std::vector<overlay_item> overlay_;  // sorted by key, one item per key
  std::size_t next_ = 0;               // the first not yet merged
  std::vector<std::string> removed_;   // prefixes removed through the adapter
  listed_items* keep_;                 // null: not keeping
  std::size_t keep_limit_;
  bool stopped_ = false;
};

class caching_store final : public store {
 public:
  caching_store(std::shared_ptr<store> inner, const caching_options& o) : inner_(std::move(inner)), opts_(o) {
    lagging_ = !inner_->features().listing_is_consistent;
    remember_ = opts_.remember_for.count() > 0 && opts_.max_remembered > 0 &&
                (opts_.remember == remember_writes::always ||
                 (opts_.remember == remember_writes::when_listings_lag && lagging_));
    if (opts_.value_cache_bytes > 0) pool_ = buffer_pool::create({opts_.value_cache_bytes});
  }

  awaitable<result<read_result>> read(std::string_view key, const read_options& opts) override {
    if (!pool_) co_return co_await inner_->read(key, opts);
    std::optional<read_result> cached;
    bool fresh = false;
    {
      std::lock_guard lk(mu_);
      auto it = values_.find(key);
      if (it != values_.end()) {
        cached_value& v = it->second;
        lru_.splice(lru_.begin(), lru_, v.lru);
        cached = v.meta;
        cached->bytes = v.bytes;
        fresh = !opts.if_equal && !opts.if_not_equal && steady::now() < v.expires;
      }
    }
    if (fresh) co_return answer_from(key, *cached, opts);
    if (cached) {
      const read_result& c = *cached;
      co_return co_await revalidate(key, opts, c);
    }
    if (!opts.range.whole()) co_return co_await inner_->read(key, opts);
    fill_guard guard(*this, key, false);
    auto r = co_await inner_->read(key, opts);
    if (r && r->state == read_state::value) keep_value(key, *r, guard);
    co_return r;
  }

  // Without a value cache, straight to the driver (which merges ranges);
  // with one, range by range through read() and its cache.
  awaitable<result<ranges_result>> read_ranges(std::string_view key, std::span<const byte_range> ranges,
                                               const read_options& opts) override {
    if (!pool_) co_return co_await inner_->read_ranges(key, ranges, opts);
    co_return co_await store::read_ranges(key, ranges, opts);
  }

  awaitable<result<generation>> write(std::string_view key, std::span<const std::byte> value,
                                      const write_options& opts) override {
    auto g = co_await inner_->write(key, value, opts);
    if (g)
      changed(key, outcome::written, value.size(), *g);
    else
      failed(key, g.error());
    co_return g;
  }

  awaitable<result<void>> remove(std::string_view key, const remove_options& opts) override {
    auto r = co_await inner_->remove(key, opts);
    if (r)
      changed(key, outcome::removed);
    else
      failed(key, r.error());
    co_return r;
  }

  awaitable<result<remove_stats>> remove_prefix(std::string_view prefix) override {
    // Keys written through the adapter that a lagging listing may hide from
    // the inner store's own remove_prefix.
    std::vector<std::string> mine;
    if (remember_ && lagging_) {
      std::lock_guard lk(mu_);
      prune_remembered_locked(steady::now());
      for (auto it = remembered_.lower_bound(prefix);
           it != remembered_.end() && it->first.starts_with(prefix); ++it)
        if (!it->second.removed && covers(prefix, it->first)) mine.push_back(it->first);
    }
    auto st = co_await inner_->remove_prefix(prefix);
    if (!st) {
      prefix_removed(prefix, false);
      co_return st;
    }
    for (const std::string& k : mine) {
      auto there = co_await inner_->stat(k);
      if (!there) {
        st->failures.push_back({k, there.error()});
        continue;
      }
      if (!*there) continue;
      auto r = co_await inner_->remove(k, remove_always);
      if (r)
        ++st->removed;
      else
        st->failures.push_back({k, r.error()});
    }
    prefix_removed(prefix, true);
    co_return st;
  }

  awaitable<result<void>> list(std::string_view prefix, const list_options& opts,
                               const list_callback& on_page) override {
    const auto started = steady::now();
    std::shared_ptr<cached_listing> cached;
    std::vector<overlay_item> overlay;
    std::vector<std::string> removed;
    {
      std::lock_guard lk(mu_);
      if (listings_on()) cached = find_listing_locked(prefix, opts, started);
      if (!cached && remember_) snapshot_locked(prefix, opts, started, overlay, removed);
    }
    if (cached) co_return serve(*cached, opts, on_page);

    const bool fill = listings_on() && opts.start_after.empty();
    std::optional<fill_guard> guard;
    if (fill) guard.emplace(*this, prefix, true);
    listed_items kept;
    listing_merger merge(on_page, std::move(overlay), std::move(removed), fill ? &kept : nullptr,
                         opts_.max_listing_entries);
    list_callback relay = [&merge](list_page& page) -> result<bool> { return merge.feed(page); };
    SLUICE_CO_TRY_VOID(co_await inner_->list(prefix, opts, relay));
    if (merge.stopped()) co_return result<void>{};
    SLUICE_CO_TRY(bool finished, merge.finish());
    if (finished && fill && merge.kept_all()) keep_listing(prefix, opts.delimiter, started, kept, *guard);
    co_return result<void>{};
  }

  awaitable<result<generation>> copy(std::string_view from, std::string_view to) override {
    auto g = co_await inner_->copy(from, to);
    if (!g) {
      failed(to, g.error());
      co_return g;
    }
    co_await learn_written(to, *g);
    co_return g;
  }

  awaitable<result<generation>> copy_from(store& src, std::string_view src_key, std::string_view key,
                                          const write_options& opts) override {
    // From another adapter: straight from its inner store, which a direct copy may recognise.
    store* from = &src;
    if (auto* other = dynamic_cast<caching_store*>(&src)) from = other->inner_.get();
    auto g = co_await inner_->copy_from(*from, src_key, key, opts);
    if (!g) {
      failed(key, g.error());
      co_return g;
    }
    co_await learn_written(key, *g);
    co_return g;
  }

  awaitable<result<std::optional<read_result>>> stat(std::string_view key) override {
    if (pool_) {
      std::optional<read_result> hit;
      {
        std::lock_guard lk(mu_);
        auto it = values_.find(key);
        if (it != values_.end() && steady::now() < it->second.expires) hit = it->second.meta;
      }
      if (hit) co_return hit;
    }
    co_return co_await inner_->stat(key);
  }

  awaitable<result<generation>> move(std::string_view from, std::string_view to) override {
    auto g = co_await inner_->move(from, to);
    if (!g) {
      failed(from, g.error());
      failed(to, g.error());
      co_return g;
    }
    changed(from, outcome::removed);
    co_await learn_written(to, *g);
    co_return g;
  }

  awaitable<result<generation>> write_file(std::string_view key, std::string_view path,
                                           const write_options& opts) override {
    auto g = co_await inner_->write_file(key, path, opts);
    if (!g) {
      failed(key, g.error());
      co_return g;
    }
    co_await learn_written(key, *g);
    co_return g;
  }

  awaitable<result<generation>> write_stream(std::string_view key, const stream_source& source,
                                             const write_options& opts) override {
    auto g = co_await inner_->write_stream(key, source, opts);
    if (!g) {
      failed(key, g.error());
      co_return g;
    }
    co_await learn_written(key, *g);
    co_return g;
  }

  awaitable<result<read_result>> read_to_file(std::string_view key, std::string_view path) override {
    bool fresh = false;
    if (pool_) {
      std::lock_guard lk(mu_);
      auto it = values_.find(key);
      fresh = it != values_.end() && steady::now() < it->second.expires;
    }
    // A fresh cached value goes out through read() (store's default); else the inner store streams it.
    if (fresh) co_return co_await store::read_to_file(key, path);
    co_return co_await inner_->read_to_file(key, path);
  }

  feature_set features() const override { return inner_->features(); }
  awaitable<result<feature_set>> probe_features() override { co_return co_await inner_->probe_features(); }
  std::string describe(std::string_view key) const override { return inner_->describe(key); }
  engine* compute_engine() const noexcept override { return inner_->compute_engine(); }
  std::uint64_t read_ranges_gap() const noexcept override { return pool_ ? 0 : inner_->read_ranges_gap(); }
  std::optional<std::string> local_path(std::string_view key) const override {
    return inner_->local_path(key);
  }

 private:
  enum class outcome { written, removed, unknown };

  struct cached_listing {
    std::string prefix;
    std::string delimiter;
    steady::time_point expires;
    listed_items items;
  };
  using listing_list = std::list<std::shared_ptr<cached_listing>>;

  struct cached_value {
    read_result meta;    // without bytes
    buffer_slice bytes;  // the whole value, in pool_
    std::size_t charge = 0;
    steady::time_point expires;
    std::list<std::string>::iterator lru;
  };

  struct remembered {
    bool removed = false;
    uint64_t size = 0;
    generation gen;
    steady::time_point at;
    uint64_t seq = 0;  // its key in remembered_order_
  };
  using remembered_map = std::map<std::string, remembered, std::less<>>;

  struct removed_prefix {
    std::string prefix;
    steady::time_point at;
  };

  // A read or listing in flight that may fill a cache; a change it overlaps marks it stale.
  struct fill {
    std::string key;  // the value's key, or the listing's prefix
    bool listing = false;
    bool stale = false;
  };

  // Registers a fill for its lifetime.
  class fill_guard {
   public:
    fill_guard(caching_store& s, std::string_view key, bool listing) : s_(s) {
      std::lock_guard lk(s_.mu_);
      it_ = s_.fills_.insert(s_.fills_.end(), fill{std::string(key), listing, false});
    }
    ~fill_guard() {
      std::lock_guard lk(s_.mu_);
      s_.fills_.erase(it_);
    }
    fill_guard(const fill_guard&) = delete;
    fill_guard& operator=(const fill_guard&) = delete;
    bool stale_locked() const { return it_->stale; }

   private:
    caching_store& s_;
    std::list<fill>::iterator it_;
  };

  bool listings_on() const { return opts_.listing_ttl.count() > 0; }

  // --- values ---

  // A cached value, as a read with `opts` sees it.
  result<read_result> answer_from(std::string_view key, const read_result& c,
                                  const read_options& opts) const {
    read_result r = c;
    r.bytes = {};
    if (opts.if_not_equal && c.gen == *opts.if_not_equal) {
      r.state = read_state::unchanged;
      return r;
    }
    auto rr = resolve(opts.range, c.size);
    if (!rr) {
      error e = rr.error();
      e.message = describe(key) + ": " + e.message;
      return e;
    }
    r.state = read_state::value;
    if (rr->count > 0)
      r.bytes = c.bytes.share(static_cast<std::size_t>(rr->first), static_cast<std::size_t>(rr->count));
    return r;
  }

  // A read of a key with a cached value: asks the inner store whether it is
  // still current, which costs no bytes when it is.
  awaitable<result<read_result>> revalidate(std::string_view key, const read_options& opts,
                                            const read_result& cached) {
    read_options ask = opts;
    ask.if_not_equal = cached.gen;
    fill_guard guard(*this, key, false);
    auto r = co_await inner_->read(key, ask);
    if (r && r->state == read_state::unchanged) {
      {
        std::lock_guard lk(mu_);
        auto it = values_.find(key);
        if (!guard.stale_locked() && it != values_.end() && it->second.meta.gen == cached.gen)
          it->second.expires = steady::now() + opts_.listing_ttl;
      }
      co_return answer_from(key, cached, opts);
    }
    {
      std::lock_guard lk(mu_);
      drop_value_locked(key);
    }
    if (!r) co_return r;
    if (r->state == read_state::value) {
      if (opts.range.whole()) keep_value(key, *r, guard);
      if (opts.if_not_equal && r->gen == *opts.if_not_equal) {
        r->state = read_state::unchanged;
        r->bytes = {};
      }
    }
    co_return r;
  }

  // Copies a whole value just read into the cache, room and size permitting.
  void keep_value(std::string_view key, const read_result& r, const fill_guard& guard) {
    const std::size_t size = r.bytes.size();
    if (r.size != size || size > opts_.max_cached_value_bytes) return;
    read_result meta = r;
    meta.bytes = {};
    std::size_t extra = value_overhead + key.size() + meta.content_type.size() + meta.gen.tag.size();
    for (const auto& [name, value] : meta.metadata) extra += name.size() + value.size();
    const std::size_t pages = (size + page_size - 1) / page_size * page_size;
    if (pages + extra > opts_.value_cache_bytes) return;
    {
      std::lock_guard lk(mu_);
      if (guard.stale_locked()) return;
      make_room_locked(pages + extra);
    }
    buffer_slice copy;
    std::size_t charge = extra;
    if (size > 0) {
      auto buf = pool_->try_acquire(size);
      if (!buf) return;  // evicted values still held by readers
      std::memcpy(buf->data(), r.bytes.data(), size);
      charge += buf->capacity();
      copy = buf->share(0, size);
    }
    std::lock_guard lk(mu_);
    if (guard.stale_locked()) return;
    drop_value_locked(key);
    make_room_locked(charge);
    auto [it, inserted] = values_.try_emplace(std::string(key));
    cached_value& v = it->second;
    v.meta = std::move(meta);
    v.bytes = std::move(copy);
    v.charge = charge;
    v.expires = steady::now() + opts_.listing_ttl;
    v.lru = lru_.insert(lru_.begin(), it->first);
    value_bytes_ += charge;
  }

  // Evicts the least recently used values until `charge` more bytes fit.
  void make_room_locked(std::size_t charge) {
    while (!lru_.empty() && value_bytes_ + charge > opts_.value_cache_bytes) {
      const std::string victim = lru_.back();
      drop_value_locked(victim);
    }
  }

  void drop_value_locked(std::string_view key) {
    auto it = values_.find(key);
    if (it == values_.end()) return;
    value_bytes_ -= it->second.charge;
    lru_.erase(it->second.lru);
    values_.erase(it);
  }

  // --- listings ---

  std::shared_ptr<cached_listing> find_listing_locked(std::string_view prefix, const list_options& opts,
                                                      steady::time_point now) {
    drop_expired_listings_locked(now);
    auto f = listing_index_.find(std::pair{std::string(prefix), opts.delimiter});
    if (f == listing_index_.end()) return nullptr;
    cached_listing& l = **f->second;
    if (now >= l.expires) {
      drop_listing_locked(f->second);
      return nullptr;
    }
    if (!opts.start_after.empty()) {
      // start_after inside a common prefix: whether the prefix still comes
      // back depends on keys the cached listing does not hold.
      auto it = l.items.upper_bound(opts.start_after);
      if (it != l.items.begin()) {
        --it;
        if (it->second.is_prefix && opts.start_after.starts_with(it->first)) return nullptr;
      }
    }
    return *f->second;
  }

  // Streams a cached listing, a page at a time under the lock; the callback runs without it.
  result<void> serve(const cached_listing& l, const list_options& opts, const list_callback& on_page) {
    std::string resume = opts.start_after;
    bool from_start = resume.empty();
    for (;;) {
      list_page page;
      bool rest = false;
      {
        std::lock_guard lk(mu_);
        auto it = from_start ? l.items.begin() : l.items.upper_bound(resume);
        for (std::size_t n = 0; it != l.items.end() && n < page_items; ++it, ++n) {
          resume = it->first;
          if (it->second.is_prefix)
            page.prefixes.push_back(it->first);
          else
            page.entries.push_back({it->first, it->second.size, it->second.gen, it->second.last_modified});
        }
        rest = it != l.items.end();
      }
      if (page.entries.empty() && page.prefixes.empty()) return {};
      from_start = false;
      SLUICE_TRY(bool more, on_page(page));
      if (!more || !rest) return {};
    }
  }

  void keep_listing(std::string_view prefix, const std::string& delimiter, steady::time_point started,
                    listed_items& items, const fill_guard& guard) {
    std::lock_guard lk(mu_);
    if (guard.stale_locked() || items.size() + 1 > opts_.max_listing_entries) return;
    drop_expired_listings_locked(steady::now());
    auto f = listing_index_.find(std::pair{std::string(prefix), delimiter});
    if (f != listing_index_.end()) drop_listing_locked(f->second);
    auto l = std::make_shared<cached_listing>();
    l->prefix = std::string(prefix);
    l->delimiter = delimiter;
    l->expires = started + opts_.listing_ttl;
    l->items = std::move(items);
    listing_entries_ += l->items.size() + 1;
    listings_.push_back(l);
    listing_index_.emplace(std::pair{l->prefix, l->delimiter}, std::prev(listings_.end()));
    trim_listings_locked();
  }

  listing_list::iterator drop_listing_locked(listing_list::iterator it) {
    listing_entries_ -= (*it)->items.size() + 1;
    listing_index_.erase(std::pair{(*it)->prefix, (*it)->delimiter});
    return listings_.erase(it);
  }

  // Oldest first: the front expires first, and goes first when over the limit.
  void trim_listings_locked() {
    while (!listings_.empty() && listing_entries_ > opts_.max_listing_entries)
      drop_listing_locked(listings_.begin());
  }
  void drop_expired_listings_locked(steady::time_point now) {
    while (!listings_.empty() && now >= listings_.front()->expires) drop_listing_locked(listings_.begin());
  }

  // --- remembered changes ---

  void snapshot_locked(std::string_view prefix, const list_options& opts, steady::time_point now,
                       std::vector<overlay_item>& overlay, std::vector<std::string>& removed) {
    prune_remembered_locked(now);
    for (auto it = remembered_.lower_bound(prefix); it != remembered_.end() && it->first.starts_with(prefix);
         ++it) {
      const remembered& m = it->second;
      if (it->first <= opts.start_after) continue;
      level_item li = level_of(it->first, prefix, opts.delimiter);
      if (!li.is_prefix)
        overlay.push_back(
            {std::move(li.key), m.removed ? overlay_item::hide : overlay_item::put_entry, m.size, m.gen});
      else if (!m.removed && (overlay.empty() || overlay.back().key != li.key))
        overlay.push_back({std::move(li.key), overlay_item::put_prefix, 0, {}});
    }
    for (const removed_prefix& r : removed_prefixes_)
      if (overlaps(prefix, r.prefix)) removed.push_back(r.prefix);
  }

  void remember_locked(std::string_view key, bool removed, uint64_t size, const generation& gen,
                       steady::time_point now) {
    auto it = remembered_.find(key);
    if (it == remembered_.end())
      it = remembered_.emplace(std::string(key), remembered{}).first;
    else
      remembered_order_.erase(it->second.seq);
    it->second = {removed, size, gen, now, ++seq_};
    remembered_order_.emplace(seq_, it);
    prune_remembered_locked(now);
  }

  void forget_locked(remembered_map::iterator it) {
    remembered_order_.erase(it->second.seq);
    remembered_.erase(it);
  }

  void prune_remembered_locked(steady::time_point now) {
    while (!remembered_order_.empty()) {
      auto oldest = remembered_order_.begin()->second;
      if (remembered_.size() <= opts_.max_remembered && now - oldest->second.at < opts_.remember_for) break;
      forget_locked(oldest);
    }
    while (!removed_prefixes_.empty() && (removed_prefixes_.size() > opts_.max_remembered ||
                                          now - removed_prefixes_.front().at >= opts_.remember_for))
      removed_prefixes_.pop_front();
  }

  // --- changes through the adapter ---

  // Applies what a change did to `key` to every cache.
  void changed(std::string_view key, outcome what, uint64_t size = 0, const generation& gen = no_generation) {
    const auto now = steady::now();
    std::lock_guard lk(mu_);
    drop_value_locked(key);
    for (fill& f : fills_)
      if (f.listing ? key.starts_with(f.key) : key == f.key) f.stale = true;
    for (auto it = listings_.begin(); it != listings_.end();) {
      cached_listing& l = **it;
      if (!key.starts_with(l.prefix)) {
        ++it;
        continue;
      }
      bool drop = what == outcome::unknown;
      if (!drop) {
        level_item li = level_of(key, l.prefix, l.delimiter);
        const std::size_t before = l.items.size();
        if (what == outcome::written && li.is_prefix)
          l.items.try_emplace(std::move(li.key), listed{true, 0, {}, {}});
        else if (what == outcome::written)
          l.items.insert_or_assign(std::move(li.key), listed{false, size, gen, {}});
        else if (li.is_prefix)
          drop = true;  // the common prefix may or may not still hold keys
        else
          l.items.erase(li.key);
        listing_entries_ = listing_entries_ + l.items.size() - before;
      }
      if (drop)
        it = drop_listing_locked(it);
      else
        ++it;
    }
    trim_listings_locked();
    if (!remember_) return;
    if (what == outcome::unknown) {
      if (auto it = remembered_.find(key); it != remembered_.end()) forget_locked(it);
    } else {
      remember_locked(key, what == outcome::removed, size, gen, now);
    }
  }

  void failed(std::string_view key, const error& e) {
    if (may_have_changed(e)) changed(key, outcome::unknown);
  }

  // After a remove_prefix (`done`: it succeeded, else its outcome is unknown).
  void prefix_removed(std::string_view prefix, bool done) {
    const auto now = steady::now();
    std::lock_guard lk(mu_);
    for (auto it = values_.lower_bound(prefix); it != values_.end() && it->first.starts_with(prefix);) {
      auto next = std::next(it);
      if (covers(prefix, it->first)) drop_value_locked(it->first);
      it = next;
    }
    for (fill& f : fills_)
      if (f.listing ? overlaps(f.key, prefix) : covers(prefix, f.key)) f.stale = true;
    for (auto it = listings_.begin(); it != listings_.end();)
      it = overlaps((*it)->prefix, prefix) ? drop_listing_locked(it) : std::next(it);
    if (!remember_) return;
    for (auto it = remembered_.lower_bound(prefix);
         it != remembered_.end() && it->first.starts_with(prefix);) {
      auto next = std::next(it);
      if (covers(prefix, it->first)) forget_locked(it);
      it = next;
    }
    if (done) {
      removed_prefixes_.push_back({std::string(prefix), now});
      prune_remembered_locked(now);
    }
  }

  // After a copy, move or file write: the size comes from a stat.
  awaitable<void> learn_written(std::string_view key, const generation& gen) {
    auto st = co_await inner_->stat(key);
    if (st && *st && (*st)->gen == gen)
      changed(key, outcome::written, (*st)->size, gen);
    else
      changed(key, outcome::unknown);
  }

  static inline const generation no_generation{};

  const std::shared_ptr<store> inner_;
  const caching_options opts_;
  bool lagging_ = false;               // the inner store's listings may lag (set once)
  bool remember_ = false;              // changes are remembered for listings (set once)
  std::shared_ptr<buffer_pool> pool_;  // cached values' bytes; null: no value cache

  std::mutex mu_;  // guards everything below
  std::list<fill> fills_;
  // Cached listings, oldest first, and by (prefix, delimiter).
  listing_list listings_;
  std::map<std::pair<std::string, std::string>, listing_list::iterator> listing_index_;
  std::size_t listing_entries_ = 0;  // items + 1 per listing
  // Remembered changes: by key, and oldest first.
  remembered_map remembered_;
  std::map<uint64_t, remembered_map::iterator> remembered_order_;
  uint64_t seq_ = 0;
  std::deque<removed_prefix> removed_prefixes_;  // oldest first
  // Cached values, and their keys most recently used first.
  std::map<std::string, cached_value, std::less<>> values_;
  std::list<std::string> lru_;
  std::size_t value_bytes_ = 0;
};

}  // namespace

std::shared_ptr<store> make_caching_store(std::shared_ptr<store> inner, const caching_options& opts) {
  return std::make_shared<caching_store>(std::move(inner), opts);
}

}  // namespace sluice::store
