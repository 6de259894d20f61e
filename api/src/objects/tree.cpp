// copy_tree, sync and single-value copies between any two stores (tree.hpp).
#include <sluice/objects/glob.hpp>
#include <sluice/objects/objects.hpp>
#include <sluice/objects/tree.hpp>

#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/runtime/concurrently.hpp>

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
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

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool wanted(const tree_options& o, std::string_view rel) {
  for (const auto& p : o.exclude)
    if (filter_match(p, rel)) return false;
  bool in = o.include.empty();
  for (const auto& p : o.include)
    if (filter_match(p, rel)) {
      in = true;
      break;
    }
  if (!in) return false;
  for (const auto& f : o.filters)  // aws: the last rule that matches decides
    if (filter_match(f.pattern, rel)) in = f.include;
  return in;
}

// An ETag that is the MD5 of the object's bytes: 32 hex digits (a multipart
// ETag has "-N" after them, an SSE-KMS one is not the MD5 but cannot be told
// apart; such a mismatch only costs a copy).
bool is_md5_etag(std::string_view tag) {
  if (tag.size() != 32) return false;
  for (char c : tag)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

// The MD5 of a local file in lowercase hex.
result<std::string> md5_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_fail("cannot open", path, errno);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1) {
    ::close(fd);
    return fail(errc::io_error, "cannot start an MD5 digest");
  }
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
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += digits[digest[i] >> 4];
    hex += digits[digest[i] & 15];
  }
  return hex;
}

bool equal_hex(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// A value's modification time in seconds: a local file's mtime, else the store's Last-Modified.
std::optional<int64_t> modified_at(const store::read_result& r, const std::optional<std::string>& path) {
  if (path) {
    struct stat sb {};
    if (::stat(path->c_str(), &sb) != 0) return std::nullopt;
    return static_cast<int64_t>(sb.st_mtim.tv_sec);
  }
  return parse_timestamp(r.last_modified);
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

// Why the two values (of equal size) count as the same: hashes first, times
// last (tree.hpp, sync); nullptr when nothing proves it.
awaitable<result<const char*>> unchanged_reason(store::store& src, const std::string& sk, store::store& dst,
                                                const std::string& dk, const tree_options& opts) {
  SLUICE_CO_TRY(std::optional<store::read_result> a, co_await src.stat(sk));
  SLUICE_CO_TRY(std::optional<store::read_result> b, co_await dst.stat(dk));
  const char* differ = nullptr;
  if (!a || !b || a->size != b->size) co_return differ;
  const auto pa = src.local_path(sk), pb = dst.local_path(dk);
  // 1. sluice's XXH3 on both sides (a local file hashed the way the other side recorded it).
  if (!a->recorded_xxh3.empty() && !b->recorded_xxh3.empty())
    co_return a->recorded_xxh3 == b->recorded_xxh3 ? "same size and XXH3" : differ;
  auto compare_with_file = [](const std::string& recorded, const std::string& path) -> result<bool> {
    auto rec = integrity::parse_recorded(recorded);
    if (!rec) return false;
    SLUICE_TRY(uint64_t h, hash_file(path, rec->part_size));
    return h == rec->value;
  };
  if (!a->recorded_xxh3.empty() && pb) {
    SLUICE_CO_TRY(bool same, compare_with_file(a->recorded_xxh3, *pb));
    co_return same ? "same size and XXH3" : differ;
  }
  if (!b->recorded_xxh3.empty() && pa) {
    SLUICE_CO_TRY(bool same, compare_with_file(b->recorded_xxh3, *pa));
    co_return same ? "same size and XXH3" : differ;
  }
  // 2. A single-part ETag: the MD5 of the bytes.
  if (!pa && !pb && is_md5_etag(a->gen.tag) && is_md5_etag(b->gen.tag))
    co_return equal_hex(a->gen.tag, b->gen.tag) ? "same size and MD5 (ETag)" : differ;
  if (pb && is_md5_etag(a->gen.tag)) {
    SLUICE_CO_TRY(std::string md5, md5_file(*pb));
    co_return equal_hex(md5, a->gen.tag) ? "same size and MD5 (ETag)" : differ;
  }
  if (pa && is_md5_etag(b->gen.tag)) {
    SLUICE_CO_TRY(std::string md5, md5_file(*pa));
    co_return equal_hex(md5, b->gen.tag) ? "same size and MD5 (ETag)" : differ;
  }
  // Two local files: hash both.
  if (pa && pb) {
    SLUICE_CO_TRY(uint64_t ha, hash_file(*pa, 0));
    SLUICE_CO_TRY(uint64_t hb, hash_file(*pb, 0));
    co_return ha == hb ? "same size and XXH3" : differ;
  }
  if (opts.checksum) co_return differ;
  // 3. Times, as aws s3 sync compares them.
  const auto ta = modified_at(*a, pa), tb = modified_at(*b, pb);
  if (!ta || !tb) co_return differ;
  if (pb) co_return *ta == *tb ? "same size and modification time" : differ;  // a download
  co_return *tb >= *ta ? "same size, destination not older" : differ;
}

awaitable<result<void>> copy_one(store::store& src, const std::string& sk, store::store& dst,
                                 const std::string& dk, const store::write_options& wo,
                                 const std::string& last_modified) {
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
    // As aws does: the file's modification time is the object's, so a later sync can compare times.
    if (!src.local_path(sk) && !last_modified.empty())
      SLUICE_CO_TRY_VOID(stamp_modification_time(*path, last_modified));
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
  bool compare = false;       // sync: the destination has a value of the same size
  std::string last_modified;  // the source's, as listed
};

awaitable<result<tree_result>> run_tree(store::store& src, std::string_view src_prefix_in, store::store& dst,
                                        std::string_view dst_prefix_in, const tree_options& opts, bool sync) {
  const std::string sp = tree_prefix(src_prefix_in), dp = tree_prefix(dst_prefix_in);
  tree_result out;
  auto report = [&](action_kind k, const std::string& rel, uint64_t size, const char* why) {
    if (opts.on_action) opts.on_action(tree_action{k, rel, size, why});
  };
  auto count_skip = [&](uint64_t size) {
    ++out.skipped;
    if (opts.progress) {
      opts.progress->skipped_bytes.fetch_add(size, std::memory_order_relaxed);
      opts.progress->skipped_objects.fetch_add(1, std::memory_order_relaxed);
    }
  };

  // A local destination whose file system takes names that differ only in case
  // for one file: two such keys would write one file, and the second would
  // silently replace the first. Names are compared folded, the first key wins,
  // the others are refused.
  bool fold = false;
  if (opts.fold_case) {
    fold = *opts.fold_case;
  } else if (auto inside =
                 dst.local_path(dp + "probe")) {  // (a key names a file; the prefix is its directory)
    fold = names_fold_case(std::filesystem::path(*inside).parent_path());
  }
  auto name_of = [fold](const std::string& rel) { return fold ? ascii_lower(rel) : rel; };
  std::map<std::string, std::string> claimed;  // fold: folded relative key -> the key that has it

  // sync: what the destination holds (relative key, folded when `fold` -> its size and real name).
  struct held {
    uint64_t size;
    std::string rel;
  };
  std::map<std::string, held> existing;
  if (sync) {
    store::list_callback keep = [&](store::list_page& page) -> result<bool> {
      for (auto& e : page.entries) {
        auto rel = relative_key(dp, e.key);
        if (!rel) continue;
        std::string name = name_of(*rel);  // (before *rel is moved from)
        existing.emplace(std::move(name), held{e.size, std::move(*rel)});
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
        count_skip(e.size);
        ++out.filtered;
        continue;
      }
      if (fold) {
        auto [first, fresh] = claimed.emplace(ascii_lower(*rel), e.key);
        if (!fresh) {
          out.refused.push_back(
              {e.key, fail(errc::invalid_argument,
                           "'" + e.key + "' and '" + first->second + "' would be one local file ('" + *rel +
                               "'): the destination's file system ignores case; only the first is copied")});
          continue;
        }
      }
      work_item w{std::move(*rel), e.size, false, e.last_modified};
      if (sync) {
        auto it = existing.find(name_of(w.rel));
        if (it != existing.end()) {
          const bool same_size = it->second.size == e.size;
          existing.erase(it);  // seen in the source: not extra
          if (same_size && opts.size_only) {
            count_skip(w.size);
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
          auto same = co_await unchanged_reason(src, sk, dst, dk, opts);
          if (same && *same) {
            count_skip(w.size);
            report(action_kind::skip, w.rel, w.size, *same);
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
        auto r = co_await copy_one(src, sk, dst, dk, opts.write, w.last_modified);
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
    for (const auto& [name, h] : existing) {
      const std::string& rel = h.rel;
      const uint64_t size = h.size;
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

result<void> stamp_modification_time(const std::string& path, std::string_view last_modified) {
  const auto t = parse_timestamp(last_modified);
  if (!t) return {};  // no time to give it
  struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(*t), 0}};
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0)
    return os_fail("cannot set the modification time of", path, errno);
  return {};
}

namespace {

constexpr std::string_view case_probe_marker = ".sluice-case-probe-";

std::string swap_ascii_case(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
    else if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Probes left by runs killed while probing: a live prober holds the lock on its probe.
void remove_abandoned_case_probes(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(case_probe_marker)) continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat a {
    }, b{};
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &a) == 0 && ::lstat(it->path().c_str(), &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino)
      ::unlink(it->path().c_str());
    ::close(fd);
  }
}

// Looks up names already in `dir` by their case-swapped spelling: one that names the same file
// says folded, one that names nothing (or another file) says not. Nullopt when no name has a letter.
std::optional<bool> fold_from_existing_names(const std::filesystem::path& dir) {
  std::error_code ec;
  unsigned looked = 0;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end && looked < 64;
       it.increment(ec), ++looked) {
    const std::string name = it->path().filename().string();
    const std::string swapped = swap_ascii_case(name);
    if (swapped == name || name.starts_with(case_probe_marker)) continue;
    struct stat a {
    }, b{};
    if (::lstat(it->path().c_str(), &a) != 0) continue;  // gone meanwhile
    if (::lstat((dir / swapped).c_str(), &b) != 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }
  return std::nullopt;
}

}  // namespace

bool names_fold_case(const std::filesystem::path& dir) {
  // The nearest directory that exists: a destination is often made by the copy.
  std::error_code ec;
  std::filesystem::path d = dir.empty() ? std::filesystem::path(".") : dir;
  while (!std::filesystem::is_directory(d, ec)) {
    if (!d.has_parent_path() || d.parent_path() == d) return false;
    d = d.parent_path();
  }
  remove_abandoned_case_probes(d);
  if (auto known = fold_from_existing_names(d)) return *known;

  // Nothing to look up by: a probe file, locked while it lives so that a run killed
  // before removing it leaves one the next run knows to be abandoned.
  static std::atomic<unsigned> serial{0};
  const std::string base =
      std::string(case_probe_marker) + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  const std::filesystem::path lower = d / (base + "-a"), upper = d / (base + "-A");
  const int fd = ::open(lower.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;  // cannot tell (read-only, say): writing will fail anyway
  bool folded = false;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {  // (else another run took it for abandoned: not ours to judge)
    struct stat a {
    }, b{};
    folded = ::fstat(fd, &a) == 0 && ::stat(upper.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
             a.st_ino == b.st_ino;
  }
  ::unlink(lower.c_str());
  ::close(fd);
  return folded;
}

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
  SLUICE_CO_TRY_VOID(co_await copy_one(src, sk, dst, dk, store::write_always, st->last_modified));
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
