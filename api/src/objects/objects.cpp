#include <sluice/objects/objects.hpp>

namespace sluice::objects {

namespace asio = boost::asio;
using asio::awaitable;

using s3::object_url;

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
    return fail(errc::invalid_argument, "unsupported URL scheme in '" + std::string(text) + "' (use s3://bucket/key or a local path)");
  loc.path = std::string(text);
  return loc;
}

bool covers(std::string_view prefix, std::string_view key) noexcept {
  if (prefix.empty()) return true;
  if (prefix.back() == '/') return key.starts_with(prefix);
  if (key == prefix) return true;
  return key.size() > prefix.size() && key.starts_with(prefix) && key[prefix.size()] == '/';
}

awaitable<result<s3::list_page>> list(s3::client& c, std::string_view bucket, std::string_view prefix, bool recursive) {
  co_return co_await c.list_all(bucket, prefix, recursive ? "" : "/");
}

awaitable<result<remove_stats>> remove(s3::client& c, std::string_view bucket, std::string_view key, bool recursive) {
  remove_stats out;
  if (!recursive) {
    if (key.empty()) co_return fail(errc::invalid_argument, "'" + object_url(bucket, key) + "' names no object (use -r)");
    // S3 deletes of missing keys succeed silently; a user removing one
    // object wants to know it was not there.
    SLUICE_CO_TRY_VOID(co_await c.head_object(bucket, key));
    SLUICE_CO_TRY_VOID(co_await c.delete_object(bucket, key));
    out.deleted = 1;
    co_return out;
  }
  // List by the raw prefix, then keep only what `covers` allows: "data/exp"
  // lists "data/experiment2/..." too, which must survive.
  SLUICE_CO_TRY(s3::list_page page, co_await c.list_all(bucket, key, ""));
  std::vector<std::string> keys;
  for (auto& o : page.objects)
    if (covers(key, o.key)) keys.push_back(std::move(o.key));
  if (keys.empty()) co_return out;
  SLUICE_CO_TRY(s3::delete_result r, co_await c.delete_objects(bucket, keys));
  out.deleted = r.deleted.size();
  out.failures = std::move(r.errors);
  co_return out;
}

}  // namespace sluice::objects
