// The caching adapter: the conformance suite over a memory store and a local
// directory, and what the caches do over an inner store whose listings lag.
#include "conformance.hpp"

#include <sluice/store/caching.hpp>
#include <sluice/store/file.hpp>
#include <sluice/store/memory.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace {

using namespace sluice;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace kv = sluice::store;  // inside a store subclass, `store` names the class

// --- the conformance suite ---

class CachingOverMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    store::caching_options o;
    o.value_cache_bytes = 64 << 20;
    o.remember = store::remember_writes::always;  // the merge of remembered writes runs on every listing
    f_.s = store::make_caching_store(store::make_memory_store(), o);
    f_.eng = &eng_;
  }
  store_tests::store_fixture& fixture() { return f_; }

  engine eng_{engine::options{1}};
  store_tests::store_fixture f_;
};

SLUICE_STORE_CONFORMANCE_TESTS(CachingOverMemory)

class CachingOverMemoryWithDefaults : public ::testing::Test {
 protected:
  void SetUp() override {
    f_.s = store::make_caching_store(store::make_memory_store());
    f_.eng = &eng_;
  }
  store_tests::store_fixture& fixture() { return f_; }

  engine eng_{engine::options{1}};
  store_tests::store_fixture f_;
};

SLUICE_STORE_CONFORMANCE_TESTS(CachingOverMemoryWithDefaults)

class CachingOverFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-caching-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::open_file_store((dir_ / "root").string());
    ASSERT_TRUE(s) << s.error().describe();
    store::caching_options o;
    o.value_cache_bytes = 64 << 20;
    f_.s = store::make_caching_store(*s, o);
    f_.eng = &eng_;
    f_.keeps_empty_segments = false;
    f_.value_may_share_a_prefix_name = false;
  }
  void TearDown() override { fs::remove_all(dir_); }
  store_tests::store_fixture& fixture() { return f_; }

  engine eng_{engine::options{1}};
  store_tests::store_fixture f_;
  fs::path dir_;
};

SLUICE_STORE_CONFORMANCE_TESTS(CachingOverFiles)

// --- an inner store whose listings lag ---

// A memory store whose listings lag on demand: after freeze(), list() answers
// from what the store held then (and remove_prefix removes only what that
// listing shows, as a driver that lists and then deletes does), until thaw().
// It counts list() and read() calls, and can run a change of the test's right
// after a read or a listing got its answer, before it returns. A real server
// cannot be made to lag on demand.
class lagging_store final : public kv::store {
 public:
  explicit lagging_store(std::size_t page_size = 1000) : page_size_(page_size) {}

  void freeze(engine& eng) {
    std::vector<kv::entry> all;
    kv::list_callback cb = [&](kv::list_page& p) -> result<bool> {
      for (auto& e : p.entries) all.push_back(e);
      return true;
    };
    auto r = eng.run(inner_->list("", kv::list_all, cb));
    EXPECT_TRUE(r) << r.error().describe();
    std::lock_guard lk(mu_);
    snapshot_ = std::move(all);
    frozen_ = true;
  }
  void thaw() {
    std::lock_guard lk(mu_);
    frozen_ = false;
  }

  std::atomic<unsigned> lists{0};
  std::atomic<unsigned> reads{0};
  std::function<asio::awaitable<void>()> after_read;  // run once
  std::function<asio::awaitable<void>()> after_list;  // run once

  asio::awaitable<result<kv::read_result>> read(std::string_view key, const kv::read_options& opts) override {
    ++reads;
    auto r = co_await inner_->read(key, opts);
    if (after_read) {
      auto hook = std::move(after_read);
      after_read = nullptr;
      co_await hook();
    }
    co_return r;
  }

  asio::awaitable<result<void>> list(std::string_view prefix, const kv::list_options& opts,
                                     const kv::list_callback& on_page) override {
    ++lists;
    result<void> r;
    if (frozen())
      r = list_snapshot(prefix, opts, on_page);
    else
      r = co_await inner_->list(prefix, opts, on_page);
    if (after_list) {
      auto hook = std::move(after_list);
      after_list = nullptr;
      co_await hook();
    }
    co_return r;
  }

  asio::awaitable<result<kv::remove_stats>> remove_prefix(std::string_view prefix) override {
    if (!frozen()) co_return co_await inner_->remove_prefix(prefix);
    std::vector<std::string> keys;
    {
      std::lock_guard lk(mu_);
      for (const auto& e : snapshot_)
        if (kv::covers(prefix, e.key)) keys.push_back(e.key);
    }
    kv::remove_stats st;
    for (const std::string& k : keys) {
      auto there = co_await inner_->stat(k);
      if (!there || !*there) continue;
      auto r = co_await inner_->remove(k, kv::remove_always);
      if (r) ++st.removed;
    }
    co_return st;
  }

  asio::awaitable<result<kv::generation>> write(std::string_view key, std::span<const std::byte> v,
                                                const kv::write_options& o) override {
    co_return co_await inner_->write(key, v, o);
  }
  asio::awaitable<result<void>> remove(std::string_view key, const kv::remove_options& o) override {
    co_return co_await inner_->remove(key, o);
  }
  asio::awaitable<result<kv::generation>> copy(std::string_view from, std::string_view to) override {
    co_return co_await inner_->copy(from, to);
  }
  asio::awaitable<result<kv::generation>> move(std::string_view from, std::string_view to) override {
    co_return co_await inner_->move(from, to);
  }
  asio::awaitable<result<std::optional<kv::read_result>>> stat(std::string_view key) override {
    co_return co_await inner_->stat(key);
  }
  kv::feature_set features() const override {
    auto f = inner_->features();
    f.listing_is_consistent = false;
    return f;
  }
  std::string describe(std::string_view key) const override { return "lagging:" + std::string(key); }

 private:
  bool frozen() {
    std::lock_guard lk(mu_);
    return frozen_;
  }

  result<void> list_snapshot(std::string_view prefix, const kv::list_options& opts,
                             const kv::list_callback& on_page) {
    std::vector<kv::entry> snap;
    {
      std::lock_guard lk(mu_);
      snap = snapshot_;
    }
    kv::list_page page;
    for (const auto& e : snap) {
      if (!e.key.starts_with(prefix) || e.key <= opts.start_after) continue;
      const auto d = opts.delimiter.empty() ? std::string::npos : e.key.find(opts.delimiter, prefix.size());
      if (d == std::string::npos) {
        page.entries.push_back(e);
      } else {
        std::string common = e.key.substr(0, d + opts.delimiter.size());
        if (page.prefixes.empty() || page.prefixes.back() != common)
          page.prefixes.push_back(std::move(common));
      }
      if (page.entries.size() + page.prefixes.size() >= page_size_) {
        SLUICE_TRY(bool more, on_page(page));
        if (!more) return {};
        page = {};
      }
    }
    if (!page.entries.empty() || !page.prefixes.empty()) SLUICE_TRY_VOID(on_page(page));
    return {};
  }

  std::shared_ptr<kv::store> inner_ = kv::make_memory_store();
  std::size_t page_size_;
  std::mutex mu_;  // guards snapshot_ and frozen_
  std::vector<kv::entry> snapshot_;
  bool frozen_ = false;
};

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

std::string text(const buffer_slice& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

class CachingStore : public ::testing::Test {
 protected:
  std::shared_ptr<store::store> adapter(const store::caching_options& o = store::caching_defaults) {
    return store::make_caching_store(lag_, o);
  }

  store::generation put(store::store& s, const std::string& key, std::string_view value) {
    auto v = bytes(value);
    auto g = eng_.run(s.write(key, v, store::write_always));
    EXPECT_TRUE(g) << g.error().describe();
    return g ? *g : store::generation{};
  }

  std::string get(store::store& s, const std::string& key, const store::read_options& o = store::read_all) {
    auto r = eng_.run(s.read(key, o));
    EXPECT_TRUE(r) << r.error().describe();
    if (!r) return "<error>";
    if (r->state == store::read_state::missing) return "<missing>";
    if (r->state == store::read_state::unchanged) return "<unchanged>";
    return text(r->bytes);
  }

  struct listing {
    std::vector<store::entry> entries;
    std::vector<std::string> prefixes;
    unsigned pages = 0;
    std::vector<std::string> keys() const {
      std::vector<std::string> k;
      for (const auto& e : entries) k.push_back(e.key);
      return k;
    }
  };
  listing list(store::store& s, const std::string& prefix, const store::list_options& o = store::list_all) {
    listing out;
    store::list_callback cb = [&](store::list_page& p) -> result<bool> {
      ++out.pages;
      for (auto& e : p.entries) out.entries.push_back(e);
      for (auto& x : p.prefixes) out.prefixes.push_back(x);
      return true;
    };
    auto r = eng_.run(s.list(prefix, o, cb));
    EXPECT_TRUE(r) << r.error().describe();
    return out;
  }

  static store::caching_options no_listing_cache() {
    store::caching_options o;
    o.listing_ttl = 0ms;
    return o;
  }
  static store::caching_options with_values(std::size_t bytes) {
    store::caching_options o;
    o.value_cache_bytes = bytes;
    return o;
  }

  engine eng_{engine::options{1}};
  std::shared_ptr<lagging_store> lag_ = std::make_shared<lagging_store>();
};

using strings = std::vector<std::string>;

// A short TTL: long enough that two calls in a row fall inside it on a loaded machine.
constexpr auto ttl_short = 200ms;

TEST_F(CachingStore, a_key_written_through_the_adapter_is_listed_while_the_inner_listing_lags) {
  put(*lag_, "d/old", "x");
  lag_->freeze(eng_);
  auto s = adapter(no_listing_cache());
  const store::generation g = put(*s, "d/new", "12345");
  const store::generation again = put(*s, "d/old", "overwritten");
  put(*s, "d/sub/deep", "y");
  const listing inner = list(*lag_, "d/");
  ASSERT_EQ(inner.keys(), strings{"d/old"}) << "the inner listing lags";
  ASSERT_EQ(inner.entries[0].size, 1u);

  const listing l = list(*s, "d/");
  ASSERT_EQ(l.keys(), (strings{"d/new", "d/old", "d/sub/deep"}));
  EXPECT_EQ(l.entries[0].size, 5u) << "the size the write wrote";
  EXPECT_EQ(l.entries[0].gen, g) << "the generation the write returned";
  EXPECT_EQ(l.entries[1].size, 11u) << "an overwrite shows over the lagging entry";
  EXPECT_EQ(l.entries[1].gen, again);
  store::list_options one;
  one.delimiter = "/";
  const listing level = list(*s, "d/", one);
  EXPECT_EQ(level.keys(), (strings{"d/new", "d/old"}));
  EXPECT_EQ(level.prefixes, strings{"d/sub/"});
  store::list_options after;
  after.start_after = "d/new";
  EXPECT_EQ(list(*s, "d/", after).keys(), (strings{"d/old", "d/sub/deep"}))
      << "start_after holds for them too";
}

TEST_F(CachingStore, a_key_removed_through_the_adapter_is_not_listed_while_the_inner_listing_lags) {
  put(*lag_, "a", "1");
  put(*lag_, "b", "2");
  lag_->freeze(eng_);
  auto s = adapter(no_listing_cache());
  ASSERT_TRUE(eng_.run(s->remove("a")));
  ASSERT_EQ(list(*lag_, "").keys(), (strings{"a", "b"})) << "the inner listing lags";
  EXPECT_EQ(list(*s, "").keys(), strings{"b"});
  // Overwritten again: listed again.
  put(*s, "a", "back");
  EXPECT_EQ(list(*s, "").keys(), (strings{"a", "b"}));
}

TEST_F(CachingStore, remove_prefix_also_removes_written_keys_the_lagging_listing_misses) {
  put(*lag_, "p/1", "x");
  put(*lag_, "p/2", "x");
  put(*lag_, "q", "x");
  lag_->freeze(eng_);
  auto s = adapter(no_listing_cache());
  put(*s, "p/3", "written after the inner listing froze");
  auto st = eng_.run(s->remove_prefix("p"));
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(st->removed, 3u);
  EXPECT_TRUE(st->failures.empty());
  EXPECT_EQ(get(*lag_, "p/3"), "<missing>") << "removed although the inner listing did not show it";
  ASSERT_EQ(list(*lag_, "").keys(), (strings{"p/1", "p/2", "q"})) << "the inner listing lags";
  EXPECT_EQ(list(*s, "").keys(), strings{"q"});
  put(*s, "p/4", "a later write");
  EXPECT_EQ(list(*s, "").keys(), (strings{"p/4", "q"}));
}

TEST_F(CachingStore, copies_and_moves_are_listed_with_their_size_while_the_inner_listing_lags) {
  put(*lag_, "src", std::string(3000, 's'));
  put(*lag_, "other", "o");
  lag_->freeze(eng_);
  auto s = adapter(no_listing_cache());
  auto c = eng_.run(s->copy("src", "copied"));
  ASSERT_TRUE(c) << c.error().describe();
  auto m = eng_.run(s->move("other", "moved"));
  ASSERT_TRUE(m) << m.error().describe();
  const listing l = list(*s, "");
  ASSERT_EQ(l.keys(), (strings{"copied", "moved", "src"}));
  EXPECT_EQ(l.entries[0].size, 3000u);
  EXPECT_EQ(l.entries[0].gen, *c);
  EXPECT_EQ(l.entries[1].size, 1u);
  EXPECT_EQ(l.entries[1].gen, *m);
}

TEST_F(CachingStore, remembered_changes_are_bounded_in_number_and_time) {
  lag_->freeze(eng_);
  store::caching_options o = no_listing_cache();
  o.max_remembered = 2;
  auto s = adapter(o);
  for (const char* k : {"a", "b", "c"}) put(*s, k, "x");
  EXPECT_EQ(list(*s, "").keys(), (strings{"b", "c"})) << "the oldest is forgotten first";

  o.max_remembered = 100;
  o.remember_for = ttl_short;
  auto brief = adapter(o);
  put(*brief, "d", "x");
  EXPECT_EQ(list(*brief, "").keys(), strings{"d"});
  std::this_thread::sleep_for(ttl_short + 50ms);
  EXPECT_TRUE(list(*brief, "").keys().empty()) << "after remember_for the lagging listing is trusted again";
}

TEST_F(CachingStore, writes_are_not_remembered_over_a_store_whose_listings_do_not_lag_unless_asked) {
  auto consistent = store::make_memory_store();
  auto s = store::make_caching_store(consistent, no_listing_cache());
  put(*s, "k", "x");
  ASSERT_TRUE(eng_.run(consistent->remove("k")));  // another process
  EXPECT_TRUE(list(*s, "").keys().empty()) << "the inner listing is trusted";
  store::caching_options o = no_listing_cache();
  o.remember = store::remember_writes::always;
  auto remembering = store::make_caching_store(consistent, o);
  put(*remembering, "k", "x");
  ASSERT_TRUE(eng_.run(consistent->remove("k")));
  EXPECT_EQ(list(*remembering, "").keys(), strings{"k"}) << "its own record wins while it is remembered";
}

TEST_F(CachingStore, a_second_listing_within_the_ttl_makes_no_inner_call_and_still_comes_in_pages) {
  auto s = adapter();
  char key[32];
  for (unsigned i = 0; i < 2500; ++i) {
    std::snprintf(key, sizeof key, "d/k%05u", i);
    put(*lag_, key, "v");
  }
  const listing first = list(*s, "d/");
  ASSERT_EQ(first.entries.size(), 2500u);
  ASSERT_EQ(lag_->lists.load(), 1u);
  const listing second = list(*s, "d/");
  EXPECT_EQ(lag_->lists.load(), 1u) << "answered from the cache";
  EXPECT_EQ(second.keys(), first.keys());
  EXPECT_EQ(second.entries[7].gen, first.entries[7].gen);
  EXPECT_GE(second.pages, 3u) << "2,500 keys from the cache still come in pages";
  store::list_options after;
  after.start_after = first.entries[1000].key;
  const listing rest = list(*s, "d/", after);
  EXPECT_EQ(lag_->lists.load(), 1u) << "start_after is answered from the cache too";
  ASSERT_EQ(rest.entries.size(), 1499u);
  EXPECT_EQ(rest.entries.front().key, first.entries[1001].key);
  // Another delimiter, another prefix: not the same listing.
  store::list_options one;
  one.delimiter = "/";
  list(*s, "d/", one);
  list(*s, "d/k0", store::list_all);
  EXPECT_EQ(lag_->lists.load(), 3u);
}

TEST_F(CachingStore, a_cached_delimiter_listing_answers_start_after_like_the_inner_store) {
  for (const char* k : {"a", "b/1", "b/2", "c/x", "d"}) put(*lag_, k, "v");
  auto s = adapter();
  store::list_options one;
  one.delimiter = "/";
  const listing full = list(*s, "", one);
  ASSERT_EQ(full.keys(), (strings{"a", "d"}));
  ASSERT_EQ(full.prefixes, (strings{"b/", "c/"}));
  for (std::string after : {"a", "b/", "b/1", "b/2", "c/", "c0"}) {
    SCOPED_TRACE(after);
    store::list_options o = one;
    o.start_after = after;
    const listing cached = list(*s, "", o);
    const listing inner = list(*lag_, "", o);
    EXPECT_EQ(cached.keys(), inner.keys());
    EXPECT_EQ(cached.prefixes, inner.prefixes);
  }
}

TEST_F(CachingStore, the_adapter_lists_again_after_the_ttl) {
  store::caching_options o;
  o.listing_ttl = ttl_short;
  auto s = adapter(o);
  put(*lag_, "k", "v");
  list(*s, "");
  list(*s, "");
  ASSERT_EQ(lag_->lists.load(), 1u);
  put(*lag_, "other-process", "v");
  std::this_thread::sleep_for(ttl_short + 50ms);
  EXPECT_EQ(list(*s, "").keys(), (strings{"k", "other-process"}));
  EXPECT_EQ(lag_->lists.load(), 2u);
}

TEST_F(CachingStore, a_change_under_a_cached_prefix_updates_the_cached_listing) {
  store::caching_options o;
  o.remember = store::remember_writes::never;  // the cached listing alone must show them
  auto s = adapter(o);
  put(*lag_, "d/a", "1");
  put(*lag_, "d/b", "2");
  put(*lag_, "e/x/1", "3");
  store::list_options one;
  one.delimiter = "/";
  ASSERT_EQ(list(*s, "d/").keys(), (strings{"d/a", "d/b"}));
  ASSERT_EQ(list(*s, "", one).prefixes, (strings{"d/", "e/"}));
  ASSERT_EQ(lag_->lists.load(), 2u);
  lag_->freeze(eng_);

  const store::generation ga = put(*s, "d/a", "ten bytes!");
  const store::generation gc = put(*s, "d/c", "abc");
  put(*s, "f/new", "x");
  const listing d = list(*s, "d/");
  const listing top = list(*s, "", one);
  EXPECT_EQ(lag_->lists.load(), 2u) << "both answered from the cache";
  ASSERT_EQ(d.keys(), (strings{"d/a", "d/b", "d/c"}));
  EXPECT_EQ(d.entries[0].size, 10u);
  EXPECT_EQ(d.entries[0].gen, ga);
  EXPECT_EQ(d.entries[2].size, 3u);
  EXPECT_EQ(d.entries[2].gen, gc);
  EXPECT_EQ(top.prefixes, (strings{"d/", "e/", "f/"}));
  // A remove at the listing's level is patched; below a common prefix it
  // cannot be (the prefix may hold other keys): that listing is asked again.
  ASSERT_TRUE(eng_.run(s->remove("d/b")));
  EXPECT_EQ(list(*s, "d/").keys(), (strings{"d/a", "d/c"}));
  EXPECT_EQ(lag_->lists.load(), 2u);
  list(*s, "", one);
  EXPECT_EQ(lag_->lists.load(), 3u);
}

TEST_F(CachingStore, a_listing_larger_than_the_limit_is_not_cached) {
  store::caching_options o;
  o.max_listing_entries = 10;
  auto s = adapter(o);
  for (int i = 0; i < 10; ++i) put(*lag_, "k" + std::to_string(i), "v");
  EXPECT_EQ(list(*s, "").entries.size(), 10u);
  EXPECT_EQ(list(*s, "").entries.size(), 10u);
  EXPECT_EQ(lag_->lists.load(), 2u) << "10 entries and the listing itself are 11";
  EXPECT_EQ(list(*s, "k1").entries.size(), 1u);
  EXPECT_EQ(list(*s, "k1").entries.size(), 1u);
  EXPECT_EQ(lag_->lists.load(), 3u) << "a small one is";
}

TEST_F(CachingStore, a_listing_stopped_early_or_failed_is_not_cached) {
  auto s = adapter();
  put(*lag_, "k", "v");
  store::list_callback stop = [](store::list_page&) -> result<bool> { return false; };
  ASSERT_TRUE(eng_.run(s->list("", store::list_all, stop)));
  store::list_callback boom = [](store::list_page&) -> result<bool> {
    return fail(errc::cancelled, "enough");
  };
  auto e = eng_.run(s->list("", store::list_all, boom));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, errc::cancelled) << "the callback's error is the result";
  EXPECT_EQ(e.error().message, "enough");
  EXPECT_EQ(lag_->lists.load(), 2u);
  list(*s, "");
  EXPECT_EQ(lag_->lists.load(), 3u) << "neither was kept";
  list(*s, "");
  EXPECT_EQ(lag_->lists.load(), 3u) << "the complete one was";
  store::list_options after;
  after.start_after = "a";
  list(*s, "x", after);
  list(*s, "x", after);
  EXPECT_EQ(lag_->lists.load(), 5u) << "a listing asked with start_after is not complete";
}

TEST_F(CachingStore, a_write_during_a_listing_keeps_that_listing_out_of_the_cache) {
  auto s = adapter();
  put(*lag_, "d/a", "v");
  auto& st = *s;
  const auto body = bytes("late");
  lag_->after_list = [&]() -> asio::awaitable<void> {
    auto g = co_await st.write("d/z", body, store::write_always);
    EXPECT_TRUE(g);
  };
  ASSERT_EQ(list(*s, "d/").keys(), strings{"d/a"}) << "the listing was answered before the write";
  EXPECT_EQ(list(*s, "d/").keys(), (strings{"d/a", "d/z"}));
  EXPECT_EQ(lag_->lists.load(), 2u) << "the first listing was not kept";
}

TEST_F(CachingStore, a_second_read_is_served_from_the_value_cache_and_ranges_share_it) {
  auto s = adapter(with_values(1 << 20));
  std::string value(3000, 'v');
  value[100] = 'X';
  const store::generation g = put(*lag_, "k", value);
  auto first = eng_.run(s->read("k"));
  ASSERT_TRUE(first);
  ASSERT_EQ(lag_->reads.load(), 1u);
  auto second = eng_.run(s->read("k"));
  ASSERT_TRUE(second);
  EXPECT_EQ(lag_->reads.load(), 1u) << "no inner read";
  EXPECT_EQ(text(second->bytes), value);
  EXPECT_EQ(second->gen, g);
  EXPECT_EQ(second->size, 3000u);
  store::read_options part;
  part.range = store::byte_range::at(100, 50);
  auto ranged = eng_.run(s->read("k", part));
  ASSERT_TRUE(ranged);
  EXPECT_EQ(lag_->reads.load(), 1u) << "a range of a cached value comes from it";
  EXPECT_EQ(text(ranged->bytes), value.substr(100, 50));
  EXPECT_EQ(ranged->size, 3000u);
  EXPECT_EQ(ranged->bytes.data(), second->bytes.data() + 100) << "a slice of the cached copy, not a copy";
  part.range = store::byte_range::at(3001, 1);
  auto past = eng_.run(s->read("k", part));
  ASSERT_FALSE(past);
  EXPECT_TRUE(past.error().code == condition::invalid_argument) << past.error().describe();
  auto st = eng_.run(s->stat("k"));
  ASSERT_TRUE(st && *st);
  EXPECT_EQ((*st)->gen, g);
  EXPECT_EQ((*st)->size, 3000u);
  EXPECT_TRUE((*st)->bytes.empty());
}

TEST_F(CachingStore, the_value_cache_evicts_the_least_recently_used_by_bytes) {
  auto s = adapter(with_values(10000));  // two values of a page each, with their bookkeeping
  for (const char* k : {"a", "b", "c"}) put(*lag_, k, std::string(4000, k[0]));
  EXPECT_EQ(get(*s, "a"), std::string(4000, 'a'));
  EXPECT_EQ(get(*s, "b"), std::string(4000, 'b'));
  EXPECT_EQ(get(*s, "a"), std::string(4000, 'a'));
  ASSERT_EQ(lag_->reads.load(), 2u);
  EXPECT_EQ(get(*s, "c"), std::string(4000, 'c'));  // evicts b, the least recently used
  EXPECT_EQ(lag_->reads.load(), 3u);
  EXPECT_EQ(get(*s, "a"), std::string(4000, 'a'));
  EXPECT_EQ(lag_->reads.load(), 3u) << "a stayed";
  EXPECT_EQ(get(*s, "b"), std::string(4000, 'b'));
  EXPECT_EQ(lag_->reads.load(), 4u) << "b was evicted";
}

TEST_F(CachingStore, changes_through_the_adapter_invalidate_cached_values) {
  auto s = adapter(with_values(1 << 20));
  put(*lag_, "src", "source");
  unsigned reads = 0;
  // After `by`, the value comes from the inner store, and is then cached.
  auto read_anew = [&](const std::string& want, const char* by) {
    EXPECT_EQ(get(*s, "k"), want) << "after " << by;
    EXPECT_EQ(lag_->reads.load(), ++reads) << "after " << by << " the cached value is not used";
    if (want == "<missing>") return;
    EXPECT_EQ(get(*s, "k"), want);
    EXPECT_EQ(lag_->reads.load(), reads) << "cached again after " << by;
  };
  put(*lag_, "k", "zero");
  read_anew("zero", "the first read");
  put(*s, "k", "one");
  read_anew("one", "write");
  ASSERT_TRUE(eng_.run(s->remove("k")));
  read_anew("<missing>", "remove");
  put(*s, "k", "two");
  read_anew("two", "write");
  ASSERT_TRUE(eng_.run(s->copy("src", "k")));
  read_anew("source", "copy");
  put(*s, "m", "moved");
  ASSERT_TRUE(eng_.run(s->move("m", "k")));
  read_anew("moved", "move");
  char tmpl[] = "/tmp/sluice-caching-file-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "from a file", 11), 11);
  ::close(fd);
  auto w = eng_.run(s->write_file("k", tmpl));
  ::unlink(tmpl);
  ASSERT_TRUE(w) << w.error().describe();
  read_anew("from a file", "write_file");
  ASSERT_TRUE(eng_.run(s->remove_prefix("k")));
  read_anew("<missing>", "remove_prefix");
}

TEST_F(CachingStore, values_above_the_per_value_limit_are_never_cached) {
  store::caching_options o = with_values(1 << 20);
  o.max_cached_value_bytes = 1000;
  auto s = adapter(o);
  put(*lag_, "big", std::string(1001, 'b'));
  put(*lag_, "fits", std::string(1000, 'f'));
  get(*s, "big");
  get(*s, "big");
  EXPECT_EQ(lag_->reads.load(), 2u) << "1,001 bytes: read every time";
  get(*s, "fits");
  get(*s, "fits");
  EXPECT_EQ(lag_->reads.load(), 3u) << "1,000 bytes: cached";
}

TEST_F(CachingStore, conditional_reads_ask_the_inner_store_and_reuse_an_unchanged_value) {
  auto s = adapter(with_values(1 << 20));
  const store::generation g1 = put(*lag_, "k", "first");
  EXPECT_EQ(get(*s, "k"), "first");
  const store::generation g2 = put(*lag_, "k", "second");  // another process
  EXPECT_EQ(get(*s, "k"), "first") << "an unconditional read trusts the cached copy for the ttl";
  ASSERT_EQ(lag_->reads.load(), 1u);
  store::read_options newer;
  newer.if_not_equal = g1;
  EXPECT_EQ(get(*s, "k", newer), "second") << "a conditional read asks";
  EXPECT_EQ(lag_->reads.load(), 2u);
  EXPECT_EQ(get(*s, "k"), "second") << "and refreshes the cache";
  EXPECT_EQ(lag_->reads.load(), 2u);
  store::read_options same;
  same.if_not_equal = g2;
  EXPECT_EQ(get(*s, "k", same), "<unchanged>");
  store::read_options other;
  other.if_not_equal = store::generation{"not-a-generation"};
  other.range = store::byte_range::at(1, 3);
  EXPECT_EQ(get(*s, "k", other), "eco") << "unchanged inside: the bytes come from the cache";
  EXPECT_EQ(lag_->reads.load(), 4u);
  store::read_options stale;
  stale.if_equal = g1;
  auto r = eng_.run(s->read("k", stale));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == condition::precondition_failed) << r.error().describe();
}

TEST_F(CachingStore, cached_values_are_asked_about_again_after_the_ttl) {
  store::caching_options o = with_values(1 << 20);
  o.listing_ttl = ttl_short;
  auto s = adapter(o);
  put(*lag_, "k", "first");
  get(*s, "k");
  get(*s, "k");
  ASSERT_EQ(lag_->reads.load(), 1u);
  put(*lag_, "k", "second");  // another process
  std::this_thread::sleep_for(ttl_short + 50ms);
  EXPECT_EQ(get(*s, "k"), "second");
  EXPECT_EQ(lag_->reads.load(), 2u);
}

TEST_F(CachingStore, a_write_during_a_read_keeps_the_old_value_out_of_the_cache) {
  auto s = adapter(with_values(1 << 20));
  put(*lag_, "k", "old");
  auto& st = *s;
  const auto body = bytes("new");
  lag_->after_read = [&]() -> asio::awaitable<void> {
    auto g = co_await st.write("k", body, store::write_always);
    EXPECT_TRUE(g);
  };
  EXPECT_EQ(get(*s, "k"), "old") << "read before the write";
  EXPECT_EQ(get(*s, "k"), "new");
  EXPECT_EQ(lag_->reads.load(), 2u);
}

TEST_F(CachingStore, errors_of_the_inner_store_pass_through_unchanged) {
  auto s = adapter(with_values(1 << 20));
  put(*lag_, "k", "v");
  store::write_options create;
  create.must_not_exist = true;
  const auto body = bytes("w");
  auto direct = eng_.run(lag_->write("k", body, create));
  auto through = eng_.run(s->write("k", body, create));
  ASSERT_FALSE(direct);
  ASSERT_FALSE(through);
  EXPECT_EQ(through.error().code, direct.error().code);
  EXPECT_EQ(through.error().message, direct.error().message);
  auto missing = eng_.run(s->copy("nothing", "x"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().code == condition::not_found) << missing.error().describe();
  EXPECT_EQ(s->describe("k"), "lagging:k");
  EXPECT_FALSE(s->features().listing_is_consistent) << "the inner store's features";
}

TEST_F(CachingStore, concurrent_writers_read_and_list_their_own_writes) {
  engine eng{engine::options{2}};
  store::caching_options o = with_values(1 << 20);
  o.remember = store::remember_writes::always;
  auto s = store::make_caching_store(store::make_memory_store(), o);
  std::atomic<unsigned> wrong{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      const std::string key = "t/" + std::to_string(t);
      for (unsigned i = 0; i < 100; ++i) {
        const std::string value = key + "#" + std::to_string(i);
        auto v = bytes(value);
        auto g = eng.run(s->write(key, v, store::write_always));
        if (!g) {
          ++wrong;
          continue;
        }
        auto r = eng.run(s->read(key, store::read_all));
        if (!r || text(r->bytes) != value || r->gen != *g) ++wrong;
        bool seen = false;
        store::list_callback cb = [&](store::list_page& p) -> result<bool> {
          for (auto& e : p.entries) seen = seen || (e.key == key && e.gen == *g);
          return true;
        };
        if (!eng.run(s->list("t/", store::list_all, cb)) || !seen) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0u);
}

}  // namespace
