// What every driver shares: ranges, keys, prefix coverage, and the default
// move / file transfers through memory.
#include <sluice/store/store.hpp>

#include "store/local_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace sluice::store {

namespace asio = boost::asio;
using asio::awaitable;

result<resolved_range> resolve(const byte_range& r, uint64_t size) {
  if (r.suffix) {
    if (!r.length || *r.length == 0)
      return fail(errc::invalid_argument, "a suffix range needs at least one byte");
    const uint64_t n = std::min(*r.length, size);
    return resolved_range{size - n, n};
  }
  if (r.offset > size)
    return fail(errc::invalid_argument, "the range starts at byte " + std::to_string(r.offset) +
                                            ", past the end (" + std::to_string(size) + " bytes)");
  const uint64_t rest = size - r.offset;
  return resolved_range{r.offset, r.length ? std::min(*r.length, rest) : rest};
}

bool covers(std::string_view prefix, std::string_view key) noexcept {
  if (prefix.empty()) return true;
  if (prefix.back() == '/') return key.starts_with(prefix);
  if (key == prefix) return true;
  return key.size() > prefix.size() && key.starts_with(prefix) && key[prefix.size()] == '/';
}

result<void> validate_key(std::string_view key) {
  if (key.empty()) return fail(errc::invalid_argument, "an empty key names no value");
  if (key.size() > 1024)
    return fail(errc::invalid_argument,
                "a key is at most 1024 bytes (got " + std::to_string(key.size()) + ")");
  for (std::size_t i = 0; i < key.size();) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == 0) return fail(errc::invalid_argument, "a key cannot contain a NUL byte");
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > key.size()) return fail(errc::invalid_argument, "a key must be valid UTF-8");
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(key[i + k]) & 0xC0) != 0x80)
        return fail(errc::invalid_argument, "a key must be valid UTF-8");
    i += n;
  }
  return {};
}

awaitable<result<ranges_result>> store::read_ranges(std::string_view key, std::span<const byte_range> ranges,
                                                    const read_options& opts) {
  if (!opts.range.whole() || opts.if_not_equal)
    co_return fail(errc::invalid_argument,
                   describe(key) + ": read_ranges takes its ranges as a list, and no if_not_equal");
  ranges_result out;
  if (ranges.empty()) co_return fail(errc::invalid_argument, describe(key) + ": no ranges asked for");
  read_options each;
  each.if_equal = opts.if_equal;
  for (const byte_range& r : ranges) {
    each.range = r;
    SLUICE_CO_TRY(read_result got, co_await read(key, each));
    ++out.requests;
    if (got.state == read_state::missing) {
      // Gone after an earlier range was read: the value changed under us.
      if (!out.ranges.empty())
        co_return fail(errc::precondition_failed, describe(key) + ": removed while its ranges were read");
      co_return out;
    }
    if (out.ranges.empty()) {
      out.state = read_state::value;
      out.gen = got.gen;
      out.size = got.size;
      each.if_equal = got.gen;
    }
    out.ranges.push_back(std::move(got.bytes));
  }
  co_return out;
}

awaitable<result<generation>> store::move(std::string_view from, std::string_view to) {
  SLUICE_CO_TRY(generation g, co_await copy(from, to));
  SLUICE_CO_TRY_VOID(co_await remove(from, remove_always));
  co_return g;
}

awaitable<result<feature_set>> store::probe_features() {
  co_return features();
}

awaitable<result<generation>> store::copy_from(store& src, std::string_view src_key, std::string_view key,
                                               const write_options& /*opts*/) {
  co_return fail(errc::unsupported, "no direct copy from " + src.describe(src_key) + " to " + describe(key));
}

awaitable<result<generation>> store::write_file(std::string_view key, std::string_view path_in,
                                                const write_options& opts) {
  const std::string path(path_in);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) co_return os_fail("cannot open", path, errno);
  struct stat sb {};
  std::vector<std::byte> bytes;
  result<void> rd;
  if (::fstat(fd, &sb) != 0) {
    rd = os_fail("cannot stat", path, errno);
  } else if (!S_ISREG(sb.st_mode)) {
    rd = fail(errc::invalid_argument, "'" + path + "' is not a regular file");
  } else {
    bytes.resize(static_cast<std::size_t>(sb.st_size));
    rd = detail::pread_all(fd, bytes, 0, path);
  }
  ::close(fd);
  SLUICE_CO_TRY_VOID(rd);
  co_return co_await write(key, bytes, opts);
}

awaitable<result<generation>> store::write_stream(std::string_view key, const stream_source& source,
                                                  const write_options& opts) {
  std::vector<std::byte> bytes;
  constexpr std::size_t chunk = std::size_t(1) << 20;
  for (;;) {
    const std::size_t at = bytes.size();
    bytes.resize(at + chunk);
    SLUICE_CO_TRY(std::size_t n, co_await source(std::span<std::byte>(bytes).subspan(at)));
    bytes.resize(at + n);
    if (n < chunk) break;
  }
  co_return co_await write(key, bytes, opts);
}

awaitable<result<read_result>> store::read_to_file(std::string_view key, std::string_view path_in) {
  const std::string path(path_in);
  SLUICE_CO_TRY(read_result r, co_await read(key, read_all));
  if (r.state != read_state::value) co_return r;
  SLUICE_CO_TRY_VOID(detail::replace_file(path, r.bytes.span(), false));
  r.bytes = {};
  co_return r;
}

}  // namespace sluice::store
