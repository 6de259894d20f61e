#include <sluice/objects/objects.hpp>

#include <sluice/engine/s3/uri.hpp>

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

}  // namespace sluice::objects
