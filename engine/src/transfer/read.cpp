// Reads of an object, or a range of it, into one pool buffer.
#include "transfer/pipeline.hpp"

#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/s3/error.hpp>

#include <cstring>

namespace sluice::transfer {

// A requested range against an object of `total` bytes: [first, end), end
// clamped to the object (first may lie past it: the caller checks).
std::pair<uint64_t, uint64_t> pipeline::resolve_range(const std::optional<s3::byte_range>& range,
                                                      uint64_t total) {
  if (range && range->suffix) return {total - std::min(*range->suffix, total), total};
  if (range) return {range->first, range->last ? std::min(total, *range->last + 1) : total};
  return {0, total};
}

// Fetches [offset, offset + dst.size()) into `dst` (memory already reserved).
awaitable<result<void>> pipeline::fetch_into(s3::client& cl, std::string_view bucket, std::string_view key,
                                             uint64_t offset, std::span<std::byte> dst,
                                             const s3::conditions& when) {
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
  http::span_sink sink(dst);
  auto range = s3::byte_range::between(offset, offset + dst.size() - 1);
  SLUICE_CO_TRY(s3::get_result got, co_await cl.get_object(bucket, key, range, sink, when));
  if (got.bytes != dst.size() || got.first != offset)
    co_return fail(errc::truncated_response,
                   object_url(bucket, key) + ": asked for " + std::to_string(dst.size()) + " bytes at " +
                       std::to_string(offset) + ", got " + std::to_string(got.bytes) + " at " +
                       std::to_string(got.first));
  co_return result<void>{};
}

awaitable<result<object_bytes>> pipeline::read_on(unsigned c, std::string_view bucket, std::string_view key,
                                                  const std::optional<s3::byte_range>& range,
                                                  const s3::conditions& when) {
  for (int attempt = 1;; ++attempt) {
    SLUICE_CO_TRY(object_bytes got, co_await read_once(c, bucket, key, range, when));
    const bool whole = got.first == 0 && got.data.size() == got.info.size;
    auto it = got.info.metadata.find(std::string(integrity::metadata_key));
    if (!whole || !clients_[c]->options().verify_integrity || it == got.info.metadata.end()) co_return got;
    auto rec = integrity::parse_recorded(it->second);
    if (rec && integrity::hash_content(got.data.span(), rec->part_size) == rec->value) {
      got.verified = true;
      co_return got;
    }
    if (attempt >= 2)
      co_return fail(errc::integrity_mismatch,
                     object_url(bucket, key) +
                         ": data integrity error: the content does not match the recorded "
                         "XXH3 '" +
                         it->second + "' (also after reading it again)");
  }
}

awaitable<result<object_bytes>> pipeline::read_once(unsigned c, std::string_view bucket, std::string_view key,
                                                    const std::optional<s3::byte_range>& range,
                                                    const s3::conditions& when) {
  auto& cl = *clients_[c];
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  // The first request: at most first_read_window bytes of what is asked for.
  const uint64_t window = std::min<uint64_t>(first_read_window, opts_.part_size);
  s3::byte_range first_range = s3::byte_range::between(0, window - 1);
  if (range && range->suffix) {
    if (*range->suffix == 0)
      co_return fail(errc::invalid_argument, object_url(bucket, key) + ": an empty suffix range");
    first_range = s3::byte_range::last_bytes(std::min(*range->suffix, window));
  } else if (range) {
    uint64_t len = window;
    if (range->last) {
      if (*range->last < range->first)
        co_return fail(errc::invalid_argument,
                       object_url(bucket, key) + ": a range that ends before it starts");
      len = std::min(len, *range->last - range->first + 1);
    }
    first_range = s3::byte_range::between(range->first, range->first + len - 1);
  }
  const uint64_t first_len =
      first_range.suffix ? *first_range.suffix : *first_range.last - first_range.first + 1;
  SLUICE_CO_TRY(pooled_buffer head, co_await pool_->acquire(static_cast<std::size_t>(first_len)));
  SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
  http::span_sink sink(head.span());
  object_bytes out;
  out.requests = 1;
  auto got = co_await cl.get_object(bucket, key, first_range, sink, when);
  slot.release();
  if (!got && got.error().code == errc::too_large) {
    head.reset();
    co_return co_await read_ignoring_range(cl, bucket, key, range, when);
  }
  if (!got && got.error().code == s3::errc::invalid_range &&
      (!range || (!range->suffix && range->first == 0))) {
    // A range of an empty object does not exist: confirm it is empty.
    SLUICE_CO_TRY(out.info, co_await cl.head_object(bucket, key, when));
    if (out.info.size != 0) co_return got.error();
    ++out.requests;
    co_return out;
  }
  if (!got) co_return got.error();
  out.info = std::move(got->info);
  const uint64_t total = out.info.size;
  // What was asked for, resolved against the size. Not a structured binding:
  // the workers below capture w0, which clang before 16 refuses (the fuzz build).
  const std::pair<uint64_t, uint64_t> wanted = resolve_range(range, total);
  const uint64_t w0 = wanted.first, w1 = wanted.second;
  // What arrived: [got->first, got->first + got->bytes).
  const uint64_t h0 = got->first, h1 = got->first + got->bytes;
  if (h0 < w0 || h1 > w1 || (h0 != w0 && h1 != w1))
    co_return fail(errc::malformed_response,
                   object_url(bucket, key) + ": the answer's range does not match the request");
  head.resize(static_cast<std::size_t>(got->bytes));
  out.first = w0;
  if (h0 == w0 && h1 == w1) {
    out.data = std::move(head);
    co_return out;
  }
  // The rest, in parts, into one buffer for the whole range.
  if (w1 - w0 > pool_->budget())
    co_return fail(errc::too_large, object_url(bucket, key) + ": " + std::to_string(w1 - w0) +
                                        " bytes do not fit the memory budget (" +
                                        std::to_string(pool_->budget()) + " bytes)");
  // Give the first piece's reservation back before taking the whole.
  std::vector<std::byte> first_piece(head.span().begin(), head.span().end());
  head.reset();
  SLUICE_CO_TRY(pooled_buffer all, co_await pool_->acquire(static_cast<std::size_t>(w1 - w0)));
  std::memcpy(all.data() + (h0 - w0), first_piece.data(), first_piece.size());
  first_piece = {};
  const uint64_t gap0 = h0 == w0 ? h1 : w0, gap1 = h0 == w0 ? w1 : h0;
  const uint64_t part = opts_.part_size;
  const uint64_t parts = (gap1 - gap0 + part - 1) / part;
  s3::conditions same_object;
  if (!out.info.etag.empty()) same_object.if_match = out.info.etag;
  std::optional<error> failed;
  uint64_t next = 0;
  const unsigned workers = static_cast<unsigned>(std::min<uint64_t>(request_limit_, parts));
  co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
    while (!failed && next < parts) {
      const uint64_t i = next++;
      const uint64_t off = gap0 + i * part;
      const uint64_t len = std::min(part, gap1 - off);
      auto r = co_await fetch_into(cl, bucket, key, off, all.span().subspan(off - w0, len), same_object);
      if (!r && !failed) failed = r.error();
    }
  });
  if (failed) co_return *failed;
  out.requests += parts;
  out.data = std::move(all);
  co_return out;
}

namespace {

// A stretch of the object fetched by one read_on, and the ranges it serves.
struct fetch_span {
  uint64_t first = 0, end = 0;       // [first, end)
  std::vector<std::size_t> members;  // indexes into the ranges asked for
};

// Ranges resolved against `total` (UINT64_MAX when unknown: bounded ranges
// only) into [first, end) pairs, then merged into spans.
std::vector<fetch_span> plan_spans(std::span<const s3::byte_range> ranges, uint64_t total, uint64_t gap,
                                   std::vector<std::pair<uint64_t, uint64_t>>& resolved) {
  resolved.clear();
  for (const auto& r : ranges) {
    if (r.suffix) {
      resolved.emplace_back(total - std::min(*r.suffix, total), total);
    } else {
      const uint64_t end = r.last ? *r.last + 1 : total;
      resolved.emplace_back(r.first, std::min(end, total));
    }
  }
  std::vector<std::size_t> by_start(ranges.size());
  for (std::size_t i = 0; i < by_start.size(); ++i) by_start[i] = i;
  std::stable_sort(by_start.begin(), by_start.end(),
                   [&](std::size_t x, std::size_t y) { return resolved[x].first < resolved[y].first; });
  std::vector<fetch_span> spans;
  for (std::size_t i : by_start) {
    const auto [a, b] = resolved[i];
    if (!spans.empty() && (a <= spans.back().end || a - spans.back().end <= gap)) {
      spans.back().end = std::max(spans.back().end, b);
      spans.back().members.push_back(i);
      continue;
    }
    spans.push_back({a, b, {i}});
  }
  return spans;
}

}  // namespace

// See scheduler::read_ranges. Bounded ranges need no size: the lowest span
// goes first, with `when`, and its answer gives the size and the ETag.
// Suffix and open-ended ranges need the size first: one HEAD, with `when`.
awaitable<result<ranges_bytes>> pipeline::read_ranges_on(unsigned c, std::string_view bucket,
                                                         std::string_view key,
                                                         std::span<const s3::byte_range> ranges,
                                                         const s3::conditions& when) {
  const std::string url = object_url(bucket, key);
  if (ranges.empty()) co_return fail(errc::invalid_argument, url + ": no ranges asked for");
  bool need_size = false;
  for (const auto& r : ranges) {
    if (r.suffix && *r.suffix == 0) co_return fail(errc::invalid_argument, url + ": an empty suffix range");
    if (!r.suffix && r.last && *r.last < r.first)
      co_return fail(errc::invalid_argument, url + ": a range that ends before it starts");
    if (r.suffix || !r.last) need_size = true;
  }
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  ranges_bytes out;
  std::optional<uint64_t> total;
  s3::conditions same_object = when;
  if (need_size) {
    SLUICE_CO_TRY(out.info, co_await clients_[c]->head_object(bucket, key, when));
    total = out.info.size;
    ++out.requests;
    same_object = {};
    if (!out.info.etag.empty()) same_object.if_match = out.info.etag;
  }
  std::vector<std::pair<uint64_t, uint64_t>> resolved;
  std::vector<fetch_span> spans =
      plan_spans(ranges, total.value_or(UINT64_MAX), opts_.coalesce_gap, resolved);
  uint64_t wanted = 0;
  for (const auto& sp : spans) wanted += sp.end - sp.first;
  if (wanted > pool_->budget())
    co_return fail(errc::too_large,
                   url + ": " + std::to_string(wanted) + " bytes in " + std::to_string(spans.size()) +
                       " spans do not fit the memory budget (" + std::to_string(pool_->budget()) + " bytes)");
  std::vector<std::optional<object_bytes>> got(spans.size());
  std::size_t next = 0;
  if (!total) {
    // The lowest span first: it learns the size and the ETag.
    SLUICE_CO_TRY(
        object_bytes first,
        co_await read_on(c, bucket, key, s3::byte_range::between(spans[0].first, spans[0].end - 1), when));
    out.info = first.info;
    total = out.info.size;
    same_object = {};
    if (!out.info.etag.empty()) same_object.if_match = out.info.etag;
    got[0] = std::move(first);
    next = 1;
  }
  for (const auto& [a, b] : resolved) {
    if (a >= *total && !(a == 0 && b == 0))
      co_return fail(s3::errc::invalid_range, url + ": a range starts at byte " + std::to_string(a) +
                                                  ", past the end of the object (" + std::to_string(*total) +
                                                  " bytes)");
  }
  std::optional<error> failed;
  const std::size_t remaining = spans.size() - next;
  const unsigned workers =
      static_cast<unsigned>(std::min<uint64_t>(request_limit_, std::max<std::size_t>(remaining, 1)));
  co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
    while (!failed && next < spans.size()) {
      const std::size_t i = next++;
      const uint64_t a = spans[i].first, b = std::min(spans[i].end, *total);
      if (a >= b) {
        got[i] = object_bytes{};  // empty ranges (of an empty object)
        continue;
      }
      auto r = co_await read_on(c, bucket, key, s3::byte_range::between(a, b - 1), same_object);
      if (!r) {
        if (!failed) failed = r.error();
        continue;
      }
      got[i] = std::move(*r);
    }
  });
  if (failed) co_return *failed;
  out.firsts.resize(ranges.size());
  out.ranges.resize(ranges.size());
  bool whole = false;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    object_bytes& g = *got[i];
    out.requests += g.requests;
    whole = whole || g.verified;
    for (std::size_t m : spans[i].members) {
      const uint64_t a = resolved[m].first, b = std::min(resolved[m].second, *total);
      out.firsts[m] = a;
      if (b > a)
        out.ranges[m] = g.data.share(static_cast<std::size_t>(a - g.first), static_cast<std::size_t>(b - a));
    }
  }
  out.verified = whole;
  co_return out;
}

// A server that answers a ranged GET with the whole object (s3rver does
// for "bytes=0-0" and for suffix ranges): read the whole object, when it
// fits the budget, and keep the range asked for.
awaitable<result<object_bytes>> pipeline::read_ignoring_range(s3::client& cl, std::string_view bucket,
                                                              std::string_view key,
                                                              const std::optional<s3::byte_range>& range,
                                                              const s3::conditions& when) {
  object_bytes out;
  SLUICE_CO_TRY(out.info, co_await cl.head_object(bucket, key, when));
  const uint64_t total = out.info.size;
  if (total > pool_->budget())
    co_return fail(errc::malformed_response,
                   object_url(bucket, key) +
                       ": the server ignored the Range header, and the whole object does "
                       "not fit the memory budget");
  const auto [w0, w1] = resolve_range(range, total);
  if (w0 > total || (w0 == total && total > 0))
    co_return fail(s3::errc::invalid_range, object_url(bucket, key) + ": the range starts past the end");
  SLUICE_CO_TRY(pooled_buffer all, co_await pool_->acquire(static_cast<std::size_t>(total)));
  SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
  http::span_sink sink(all.span());
  s3::conditions same_object;
  if (!out.info.etag.empty()) same_object.if_match = out.info.etag;
  SLUICE_CO_TRY(s3::get_result got, co_await cl.get_object(bucket, key, std::nullopt, sink, same_object));
  if (got.bytes != total)
    co_return fail(errc::truncated_response, object_url(bucket, key) + ": the object came back short");
  out.info = std::move(got.info);
  if (w0 > 0) std::memmove(all.data(), all.data() + w0, static_cast<std::size_t>(w1 - w0));
  all.resize(static_cast<std::size_t>(w1 - w0));
  out.first = w0;
  out.data = std::move(all);
  out.requests = 3;
  co_return out;
}

}  // namespace sluice::transfer
