#include <sluice/objects/objects.hpp>

#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/s3/uri.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

namespace sluice::objects {

namespace asio = boost::asio;
using asio::awaitable;

result<location> parse_location(std::string_view text) {
  location loc;
  if (text.empty()) return fail(errc::invalid_argument, "an empty path was given");
  if (s3::is_s3_url(text)) {
    SLUICE_TRY(s3::s3_url u, s3::parse_s3_url(text));
    loc.remote = true;
    loc.bucket = std::move(u.bucket);
    loc.key = std::move(u.key);
    return loc;
  }
  auto colon = text.find("://");
  if (colon != std::string_view::npos)
    return fail(errc::invalid_argument, "unsupported URL scheme in '" + std::string(text) +
                                            "' (use s3://bucket/key or a local path)");
  loc.path = std::string(text);
  return loc;
}

std::optional<int64_t> parse_timestamp(std::string_view text) {
  const std::string t(text);
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &used) == 6) {
    std::string_view rest = text.substr(static_cast<std::size_t>(used));
    if (rest.starts_with('.')) {  // fractions of a second: dropped
      rest.remove_prefix(1);
      while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
    }
    if (rest != "Z" && rest != "+00:00" && !rest.empty()) return std::nullopt;
  } else {
    char weekday[4] = {}, month_name[4] = {}, zone[4] = {};
    if (std::sscanf(t.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", weekday, &day, month_name, &year, &hour,
                    &minute, &second, zone) != 8 ||
        std::string_view(zone) != "GMT")
      return std::nullopt;
    static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const auto at = months.find(month_name);
    if (at == std::string_view::npos || at % 3 != 0) return std::nullopt;
    month = static_cast<int>(at / 3) + 1;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(::timegm(&tm));
}

bool covers(std::string_view prefix, std::string_view key) noexcept {
  return store::covers(prefix, key);
}

awaitable<result<void>> list(store::store& s, std::string_view prefix, bool recursive,
                             const store::list_callback& on_page) {
  store::list_options o;
  if (!recursive) o.delimiter = "/";
  co_return co_await s.list(prefix, o, on_page);
}

awaitable<result<remove_stats>> remove(store::store& s, std::string_view key, bool recursive) {
  remove_stats out;
  if (!recursive) {
    if (key.empty())
      co_return fail(errc::invalid_argument, "'" + s.describe(key) + "' names no object (use -r)");
    // Deletes of missing keys succeed silently on S3; say so instead.
    SLUICE_CO_TRY(std::optional<store::read_result> st, co_await s.stat(key));
    if (!st) co_return fail(errc::not_found, s.describe(key) + ": no such key");
    SLUICE_CO_TRY_VOID(co_await s.remove(key, store::remove_always));
    out.deleted = 1;
    co_return out;
  }
  SLUICE_CO_TRY(store::remove_stats r, co_await s.remove_prefix(key));
  out.deleted = r.removed;
  out.failures = std::move(r.failures);
  co_return out;
}

awaitable<result<streamed_value>> stream_value(store::store& s, std::string_view key, uint64_t chunk,
                                               const chunk_callback& on_chunk) {
  if (chunk == 0)
    co_return fail(errc::invalid_argument, s.describe(key) + ": a chunk must hold at least one byte");
  store::read_options ro;
  ro.range = store::byte_range::at(0, chunk);
  SLUICE_CO_TRY(store::read_result first, co_await s.read(key, ro));
  if (first.state != store::read_state::value)
    co_return fail(errc::not_found, s.describe(key) + ": no such key");

  streamed_value out;
  out.gen = first.gen;
  const uint64_t size = first.size;
  // A recorded hash that does not parse cannot match: reported as integrity, as whole reads do.
  const bool has_record = !first.recorded_xxh3.empty();
  std::optional<integrity::recorded_hash> recorded;
  if (has_record) recorded = integrity::parse_recorded(first.recorded_xxh3);
  integrity::content_hasher hasher(recorded ? recorded->part_size : 0);
  auto deliver = [&](const store::read_result& r, uint64_t want) -> result<void> {
    const auto bytes = r.bytes.span();
    if (bytes.size() != want)
      return fail(errc::truncated_response, s.describe(key) + ": asked for " + std::to_string(want) +
                                                " bytes at " + std::to_string(out.bytes) + ", got " +
                                                std::to_string(bytes.size()));
    if (bytes.empty()) return {};
    if (recorded) hasher.update(bytes);
    SLUICE_TRY_VOID(on_chunk(bytes, out.bytes));
    out.bytes += bytes.size();
    return {};
  };
  SLUICE_CO_TRY_VOID(deliver(first, std::min(chunk, size)));

  // The rest, pinned to the first read's generation.
  auto changed = [&] {
    return fail(errc::precondition_failed,
                s.describe(key) + ": the value changed (replaced or removed) after " +
                    std::to_string(out.bytes) + " of its " + std::to_string(size) +
                    " bytes were read; the rest of the old version is gone, so the read stops here");
  };
  ro.if_equal = out.gen;
  while (out.bytes < size) {
    const uint64_t want = std::min(chunk, size - out.bytes);
    ro.range = store::byte_range::at(out.bytes, want);
    auto r = co_await s.read(key, ro);
    if (!r && r.error().code == condition::precondition_failed) co_return changed();
    if (!r) co_return r.error();
    // Missing, or another generation from a driver that ignored if_equal: changed all the same.
    if (r->state != store::read_state::value || r->gen != out.gen) co_return changed();
    SLUICE_CO_TRY_VOID(deliver(*r, want));
  }
  if (has_record) {
    if (!recorded || hasher.digest() != recorded->value)
      co_return fail(errc::integrity_mismatch, s.describe(key) +
                                                   ": data integrity error: the content does not match "
                                                   "the recorded XXH3 '" +
                                                   first.recorded_xxh3 +
                                                   "' (its bytes were already delivered)");
    out.verified = true;
  }
  co_return out;
}

awaitable<result<streamed_value>> stream_range(store::store& s, std::string_view key,
                                               const store::byte_range& range, uint64_t chunk,
                                               const chunk_callback& on_chunk) {
  if (range.whole()) co_return co_await stream_value(s, key, chunk, on_chunk);
  if (chunk == 0)
    co_return fail(errc::invalid_argument, s.describe(key) + ": a chunk must hold at least one byte");
  SLUICE_CO_TRY(std::optional<store::read_result> st, co_await s.stat(key));
  if (!st) co_return fail(errc::not_found, s.describe(key) + ": no such key");
  if (!range.suffix && range.offset >= st->size)
    co_return fail(errc::invalid_argument, s.describe(key) + ": the range starts at byte " +
                                               std::to_string(range.offset) + ", at or past the end (" +
                                               std::to_string(st->size) + " bytes)");
  auto resolved = store::resolve(range, st->size);
  if (!resolved) co_return fail(errc::invalid_argument, s.describe(key) + ": " + resolved.error().message);
  streamed_value out;
  out.gen = st->gen;
  store::read_options ro;
  ro.if_equal = out.gen;
  while (out.bytes < resolved->count) {
    const uint64_t at = resolved->first + out.bytes;
    const uint64_t want = std::min(chunk, resolved->count - out.bytes);
    ro.range = store::byte_range::at(at, want);
    auto r = co_await s.read(key, ro);
    if ((!r && r.error().code == condition::precondition_failed) ||
        (r && (r->state != store::read_state::value || r->gen != out.gen)))
      co_return fail(errc::precondition_failed,
                     s.describe(key) + ": the value changed (replaced or removed) after " +
                         std::to_string(out.bytes) + " bytes of the range were read; the read stops here");
    if (!r) co_return r.error();
    const auto bytes = r->bytes.span();
    if (bytes.size() != want)
      co_return fail(errc::truncated_response, s.describe(key) + ": asked for " + std::to_string(want) +
                                                   " bytes at " + std::to_string(at) + ", got " +
                                                   std::to_string(bytes.size()));
    SLUICE_CO_TRY_VOID(on_chunk(bytes, at));
    out.bytes += want;
  }
  co_return out;
}

namespace {

// A descriptor read by Asio where the kernel can wait on it (pipes,
// terminals, sockets), else by read(2) (regular files never block).
struct descriptor_state {
  descriptor_state(int f, std::string n) : fd(f), name(std::move(n)), saved_flags(::fcntl(f, F_GETFL)) {}
  ~descriptor_state() {
    if (async) {
      async->release();  // borrowed: never closed here
    }
    if (saved_flags >= 0) ::fcntl(fd, F_SETFL, saved_flags);
  }
  int fd;
  std::string name;
  int saved_flags;
  bool started = false;
  std::function<bool()> stop;
  std::optional<boost::asio::posix::stream_descriptor> async;
  std::optional<boost::asio::steady_timer> tick;  // wakes a waiting read to ask `stop`
};

}  // namespace

store::stream_source descriptor_source(int fd, std::string name, std::function<bool()> stop) {
  namespace asio = boost::asio;
  using namespace boost::asio::experimental::awaitable_operators;
  auto st = std::make_shared<descriptor_state>(fd, std::move(name));
  st->stop = std::move(stop);
  return [st](std::span<std::byte> into) -> awaitable<result<std::size_t>> {
    if (!st->started) {
      st->started = true;
      struct stat sb {};
      const bool regular = ::fstat(st->fd, &sb) == 0 && S_ISREG(sb.st_mode);
      if (!regular) {
        st->async.emplace(co_await asio::this_coro::executor);
        boost::system::error_code ec;
        st->async->assign(st->fd, ec);
        if (ec) st->async.reset();
      }
    }
    std::size_t got = 0;
    if (st->async) {
      if (!st->tick) st->tick.emplace(st->async->get_executor());
      while (got < into.size()) {
        if (st->stop && st->stop()) co_return fail(errc::cancelled, "reading " + st->name + ": cancelled");
        st->tick->expires_after(std::chrono::milliseconds(100));
        auto buffer = asio::buffer(into.data() + got, into.size() - got);
        auto done = co_await (st->async->async_read_some(buffer, asio::as_tuple(asio::use_awaitable)) ||
                              st->tick->async_wait(asio::as_tuple(asio::use_awaitable)));
        if (done.index() == 1) continue;  // time to ask `stop`
        auto [ec, n] = std::get<0>(done);
        got += n;
        if (ec == asio::error::eof) break;
        if (ec) co_return errno_error(ec.value(), "cannot read " + st->name + ": " + ec.message());
      }
    } else {
      while (got < into.size()) {
        const ssize_t n = ::read(st->fd, into.data() + got, into.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) co_return errno_error(errno, "cannot read " + st->name + ": " + std::strerror(errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
      }
    }
    co_return got;
  };
}

}  // namespace sluice::objects
