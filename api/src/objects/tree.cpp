// copy_tree, sync and single-value copies between any two stores (tree.hpp).
#include <sluice/objects/glob.hpp>
#include <sluice/objects/tree.hpp>

#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/runtime/concurrently.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <vector>

namespace sluice::objects {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

constexpr std::size_t hash_chunk = std::size_t(1) << 20;

// One page of the listing after `after` ("" for the first): the listing is
// resumed with start_after, so a page is worked on before the next is read.
awaitable<result<std::vector<store::entry>>> next_page(store::store& s, std::string_view prefix,
                                                       const std::string& after) {
  std::vector<store::entry> out;
  store::list_options o;
  o.start_after = after;
  store::list_callback take = [&](store::list_page& page) -> result<bool> {
    out = std::move(page.entries);
    return false;
  };
  SLUICE_CO_TRY_VOID(co_await s.list(prefix, o, take));
  co_return out;
}

// A filter without '/' matches the last segment at any depth ("*.nc" skips
// "a/b/c.nc", as rclone and aws s3 users expect); one with '/' matches the
// whole relative key.
bool filter_match(std::string_view pattern, std::string_view rel) {
  if (pattern.find('/') != std::string_view::npos) return glob_match(pattern, rel);
  auto slash = rel.rfind('/');
  return glob_match(pattern, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
}

bool wanted(const tree_options& o, std::string_view rel) {
  for (const auto& p : o.exclude)
    if (filter_match(p, rel)) return false;
  if (o.include.empty()) return true;
  for (const auto& p : o.include)
    if (filter_match(p, rel)) return true;
  return false;
}

// The XXH3 of a local file, hashed the way `recorded` was (its part size).
result<uint64_t> hash_file(const std::string& path, uint64_t part_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_fail("cannot open", path, errno);
  integrity::content_hasher h(part_size);
  std::vector<std::byte> buf(hash_chunk);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return os_fail("cannot read", path, e);
    }
    if (n == 0) break;
    h.update({buf.data(), static_cast<std::size_t>(n)});
  }
  ::close(fd);
  return h.digest();
}

// Whether the two values hold the same bytes, as far as hashes can tell
// (nullopt: nothing to compare with, so not proven equal).
awaitable<result<bool>> same_content(store::store& src, const std::string& sk, store::store& dst,
                                     const std::string& dk) {
  SLUICE_CO_TRY(std::optional<store::read_result> a, co_await src.stat(sk));
  SLUICE_CO_TRY(std::optional<store::read_result> b, co_await dst.stat(dk));
  if (!a || !b) co_return false;
  if (!a->recorded_xxh3.empty() && a->recorded_xxh3 == b->recorded_xxh3) co_return true;
  // One side recorded a hash, the other is a local file: hash the file alike.
  auto compare_with_file = [](const std::string& recorded,
                              const std::optional<std::string>& path) -> result<bool> {
    auto rec = integrity::parse_recorded(recorded);
    if (!rec || !path) return false;
    SLUICE_TRY(uint64_t h, hash_file(*path, rec->part_size));
    return h == rec->value;
  };
  if (!a->recorded_xxh3.empty() && b->recorded_xxh3.empty())
    co_return compare_with_file(a->recorded_xxh3, dst.local_path(dk));
  if (a->recorded_xxh3.empty() && !b->recorded_xxh3.empty())
    co_return compare_with_file(b->recorded_xxh3, src.local_path(sk));
  // Two local files: hash both.
  auto pa = src.local_path(sk), pb = dst.local_path(dk);
  if (pa && pb) {
    SLUICE_CO_TRY(uint64_t ha, hash_file(*pa, 0));
    SLUICE_CO_TRY(uint64_t hb, hash_file(*pb, 0));
    co_return ha == hb;
  }
  co_return false;
}

awaitable<result<void>> copy_one(store::store& src, const std::string& sk, store::store& dst,
                                 const std::string& dk, const store::write_options& wo) {
  // 1. Without moving the bytes through this process (the copy keeps the
  // source's metadata, so not when new metadata is asked for).
  if (wo.content_type.empty() && wo.metadata.empty()) {
    auto direct = co_await dst.copy_from(src, sk, dk);
    if (direct) co_return result<void>{};
    if (!(direct.error().code == condition::unsupported)) co_return direct.error();
  }
  // 2. Streamed into a local file, or from one.
  if (auto path = dst.local_path(dk)) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(*path).parent_path(), ec);
    if (ec)
      co_return errno_error(ec.value(), "cannot create the directory for '" + *path + "': " + ec.message());
    SLUICE_CO_TRY(store::read_result r, co_await src.read_to_file(sk, *path));
    if (r.state != store::read_state::value)
      co_return fail(errc::not_found, src.describe(sk) + ": no such key");
    co_return result<void>{};
  }
  if (auto path = src.local_path(sk)) {
    SLUICE_CO_TRY_VOID(co_await dst.write_file(dk, *path, wo));
    co_return result<void>{};
  }
  // 3. Through memory (the source's read budget bounds it).
  SLUICE_CO_TRY(store::read_result r, co_await src.read(sk, store::read_all));
  if (r.state != store::read_state::value)
    co_return fail(errc::not_found, src.describe(sk) + ": no such key");
  SLUICE_CO_TRY_VOID(co_await dst.write(dk, r.bytes.span(), wo));
  co_return result<void>{};
}

struct work_item {
  std::string rel;
  uint64_t size = 0;
  bool compare = false;  // sync: the destination has a value of the same size
};

awaitable<result<tree_result>> run_tree(store::store& src, std::string_view src_prefix_in, store::store& dst,
                                        std::string_view dst_prefix_in, const tree_options& opts, bool sync) {
  const std::string sp = tree_prefix(src_prefix_in), dp = tree_prefix(dst_prefix_in);
  tree_result out;
  auto report = [&](action_kind k, const std::string& rel, uint64_t size, const char* why) {
    if (opts.on_action) opts.on_action(tree_action{k, rel, size, why});
  };

  // sync: what the destination holds (relative key -> size).
  std::map<std::string, uint64_t> existing;
  if (sync) {
    store::list_callback keep = [&](store::list_page& page) -> result<bool> {
      for (auto& e : page.entries) {
        auto rel = relative_key(dp, e.key);
        if (rel) existing.emplace(std::move(*rel), e.size);
      }
      return true;
    };
    SLUICE_CO_TRY_VOID(co_await dst.list(dp, store::list_all, keep));
  }

  const unsigned workers_max = std::max(1u, opts.concurrency);
  bool stopped = false;  // a copy was cancelled: start no more
  std::string after;
  while (!stopped) {
    SLUICE_CO_TRY(std::vector<store::entry> page, co_await next_page(src, sp, after));
    if (page.empty()) break;
    after = page.back().key;
    std::vector<work_item> items;
    for (auto& e : page) {
      if (!e.key.empty() && e.key.back() == '/' && e.key.starts_with(sp)) {
        ++out.markers;  // a folder marker: no value to copy; a directory where the destination has them
        if (opts.dry_run || e.key.size() <= sp.size() + 1) continue;
        if (auto rel = relative_key(sp, std::string_view(e.key).substr(0, e.key.size() - 1)); rel) {
          if (auto path = dst.local_path(dp + *rel)) {
            std::error_code ec;  // a directory that cannot be made is no failure of a marker
            std::filesystem::create_directories(*path, ec);
          }
        }
        continue;
      }
      auto rel = relative_key(sp, e.key);
      if (!rel) {
        out.refused.push_back({e.key, rel.error()});
        continue;
      }
      if (!wanted(opts, *rel) || (!opts.match.empty() && !glob_match(opts.match, e.key))) {
        ++out.skipped;
        continue;
      }
      work_item w{std::move(*rel), e.size, false};
      if (sync) {
        auto it = existing.find(w.rel);
        if (it != existing.end()) {
          const bool same_size = it->second == e.size;
          existing.erase(it);  // seen in the source: not extra
          if (same_size && opts.size_only) {
            ++out.skipped;
            report(action_kind::skip, w.rel, w.size, "same size");
            continue;
          }
          w.compare = same_size;
          if (!same_size) {
            report(action_kind::copy, w.rel, w.size, "size differs");
            if (opts.dry_run) {
              ++out.copied;
              out.bytes += w.size;
              continue;
            }
          }
        } else {
          report(action_kind::copy, w.rel, w.size, "new");
          if (opts.dry_run) {
            ++out.copied;
            out.bytes += w.size;
            continue;
          }
        }
      } else {
        report(action_kind::copy, w.rel, w.size, "copy");
        if (opts.dry_run) {
          ++out.copied;
          out.bytes += w.size;
          continue;
        }
      }
      items.push_back(std::move(w));
    }
    // This page's values, `concurrency` at a time.
    std::size_t next = 0;
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(workers_max, items.size()));
    co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
      while (next < items.size() && !stopped) {
        work_item& w = items[next++];
        const std::string sk = sp + w.rel, dk = dp + w.rel;
        if (w.compare) {
          auto same = co_await same_content(src, sk, dst, dk);
          if (same && *same) {
            ++out.skipped;
            report(action_kind::skip, w.rel, w.size, "same size and XXH3");
            continue;
          }
          report(action_kind::copy, w.rel, w.size,
                 same ? "content differs or cannot be compared" : "compare failed");
          if (opts.dry_run) {
            ++out.copied;
            out.bytes += w.size;
            continue;
          }
        }
        auto r = co_await copy_one(src, sk, dst, dk, opts.write);
        if (!r) {
          out.failures.push_back({w.rel, r.error()});
          if (r.error().code == condition::cancelled) stopped = true;
          continue;
        }
        if (opts.move && !sync) {
          auto removed = co_await src.remove(sk, store::remove_always);
          if (!removed) {
            out.failures.push_back({w.rel, removed.error()});
            continue;
          }
        }
        ++out.copied;
        out.bytes += w.size;
        if (opts.progress) {
          opts.progress->bytes.fetch_add(w.size, std::memory_order_relaxed);
          opts.progress->objects.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  if (sync && opts.delete_extra && !stopped && out.failures.empty()) {
    std::vector<std::string> extra;
    for (const auto& [rel, size] : existing) {
      if (!wanted(opts, rel)) continue;  // filtered out: neither copied nor deleted
      report(action_kind::remove, rel, size, "not in source");
      if (opts.dry_run)
        ++out.removed;
      else
        extra.push_back(rel);
    }
    std::size_t next = 0;
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(workers_max, extra.size()));
    co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
      while (next < extra.size()) {
        const std::string& rel = extra[next++];
        const std::string dk = dp + rel;
        auto r = co_await dst.remove(dk, store::remove_always);
        if (!r)
          out.failures.push_back({rel, r.error()});
        else
          ++out.removed;
      }
    });
  }
  co_return out;
}

}  // namespace

std::string tree_prefix(std::string_view prefix) {
  std::string p(prefix);
  if (!p.empty() && p.back() != '/') p += '/';
  return p;
}

result<std::string> relative_key(std::string_view prefix, std::string_view key) {
  if (!key.starts_with(prefix))
    return fail(errc::invalid_argument,
                "'" + std::string(key) + "' is not under the prefix '" + std::string(prefix) + "'");
  std::string_view rel = key.substr(prefix.size());
  if (rel.empty() || rel.back() == '/')
    return fail(errc::invalid_argument,
                "'" + std::string(key) + "' names no value under the prefix (a folder marker)");
  std::size_t start = 0;
  for (;;) {
    auto slash = rel.find('/', start);
    std::string_view seg =
        rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..")
      return fail(errc::invalid_argument,
                  "'" + std::string(key) +
                      "' would leave the destination (an empty, '.' or '..' segment); not copied");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::string(rel);
}

awaitable<result<tree_result>> copy_tree(store::store& src, std::string_view src_prefix, store::store& dst,
                                         std::string_view dst_prefix, const tree_options& opts) {
  co_return co_await run_tree(src, src_prefix, dst, dst_prefix, opts, false);
}

awaitable<result<tree_result>> sync(store::store& src, std::string_view src_prefix, store::store& dst,
                                    std::string_view dst_prefix, const tree_options& opts) {
  co_return co_await run_tree(src, src_prefix, dst, dst_prefix, opts, true);
}

awaitable<result<uint64_t>> copy_value(store::store& src, std::string_view src_key, store::store& dst,
                                       std::string_view dst_key) {
  SLUICE_CO_TRY(std::optional<store::read_result> st, co_await src.stat(src_key));
  if (!st) co_return fail(errc::not_found, src.describe(src_key) + ": no such key");
  const std::string sk(src_key), dk(dst_key);
  SLUICE_CO_TRY_VOID(co_await copy_one(src, sk, dst, dk, store::write_always));
  co_return st->size;
}

awaitable<result<uint64_t>> move_value(store::store& src, std::string_view src_key, store::store& dst,
                                       std::string_view dst_key) {
  if (&src == &dst) {
    SLUICE_CO_TRY(std::optional<store::read_result> st, co_await src.stat(src_key));
    if (!st) co_return fail(errc::not_found, src.describe(src_key) + ": no such key");
    SLUICE_CO_TRY_VOID(co_await src.move(src_key, dst_key));
    co_return st->size;
  }
  SLUICE_CO_TRY(uint64_t n, co_await copy_value(src, src_key, dst, dst_key));
  SLUICE_CO_TRY_VOID(co_await src.remove(src_key, store::remove_always));
  co_return n;
}

}  // namespace sluice::objects
