// The S3 operations on top of the HTTP pool: addressing, signing, retries,
// typed errors and integrity checks.
#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/s3/client.hpp>
#include <sluice/engine/s3/error.hpp>

#include "text/ascii.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/evp.h>
#include <openssl/md5.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

namespace sluice::s3 {

using asio::awaitable;

namespace {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view meta_prefix = "x-amz-meta-";
// An XML answer's body, judged whole when it ends: one cut short (a lying Content-Length, a
// connection closed at the length it announced) fails the attempt as truncated_response, which
// the retry policy treats like any transport fault, instead of reaching the parser as garbage.
class xml_sink final : public http::body_sink {
 public:
  result<void> begin(const http::response& head) override { return text_.begin(head); }
  std::span<std::byte> prepare() override { return text_.prepare(); }
  result<void> commit(std::size_t n) override { return text_.commit(n); }
  result<void> finish() override {
    SLUICE_TRY_VOID(text_.finish());
    return check_complete_document(text_.text());
  }
  std::string& text() noexcept { return text_.text(); }

 private:
  http::string_sink text_;  // (its cap: 64 MiB, some fifty listing pages of 1,000 long keys)
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string strip_quotes(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::string quote_etag(std::string_view s) {
  if (s == "*" || (s.size() >= 2 && s.front() == '"')) return std::string(s);
  return "\"" + std::string(s) + "\"";
}

std::string unquote_etag(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::string base64_md5(std::span<const std::byte> body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), digest, &len, EVP_md5(), nullptr);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

// The ETag S3 gives an object completed from `parts`: the MD5 of their MD5s, a dash and their
// count. Nullopt when a part's ETag is not an MD5 (SSE-KMS, some other servers).
std::optional<std::string> multipart_etag(std::span<const completed_part> parts) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string digests;
  for (const auto& p : parts) {
    const std::string hex = unquote_etag(p.etag);
    if (hex.size() != 32) return std::nullopt;
    for (std::size_t i = 0; i < 32; i += 2) {
      const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      digests += static_cast<char>(hi * 16 + lo);
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(digests.data(), digests.size(), digest, &len, EVP_md5(), nullptr);
  static constexpr char hexdigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hexdigits[digest[i] >> 4];
    out += hexdigits[digest[i] & 15];
  }
  return out + "-" + std::to_string(parts.size());
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

object_info info_from(const http::response& r) {
  object_info info;
  if (r.content_length) info.size = *r.content_length;
  info.etag = strip_quotes(r.header("etag"));
  info.last_modified = std::string(r.header("last-modified"));
  info.content_type = std::string(r.header("content-type"));
  info.request_id = std::string(r.header("x-amz-request-id"));
  for (const auto& h : r.headers) {
    // Only user metadata is copied (and lowered): most answers carry none.
    if (text::iequals_prefix(h.name, meta_prefix))
      info.metadata[lower(std::string_view(h.name).substr(meta_prefix.size()))] = h.value;
  }
  return info;
}

// The body of a whole-object read: one aligned allocation of Content-Length bytes.
class buffer_sink final : public http::body_sink {
 public:
  explicit buffer_sink(uint64_t max_bytes) : max_(max_bytes) {}
  result<void> begin(const http::response& head) override {
    used_ = 0;
    if (!head.content_length)
      return fail(sluice::errc::malformed_response, "the server sent an object without a Content-Length");
    if (*head.content_length > max_)
      return fail(sluice::errc::too_large, "the object has " + std::to_string(*head.content_length) +
                                               " bytes, more than the allowed " + std::to_string(max_));
    buf_ = aligned_buffer(static_cast<std::size_t>(*head.content_length));
    return {};
  }
  std::span<std::byte> prepare() override { return buf_.span().subspan(used_); }
  result<void> commit(std::size_t n) override {
    used_ += n;
    return {};
  }
  result<void> finish() override {
    if (used_ != buf_.size())
      return fail(sluice::errc::truncated_response, "the object body ended after " + std::to_string(used_) +
                                                        " of " + std::to_string(buf_.size()) + " bytes");
    return {};
  }
  aligned_buffer take() { return std::move(buf_); }

 private:
  uint64_t max_;
  aligned_buffer buf_;
  std::size_t used_ = 0;
};

// Guards ranged answers before their body is read: a 206 must carry a
// usable Content-Range. s3rver answers a range on an empty object with
// "bytes 0-0/0" and a body that never comes; S3 itself answers 416. Both
// become invalid_range here, without waiting for the body. A Content-Length
// other than the range's length is a broken answer (malformed_response, which
// is retried), not an object larger than the caller's buffer (too_large, which
// callers take for a server that ignored the range).
class range_guard_sink final : public http::body_sink {
 public:
  explicit range_guard_sink(http::body_sink& inner) : inner_(inner) {}
  result<void> begin(const http::response& head) override {
    if (head.status == 206) {
      std::string_view text = head.header("content-range");
      auto cr = parse_content_range(text);
      if (text.ends_with("/0"))
        return fail(errc::invalid_range, "the object is empty, so no byte range of it exists");
      if (!cr || !cr->first || !cr->total)
        return fail(sluice::errc::malformed_response, "a partial answer without a usable Content-Range ('" +
                                                          std::string(head.header("content-range")) + "')");
      if (cr->last && head.content_length && *head.content_length != *cr->last - *cr->first + 1)
        return fail(sluice::errc::malformed_response,
                    "a partial answer of " + std::to_string(*head.content_length) +
                        " bytes whose Content-Range ('" + std::string(text) + "') spans " +
                        std::to_string(*cr->last - *cr->first + 1));
    }
    return inner_.begin(head);
  }
  std::span<std::byte> prepare() override { return inner_.prepare(); }
  result<void> commit(std::size_t n) override { return inner_.commit(n); }
  result<void> finish() override { return inner_.finish(); }

 private:
  http::body_sink& inner_;
};

struct s3_request {
  std::string method;
  std::string bucket;
  std::string key;
  std::vector<query_param> query;
  std::vector<http::header_field> headers;
  std::span<const std::byte> body;
};

class s3_client final : public client, public std::enable_shared_from_this<s3_client> {
 public:
  s3_client(asio::any_io_executor ex, client_options opts, endpoint ep)
      : ex_(std::move(ex)), opts_(std::move(opts)), ep_(std::move(ep)) {
    opts_.http.tls.ca_file = opts_.config.ca_bundle.empty() ? opts_.http.tls.ca_file : opts_.config.ca_bundle;
  }

  result<void> init() {
    auto pool = http::client::create(ex_, ep_, opts_.http);
    if (!pool) return pool.error();
    pools_[ep_.host_header()] = *pool;
    base_pool_ = *pool;
    return {};
  }

  const client_options& options() const noexcept override { return opts_; }

  // ---- the request loop -----------------------------------------------------

  // A parsed answer whose error names the request it answers ("GET s3://b/: ...").
  template <class T>
  static result<T> named(const s3_request& req, result<T> parsed) {
    if (parsed) return parsed;
    error e = std::move(parsed.error());
    e.message = req.method + " " + object_url(req.bucket, req.key) + ": " + e.message;
    return e;
  }

  // What every attempt of one request shares, worked out once by a plain
  // function: its temporaries stay off the coroutine frame, which lives as
  // long as the request is in flight (thousands at once).
  struct prepared_request {
    std::shared_ptr<http::client> pool;
    std::optional<endpoint> own_target;  // a virtual-hosted bucket's; else the client's endpoint
    std::string path;                    // encoded, without the query
    std::string query_string;            // "" or "?a=b&c"
    std::string_view payload_constant;   // UNSIGNED-PAYLOAD or the empty body's hash (static storage)
    std::string payload_hashed;          // else the body's SHA-256
    std::string_view payload_hash() const {
      return payload_constant.empty() ? std::string_view(payload_hashed) : payload_constant;
    }
  };

  // "GET s3://bucket/key": what messages name (made only when one is needed).
  static std::string what_of(const s3_request& req) {
    return req.method + " " + object_url(req.bucket, req.key);
  }

  result<prepared_request> prepare(const s3_request& req) {
    prepared_request p;
    if (!req.bucket.empty()) {
      if (auto v = validate_bucket_name(req.bucket); !v) return v.error();
    }
    if (!req.key.empty()) {
      if (auto v = validate_key(req.key); !v) return v.error();
    }
    const bool virtual_host = !opts_.config.path_style && !req.bucket.empty();
    p.path = "/";
    if (virtual_host) {
      p.own_target = ep_;
      p.own_target->host = req.bucket + "." + ep_.host;
      p.path += encode_path(req.key);
      SLUICE_TRY(p.pool, pool_for(*p.own_target));
    } else {
      if (!req.bucket.empty()) {
        p.path += req.bucket;
        if (!req.key.empty()) {
          p.path += '/';
          p.path += encode_path(req.key);
        }
      }
      p.pool = base_pool_;
    }
    const bool sign_payload = opts_.always_sign_payload || (!ep_.tls && !opts_.never_sign_payload);
    if (!sign_payload)
      p.payload_constant = unsigned_payload;
    else if (req.body.empty())
      p.payload_constant = empty_payload_sha256;
    else
      p.payload_hashed =
          sha256_hex(std::string_view(reinterpret_cast<const char*>(req.body.data()), req.body.size()));
    for (const auto& q : req.query) {
      p.query_string += p.query_string.empty() ? "?" : "&";
      p.query_string += encode_query_component(q.name);
      if (q.has_value) p.query_string += "=" + encode_query_component(q.value);
    }
    return p;
  }

  // One attempt's HTTP request, signed now (each attempt carries its own date).
  http::request attempt_request(const s3_request& req, const prepared_request& p) const {
    http::request hr;
    hr.method = req.method;
    hr.target = p.path + p.query_string;
    hr.body = req.body;
    hr.headers = req.headers;
    if (!opts_.config.creds.empty()) {
      signing_request sr;
      sr.method = req.method;
      sr.path = p.path;
      sr.query = req.query;
      sr.headers.reserve(req.headers.size() + 5);
      sr.headers.emplace_back("host", (p.own_target ? *p.own_target : ep_).host_header());
      for (const auto& h : req.headers) sr.headers.emplace_back(h.name, h.value);
      sr.payload_hash = p.payload_hash();
      const std::size_t unsigned_count = sr.headers.size();
      signing_scope scope{opts_.config.region, "s3", std::chrono::system_clock::now()};
      sign_request(sr, opts_.config.creds, scope);
      const std::size_t added = opts_.config.creds.session_token.empty() ? 3 : 4;
      if (sr.headers.size() == unsigned_count + added) {
        // The request's own headers are in hr already; the signer appended its own after them.
        hr.headers.reserve(hr.headers.size() + added);
        for (std::size_t i = unsigned_count; i < sr.headers.size(); ++i)
          hr.headers.push_back({std::move(sr.headers[i].first), std::move(sr.headers[i].second)});
      } else {  // the signer replaced a header the request carried (x-amz-date, ...): take its list
        hr.headers.clear();
        for (auto& [n, v] : sr.headers)
          if (n != "host") hr.headers.push_back({std::move(n), std::move(v)});
      }
    }
    return hr;
  }

  // A failed attempt's error (an error answer or a transport failure), with
  // the request named; `final` when retrying cannot help.
  static error attempt_error(result<http::response>& r, const std::string& what, bool& final) {
    final = false;
    if (r) return error_from(*r, what);
    error err = std::move(r.error());
    if (err.code == sluice::errc::cancelled) {
      final = true;
      return err;
    }
    err.message = what + ": " + err.message;
    final = err.code == sluice::errc::too_large;  // the caller's buffer: a retry changes nothing
    return err;
  }

  // Sends a request with signing and retries. Error answers become typed
  // errors; transport failures are retried when retryable.
  awaitable<result<http::response>> execute(const s3_request& req, http::body_sink& sink) {
    SLUICE_CO_TRY(prepared_request p, prepare(req));
    retry_state retries(opts_.retry);
    const auto started = std::chrono::steady_clock::now();
    for (int attempt = 1;; ++attempt) {
      http::request hr = attempt_request(req, p);  // a local: no temporary borrowed across the co_await
      result<http::response> r = co_await p.pool->send(hr, sink);
      if (r && r->status >= 200 && r->status < 300) co_return std::move(*r);
      bool final = false;
      error err = attempt_error(r, what_of(req), final);
      if (final) co_return err;
      auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      auto delay = retries.next_delay(err, attempt, elapsed);
      if (!delay) {
        if (is_retryable(err) && attempt > 1)
          err.message += " (after " + std::to_string(attempt) + " attempts)";
        co_return err;
      }
      asio::steady_timer timer(co_await asio::this_coro::executor, *delay);
      if (auto [ec] = co_await timer.async_wait(tok); ec)
        co_return fail(sluice::errc::cancelled, what_of(req) + ": cancelled while waiting to retry");
    }
  }

  static error error_from(const http::response& r, const std::string& what) {
    error e;
    e.http_status = r.status;
    e.request_id = std::string(r.header("x-amz-request-id"));
    std::string code_text, msg_text;
    if (!r.error_body.empty()) {
      if (auto body = parse_error(r.error_body)) {
        code_text = body->code;
        msg_text = body->message;
        if (!body->request_id.empty()) e.request_id = body->request_id;
      }
    }
    errc code = errc_from_code(code_text, r.status);
    e.code = make_error_code(code);
    e.message = what + ": ";
    if (!code_text.empty()) {
      e.message += code_text;
      if (!msg_text.empty()) e.message += " (" + msg_text + ")";
    } else {
      e.message += e.code.message();
    }
    // A redirect is not followed (the request is signed for this host): say where it points.
    if (r.status >= 300 && r.status < 400) {
      if (auto where = r.header("location"); !where.empty())
        e.message += "; the server redirects to " + std::string(where);
    }
    return e;
  }

  result<std::shared_ptr<http::client>> pool_for(const endpoint& ep) {
    std::lock_guard lk(mu_);
    auto& slot = pools_[ep.host_header()];
    if (!slot) {
      auto made = http::client::create(ex_, ep, opts_.http);
      if (!made) return made.error();
      slot = *made;
    }
    return slot;
  }

  // ---- objects ----------------------------------------------------------------

  static void add_conditions(std::vector<http::header_field>& h, const conditions& when) {
    auto form = [&](const std::string& etag) {
      return when.quote_etags ? quote_etag(etag) : unquote_etag(etag);
    };
    if (when.if_match) h.push_back({"if-match", form(*when.if_match)});
    if (when.if_none_match) h.push_back({"if-none-match", form(*when.if_none_match)});
  }

  awaitable<result<object_info>> head_object(std::string_view bucket, std::string_view key,
                                             const conditions& when) override {
    if (key.empty())
      co_return fail(sluice::errc::invalid_argument,
                     "HEAD " + object_url(bucket, key) + ": an object key is required");
    s3_request req{"HEAD", std::string(bucket), std::string(key), {}, {}, {}};
    add_conditions(req.headers, when);
    http::discard_sink sink;
    SLUICE_CO_TRY(http::response r, co_await execute(req, sink));
    co_return info_from(r);
  }

  awaitable<result<get_result>> get_object(std::string_view bucket, std::string_view key,
                                           std::optional<byte_range> range, http::body_sink& sink,
                                           const conditions& when) override {
    if (key.empty())
      co_return fail(sluice::errc::invalid_argument,
                     "GET " + object_url(bucket, key) + ": an object key is required");
    s3_request req{"GET", std::string(bucket), std::string(key), {}, {}, {}};
    if (range) {
      SLUICE_CO_TRY(std::string value, format_range(*range));
      req.headers.push_back({"range", std::move(value)});
    }
    add_conditions(req.headers, when);
    range_guard_sink guarded(sink);
    SLUICE_CO_TRY(http::response r, co_await execute(req, guarded));
    get_result out;
    out.info = info_from(r);
    out.bytes = r.body_bytes;
    if (r.status == 206) {
      auto cr_text = r.header("content-range");
      auto cr = parse_content_range(cr_text);
      if (!cr || !cr->first || !cr->total)
        co_return fail(sluice::errc::malformed_response,
                       "GET " + object_url(req.bucket, req.key) +
                           ": a partial answer without a usable Content-Range ('" + std::string(cr_text) +
                           "')");
      out.first = *cr->first;
      out.info.size = *cr->total;
    } else if (range && range->first > 0) {
      // A 200 to a ranged request: the server ignored the range.
      co_return fail(sluice::errc::malformed_response,
                     "GET " + object_url(req.bucket, req.key) + ": the server ignored the Range header");
    }
    co_return out;
  }

  awaitable<result<owned_object>> get_object_bytes(std::string_view bucket, std::string_view key,
                                                   uint64_t max_bytes) override {
    for (int attempt = 1;; ++attempt) {
      buffer_sink sink(max_bytes);
      SLUICE_CO_TRY(get_result got, co_await get_object(bucket, key, std::nullopt, sink, no_conditions));
      owned_object obj{std::move(got.info), sink.take()};
      auto v = verify(obj.info, obj.data.span(), bucket, key);
      if (v) co_return obj;
      if (attempt >= 2) co_return v.error();
    }
  }

  result<void> verify(const object_info& info, std::span<const std::byte> data, std::string_view bucket,
                      std::string_view key) const {
    if (!opts_.verify_integrity) return {};
    auto it = info.metadata.find(std::string(integrity::metadata_key));
    if (it == info.metadata.end()) return {};
    auto recorded = integrity::parse_recorded(it->second);
    if (!recorded)
      return fail(sluice::errc::integrity_mismatch, object_url(bucket, key) + ": the recorded hash '" +
                                                        it->second + "' is not one sluice can read");
    uint64_t actual = integrity::hash_content(data, recorded->part_size);
    if (actual != recorded->value)
      return fail(sluice::errc::integrity_mismatch,
                  object_url(bucket, key) + ": data integrity error: content hash " +
                      integrity::to_hex(actual) + " does not match the recorded XXH3 " +
                      integrity::to_hex(recorded->value));
    return {};
  }

  awaitable<result<owned_object>> get_object_range(std::string_view bucket, std::string_view key,
                                                   byte_range range) override {
    uint64_t len = 0;
    if (range.last) len = *range.last - range.first + 1;
    if (range.suffix) len = *range.suffix;
    buffer_sink sink(range.last || range.suffix ? len : uint64_t(1) << 32);
    SLUICE_CO_TRY(get_result got, co_await get_object(bucket, key, range, sink, no_conditions));
    owned_object obj{std::move(got.info), sink.take()};
    co_return obj;
  }

  std::vector<http::header_field> put_headers(const put_options& opts, std::optional<uint64_t> xxh3) {
    std::vector<http::header_field> h;
    h.push_back({"content-type", opts.content_type.empty() ? "application/octet-stream" : opts.content_type});
    for (const auto& [k, v] : opts.metadata) h.push_back({std::string(meta_prefix) + lower(k), v});
    if (xxh3 && !opts.metadata.contains(std::string(integrity::metadata_key)))
      h.push_back(
          {std::string(meta_prefix) + std::string(integrity::metadata_key), integrity::to_hex(*xxh3)});
    add_conditions(h, opts.when);
    return h;
  }

  awaitable<result<put_result>> put_object(std::string_view bucket, std::string_view key,
                                           std::span<const std::byte> body,
                                           const put_options& opts) override {
    if (key.empty())
      co_return fail(sluice::errc::invalid_argument,
                     "PUT " + object_url(bucket, key) + ": an object key is required");
    // The recorded hash: computed here unless the caller already supplies it.
    const auto given = opts.metadata.find(std::string(integrity::metadata_key));
    uint64_t hash = 0;
    if (given == opts.metadata.end())
      hash = integrity::xxh3(body);
    else if (auto rec = integrity::parse_recorded(given->second))
      hash = rec->value;
    s3_request req{"PUT",
                   std::string(bucket),
                   std::string(key),
                   {},
                   put_headers(opts, opts.record_xxh3 ? std::optional<uint64_t>(hash) : std::nullopt),
                   body};
    http::discard_sink sink;
    SLUICE_CO_TRY(http::response r, co_await execute(req, sink));
    co_return put_result{strip_quotes(r.header("etag")), std::string(r.header("x-amz-request-id")), hash};
  }

  awaitable<result<void>> delete_object(std::string_view bucket, std::string_view key) override {
    if (key.empty())
      co_return fail(sluice::errc::invalid_argument,
                     "DELETE " + object_url(bucket, key) + ": an object key is required");
    s3_request req{"DELETE", std::string(bucket), std::string(key), {}, {}, {}};
    http::discard_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return result<void>{};
  }

  awaitable<result<delete_result>> delete_objects(std::string_view bucket,
                                                  std::span<const std::string> keys) override {
    delete_result all;
    for (std::size_t off = 0; off < keys.size(); off += 1000) {
      std::vector<std::string> batch(
          keys.begin() + static_cast<std::ptrdiff_t>(off),
          keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), off + 1000)));
      for (const auto& k : batch) SLUICE_CO_TRY_VOID(validate_key(k));
      std::string body = build_delete_objects(batch, true);
      s3_request req{"POST", std::string(bucket), {}, {{"delete", "", false}}, {}, as_bytes(body)};
      req.headers.push_back({"content-type", "application/xml"});
      req.headers.push_back({"content-md5", base64_md5(as_bytes(body))});
      xml_sink sink;
      SLUICE_CO_TRY_VOID(co_await execute(req, sink));
      SLUICE_CO_TRY(delete_result part, named(req, parse_delete_objects(sink.text())));
      // Quiet mode lists only failures: everything else in the batch is gone.
      std::set<std::string> failed;
      for (auto& f : part.errors) failed.insert(f.key);
      for (auto& k : batch)
        if (!failed.contains(k)) all.deleted.push_back(k);
      for (auto& f : part.errors) all.errors.push_back(std::move(f));
    }
    co_return all;
  }

  awaitable<result<list_page>> list_objects_v2(std::string_view bucket, const list_request& lr) override {
    if (lr.max_keys < 1 || lr.max_keys > 1000)
      co_return fail(sluice::errc::invalid_argument, "max-keys must be between 1 and 1000");
    s3_request req{"GET", std::string(bucket), {}, {{"list-type", "2"}, {"encoding-type", "url"}}, {}, {}};
    if (!lr.prefix.empty()) req.query.push_back({"prefix", lr.prefix});
    if (!lr.delimiter.empty()) req.query.push_back({"delimiter", lr.delimiter});
    if (!lr.continuation_token.empty()) req.query.push_back({"continuation-token", lr.continuation_token});
    if (!lr.start_after.empty()) req.query.push_back({"start-after", lr.start_after});
    req.query.push_back({"max-keys", std::to_string(lr.max_keys)});
    xml_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return named(req, parse_list_objects_v2(sink.text(), true));
  }

  awaitable<result<list_page>> list_all(std::string_view bucket, std::string_view prefix,
                                        std::string_view delimiter) override {
    list_page all;
    list_request lr{std::string(prefix), std::string(delimiter), {}, {}, 1000};
    for (int pages = 0;; ++pages) {
      SLUICE_CO_TRY(list_page page, co_await list_objects_v2(bucket, lr));
      for (auto& o : page.objects) all.objects.push_back(std::move(o));
      for (auto& p : page.common_prefixes) all.common_prefixes.push_back(std::move(p));
      if (!page.truncated) break;
      if (page.next_continuation_token.empty() || page.next_continuation_token == lr.continuation_token)
        co_return fail(sluice::errc::malformed_response,
                       "LIST " + object_url(bucket, lr.prefix) +
                           ": a truncated listing without a new continuation token");
      lr.continuation_token = std::move(page.next_continuation_token);
    }
    all.key_count = all.objects.size();
    co_return all;
  }

  awaitable<result<std::string>> copy_object(std::string_view src_bucket, std::string_view src_key,
                                             std::string_view dst_bucket, std::string_view dst_key,
                                             metadata_directive directive,
                                             const put_options& replacement) override {
    SLUICE_CO_TRY_VOID(validate_bucket_name(src_bucket));
    SLUICE_CO_TRY_VOID(validate_key(src_key));
    s3_request req{"PUT", std::string(dst_bucket), std::string(dst_key), {}, {}, {}};
    if (directive == metadata_directive::replace) {
      put_options opts = replacement;
      const std::string hash_key(integrity::metadata_key);
      if (!opts.metadata.contains(hash_key)) {
        // New metadata must not drop the recorded hash: carry the source's,
        // and make the copy conditional on the source being the one we read.
        SLUICE_CO_TRY(object_info src, co_await head_object(src_bucket, src_key, no_conditions));
        if (auto it = src.metadata.find(hash_key); it != src.metadata.end()) {
          opts.metadata[hash_key] = it->second;
          req.headers.push_back({"x-amz-copy-source-if-match", quote_etag(src.etag)});
        }
      }
      auto headers = put_headers(opts, std::nullopt);
      req.headers.insert(req.headers.end(), headers.begin(), headers.end());
      req.headers.push_back({"x-amz-metadata-directive", "REPLACE"});
    }
    req.headers.push_back({"x-amz-copy-source", "/" + std::string(src_bucket) + "/" + encode_path(src_key)});
    xml_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    auto etag = parse_copy_object(sink.text());
    if (!etag) {
      auto e = etag.error();
      e.message = "COPY " + object_url(src_bucket, src_key) + " -> " + object_url(req.bucket, req.key) +
                  ": " + e.message;
      co_return e;
    }
    co_return strip_quotes(*etag);
  }

  // ---- multipart ---------------------------------------------------------------

  awaitable<result<std::string>> create_multipart_upload(std::string_view bucket, std::string_view key,
                                                         const put_options& opts) override {
    s3_request req{"POST",
                   std::string(bucket),
                   std::string(key),
                   {{"uploads", "", false}},
                   put_headers(opts, std::nullopt),
                   {}};
    xml_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return named(req, parse_initiate_multipart(sink.text()));
  }

  awaitable<result<std::string>> upload_part(std::string_view bucket, std::string_view key,
                                             std::string_view upload_id, int part_number,
                                             std::span<const std::byte> body) override {
    if (part_number < 1 || part_number > 10000)
      co_return fail(sluice::errc::invalid_argument,
                     "part numbers run from 1 to 10000, not " + std::to_string(part_number));
    s3_request req{"PUT",
                   std::string(bucket),
                   std::string(key),
                   {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}},
                   {},
                   body};
    http::discard_sink sink;
    SLUICE_CO_TRY(http::response r, co_await execute(req, sink));
    auto etag = r.header("etag");
    if (etag.empty()) co_return fail(sluice::errc::malformed_response, "UploadPart answered without an ETag");
    co_return quote_etag(etag);
  }

  awaitable<result<std::string>> complete_multipart_upload(std::string_view bucket, std::string_view key,
                                                           std::string_view upload_id,
                                                           std::span<const completed_part> parts) override {
    std::string body = build_complete_multipart(std::vector<completed_part>(parts.begin(), parts.end()));
    s3_request req{"POST", std::string(bucket), std::string(key), {{"uploadId", std::string(upload_id)}},
                   {},     as_bytes(body)};
    req.headers.push_back({"content-type", "application/xml"});
    xml_sink sink;
    auto sent = co_await execute(req, sink);
    result<std::string> etag =
        sent ? parse_complete_multipart(sink.text()) : result<std::string>(sent.error());
    if (!etag) {
      // A Complete retried after its answer was lost finds the upload gone (S3: NoSuchUpload).
      // The object then carries the ETag these very parts make.
      if (etag.error().code == errc::no_such_upload || is_retryable(etag.error())) {
        if (auto done = co_await etag_if_completed(bucket, key, parts)) co_return *done;
      }
      auto e = etag.error();
      if (sent) e.message = "COMPLETE " + object_url(req.bucket, req.key) + ": " + e.message;
      co_return e;
    }
    if (etag->empty()) {
      // Some servers (radosgw) leave the ETag out of the answer; the object has one.
      SLUICE_CO_TRY(object_info info, co_await head_object(bucket, key, no_conditions));
      co_return info.etag;
    }
    co_return strip_quotes(*etag);
  }

  // The object's ETag when it is the one `parts` complete into, else nullopt. (Not s3rver's: it
  // gives a completed upload the MD5 of its whole content.)
  awaitable<std::optional<std::string>> etag_if_completed(std::string_view bucket, std::string_view key,
                                                          std::span<const completed_part> parts) {
    const auto expected = multipart_etag(parts);
    if (!expected) co_return std::nullopt;
    auto info = co_await head_object(bucket, key, no_conditions);
    if (!info) co_return std::nullopt;
    std::string got = strip_quotes(info->etag);
    if (lower(got) != *expected) co_return std::nullopt;
    co_return got;
  }

  awaitable<result<void>> abort_multipart_upload(std::string_view bucket, std::string_view key,
                                                 std::string_view upload_id) override {
    s3_request req{
        "DELETE", std::string(bucket), std::string(key), {{"uploadId", std::string(upload_id)}}, {}, {}};
    http::discard_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return result<void>{};
  }

  awaitable<result<multipart_uploads_page>> list_multipart_uploads(
      std::string_view bucket, const multipart_list_request& lr) override {
    if (lr.max_uploads < 1 || lr.max_uploads > 1000)
      co_return fail(sluice::errc::invalid_argument, "max-uploads must be between 1 and 1000");
    s3_request req{"GET", std::string(bucket), {}, {{"uploads", "", false}, {"encoding-type", "url"}}, {},
                   {}};
    if (!lr.prefix.empty()) req.query.push_back({"prefix", lr.prefix});
    if (!lr.key_marker.empty()) req.query.push_back({"key-marker", lr.key_marker});
    if (!lr.upload_id_marker.empty()) req.query.push_back({"upload-id-marker", lr.upload_id_marker});
    req.query.push_back({"max-uploads", std::to_string(lr.max_uploads)});
    xml_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return named(req, parse_list_multipart_uploads(sink.text(), true));
  }

  awaitable<result<std::vector<uploaded_part>>> list_parts(std::string_view bucket, std::string_view key,
                                                           std::string_view upload_id) override {
    std::vector<uploaded_part> all;
    int marker = 0;
    for (;;) {
      s3_request req{"GET", std::string(bucket), std::string(key), {{"uploadId", std::string(upload_id)}}, {},
                     {}};
      req.query.push_back({"max-parts", "1000"});
      if (marker > 0) req.query.push_back({"part-number-marker", std::to_string(marker)});
      xml_sink sink;
      SLUICE_CO_TRY_VOID(co_await execute(req, sink));
      SLUICE_CO_TRY(parts_page page, named(req, parse_list_parts(sink.text())));
      for (auto& p : page.parts) all.push_back(std::move(p));
      if (!page.truncated) break;
      if (page.next_part_number_marker <= marker)
        co_return fail(
            sluice::errc::malformed_response,
            "LIST PARTS " + object_url(bucket, key) + ": a truncated listing whose marker does not advance");
      marker = page.next_part_number_marker;
    }
    co_return all;
  }

  // ---- buckets -------------------------------------------------------------------

  awaitable<result<void>> create_bucket(std::string_view bucket) override {
    std::string body;
    if (opts_.config.region != "us-east-1" && !opts_.config.region.empty())
      body =
          "<CreateBucketConfiguration "
          "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
          xml_escape(opts_.config.region) + "</LocationConstraint></CreateBucketConfiguration>";
    s3_request req{"PUT", std::string(bucket), {}, {}, {}, as_bytes(body)};
    http::discard_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return result<void>{};
  }

  awaitable<result<void>> head_bucket(std::string_view bucket) override {
    s3_request req{"HEAD", std::string(bucket), {}, {}, {}, {}};
    http::discard_sink sink;
    auto r = co_await execute(req, sink);
    if (!r) {
      auto e = r.error();
      // HEAD answers carry no body: a 404 on a bucket means the bucket.
      if (e.code == errc::no_such_key) {
        e.code = make_error_code(errc::no_such_bucket);
        e.message = "HEAD " + object_url(req.bucket, "") + ": NoSuchBucket";
      }
      co_return e;
    }
    co_return result<void>{};
  }

  awaitable<result<void>> delete_bucket(std::string_view bucket) override {
    s3_request req{"DELETE", std::string(bucket), {}, {}, {}, {}};
    http::discard_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return result<void>{};
  }

  awaitable<result<std::vector<bucket_entry>>> list_buckets() override {
    s3_request req{"GET", {}, {}, {}, {}, {}};
    xml_sink sink;
    SLUICE_CO_TRY_VOID(co_await execute(req, sink));
    co_return named(req, parse_list_buckets(sink.text()));
  }

  result<std::string> presign_get(std::string_view bucket, std::string_view key,
                                  std::chrono::seconds expires) override {
    SLUICE_TRY_VOID(validate_bucket_name(bucket));
    SLUICE_TRY_VOID(validate_key(key));
    if (opts_.config.creds.empty()) return fail(sluice::errc::invalid_config, "presigning needs credentials");
    if (expires.count() < 1 || expires.count() > 604800)
      return fail(sluice::errc::invalid_argument, "a presigned URL lasts 1 second to 7 days");
    endpoint ep = ep_;
    std::string path = "/";
    if (!opts_.config.path_style) {
      ep.host = std::string(bucket) + "." + ep_.host;
      path += encode_path(key);
    } else {
      path += std::string(bucket) + "/" + encode_path(key);
    }
    signing_request sr{"GET", path, {}, {{"host", ep.host_header()}}, std::string(unsigned_payload)};
    signing_scope scope{opts_.config.region, "s3", std::chrono::system_clock::now()};
    std::string query = presign(sr, opts_.config.creds, scope, expires);
    return ep.to_string() + path + "?" + query;
  }

  http::client_stats http_stats() const override {
    std::lock_guard lk(mu_);
    http::client_stats sum;
    for (const auto& [host, pool] : pools_) sum += pool->stats();
    return sum;
  }

 private:
  asio::any_io_executor ex_;
  client_options opts_;
  endpoint ep_;
  // Guarded by mu_: one connection pool per Host (one for path-style
  // addressing, one per bucket for virtual-hosted).
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<http::client>> pools_;
  std::shared_ptr<http::client> base_pool_;  // pools_'s entry for ep_ (path-style requests), set by init()
};

}  // namespace

std::optional<uint64_t> object_info::recorded_xxh3() const {
  auto it = metadata.find(std::string(integrity::metadata_key));
  if (it == metadata.end()) return std::nullopt;
  auto h = integrity::parse_recorded(it->second);
  if (!h) return std::nullopt;
  return h->value;
}

result<std::shared_ptr<client>> client::create(asio::any_io_executor ex, client_options opts) {
  std::string url = opts.config.endpoint_url;
  if (url.empty())
    url = "https://s3." + (opts.config.region.empty() ? std::string("us-east-1") : opts.config.region) +
          ".amazonaws.com";
  SLUICE_TRY(endpoint ep, parse_endpoint(url));
  auto c = std::make_shared<s3_client>(std::move(ex), std::move(opts), std::move(ep));
  SLUICE_TRY_VOID(c->init());
  return std::shared_ptr<client>(std::move(c));
}

}  // namespace sluice::s3
