// The S3 driver (see s3.hpp): the store interface over the transfer scheduler
// and the engine's S3 clients.
#include <sluice/store/s3.hpp>

#include "store/local_files.hpp"

#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/runtime/run_on.hpp>
#include <sluice/engine/s3/error.hpp>

#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <unordered_set>

namespace sluice::store {

namespace {

namespace asio = boost::asio;
using asio::awaitable;

// The continuation of a truncated listing. A server that sends no token, or
// one it sent before, would have the listing end early or loop forever:
// both are errors.
struct listing_tokens {
  std::string bucket, prefix;
  std::unordered_set<std::string> seen;
  result<void> next(s3::list_page& page, s3::list_request& req) {
    if (page.next_continuation_token.empty() || !seen.insert(page.next_continuation_token).second)
      return fail(errc::malformed_response,
                  "LIST " + s3::object_url(bucket, prefix) + ": a truncated listing " +
                      (page.next_continuation_token.empty() ? "without a continuation token"
                                                            : "repeated an earlier continuation token"));
    req.continuation_token = std::move(page.next_continuation_token);
    return {};
  }
};

std::string unquoted(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

bool is(const error& e, s3::errc code) {
  return e.code == make_error_code(code);
}

// Runs body(client) on context i of the scheduler's engine, with that
// context's client, and completes on the caller's executor. The caller's
// cancellation ends it with errc::cancelled (`what` names it), not an exception.
template <class T, class Body>
awaitable<T> on_context(transfer::scheduler& sched, unsigned i, Body& body, std::string_view what) {
  try {
    co_return co_await run_on(sched.owner().context(i).get_executor(), body(sched.client(i)));
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) throw;
  }
  co_return fail(errc::cancelled, std::string(what) + ": cancelled");
}

// What the conditional-write probe learned (or what the options assume).
struct condition_support {
  bool create = false;
  bool replace = false;
  bool quote_etags = true;  // how If-Match goes on a PUT
};

class s3_store final : public store {
 public:
  s3_store(std::shared_ptr<transfer::scheduler> sched, std::string bucket, std::string prefix,
           conditional_writes mode)
      : sched_(std::move(sched)), bucket_(std::move(bucket)), prefix_(std::move(prefix)), mode_(mode) {
    if (mode_ == conditional_writes::assume_supported) support_ = {true, true, true};
    if (mode_ != conditional_writes::probe) probed_ = true;
  }

  awaitable<result<read_result>> read(std::string_view key, const read_options& opts) override {
    SLUICE_CO_TRY(std::string full, full_key(key));
    read_result out;
    std::optional<s3::byte_range> range;
    if (opts.range.suffix) {
      if (!opts.range.length || *opts.range.length == 0)
        co_return fail(errc::invalid_argument, describe(key) + ": a suffix range needs at least one byte");
      range = s3::byte_range::last_bytes(*opts.range.length);
    } else if (opts.range.length && *opts.range.length == 0) {
      // S3 has no empty range: check the offset against the size instead.
      SLUICE_CO_TRY(std::optional<read_result> st, co_await stat(key));
      if (!st) co_return out;
      SLUICE_CO_TRY_VOID(check_conditions(key, st->gen, opts));
      SLUICE_CO_TRY(resolved_range rr, resolve(opts.range, st->size));
      (void)rr;
      out = std::move(*st);
      co_return out;
    } else if (!opts.range.whole()) {
      range = opts.range.length
                  ? s3::byte_range::between(opts.range.offset, opts.range.offset + *opts.range.length - 1)
                  : s3::byte_range::from(opts.range.offset);
    }
    s3::conditions when;
    if (opts.if_equal) when.if_match = opts.if_equal->tag;
    if (opts.if_not_equal) when.if_none_match = opts.if_not_equal->tag;
    auto got = co_await sched_->read(bucket_, full, range, when);
    if (!got) {
      const error& e = got.error();
      if (is(e, s3::errc::no_such_key)) {
        if (opts.if_equal)
          co_return fail(errc::precondition_failed,
                         describe(key) + ": no value to match the generation given");
        co_return out;
      }
      if (is(e, s3::errc::not_modified)) {
        out.state = read_state::unchanged;
        out.gen = *opts.if_not_equal;
        co_return out;
      }
      if (is(e, s3::errc::invalid_range)) co_return co_await past_the_end(key, opts);
      co_return e;
    }
    out.gen = generation{unquoted(got->info.etag)};
    // Servers that ignore a condition on GET (s3rver ignores If-Match) are caught here.
    SLUICE_CO_TRY_VOID(check_conditions(key, out.gen, opts));
    fill(out, got->info);
    if (opts.if_not_equal && out.gen == *opts.if_not_equal) {
      out.state = read_state::unchanged;
      co_return out;
    }
    out.state = read_state::value;
    out.verified = got->verified;
    if (got->data.size() > 0) out.bytes = got->data.share(0, got->data.size());
    co_return out;
  }

  // Through the scheduler's read_ranges: nearby ranges merged into one GET
  // (coalesce_gap), the spans fetched concurrently, every GET after the first
  // with If-Match on the first's ETag.
  awaitable<result<ranges_result>> read_ranges(std::string_view key, std::span<const byte_range> ranges,
                                               const read_options& opts) override {
    std::vector<s3::byte_range> asked;
    asked.reserve(ranges.size());
    for (const byte_range& r : ranges) {
      // S3 has no empty range: the generic path checks those against the size.
      if (r.length && *r.length == 0) co_return co_await store::read_ranges(key, ranges, opts);
      if (r.suffix)
        asked.push_back(s3::byte_range::last_bytes(*r.length));
      else if (r.length)
        asked.push_back(s3::byte_range::between(r.offset, r.offset + *r.length - 1));
      else
        asked.push_back(s3::byte_range::from(r.offset));
    }
    if (!opts.range.whole() || opts.if_not_equal || ranges.empty())
      co_return co_await store::read_ranges(key, ranges, opts);  // its errors
    SLUICE_CO_TRY(std::string full, full_key(key));
    s3::conditions when;
    if (opts.if_equal) when.if_match = opts.if_equal->tag;
    ranges_result out;
    auto got = co_await sched_->read_ranges(bucket_, full, asked, when);
    if (!got) {
      const error& e = got.error();
      if (is(e, s3::errc::no_such_key)) {
        if (opts.if_equal)
          co_return fail(errc::precondition_failed,
                         describe(key) + ": no value to match the generation given");
        co_return out;
      }
      if (is(e, s3::errc::invalid_range)) co_return co_await past_the_end(key, opts);
      co_return e;
    }
    out.gen = generation{unquoted(got->info.etag)};
    SLUICE_CO_TRY_VOID(check_conditions(key, out.gen, opts));
    out.state = read_state::value;
    out.size = got->info.size;
    out.requests = got->requests;
    out.ranges = std::move(got->ranges);
    co_return out;
  }

  engine* compute_engine() const noexcept override { return &sched_->owner(); }
  std::uint64_t read_ranges_gap() const noexcept override { return sched_->opts().coalesce_gap; }

  awaitable<result<generation>> write(std::string_view key, std::span<const std::byte> bytes,
                                      const write_options& opts) override {
    SLUICE_CO_TRY(std::string full, full_key(key));
    SLUICE_CO_TRY(s3::put_options put, co_await put_options_for(key, opts));
    auto r = co_await sched_->put(bucket_, full, bytes, put);
    if (!r) co_return written_error(key, r.error());
    if (!r->etag.empty()) co_return generation{unquoted(r->etag)};
    co_return co_await etag_of(key);
  }

  awaitable<result<void>> remove(std::string_view key, const remove_options& opts) override {
    SLUICE_CO_TRY(std::string full, full_key(key));
    if (opts.if_equal)
      co_return fail(errc::unsupported, describe(key) +
                                            ": not removed: S3 servers do not honour conditions on DELETE "
                                            "(the tested ones delete anyway)");
    auto body = [&](s3::client& c) -> awaitable<result<void>> {
      co_return co_await c.delete_object(bucket_, full);
    };
    co_return co_await on_engine<result<void>>(body);
  }

  awaitable<result<remove_stats>> remove_prefix(std::string_view prefix) override {
    const std::string full = prefix_ + std::string(prefix);
    remove_stats st;
    auto body = [&](s3::client& c) -> awaitable<result<void>> {
      // Page by page: list, keep what `covers` allows, delete that page.
      s3::list_request req;
      req.prefix = full;
      listing_tokens tokens{bucket_, full};
      for (;;) {
        SLUICE_CO_TRY(s3::list_page page, co_await c.list_objects_v2(bucket_, req));
        std::vector<std::string> keys;
        for (auto& o : page.objects)
          if (covers(full, o.key)) keys.push_back(std::move(o.key));
        if (!keys.empty()) {
          SLUICE_CO_TRY(s3::delete_result d, co_await c.delete_objects(bucket_, keys));
          st.removed += d.deleted.size();
          for (auto& f : d.errors)
            st.failures.push_back({strip(f.key), fail(errc::io_error, describe(strip(f.key)) + ": " + f.code +
                                                                          " " + f.message)});
        }
        if (!page.truncated) co_return result<void>{};
        SLUICE_CO_TRY_VOID(tokens.next(page, req));
      }
    };
    SLUICE_CO_TRY_VOID(co_await on_engine<result<void>>(body));
    co_return st;
  }

  awaitable<result<void>> list(std::string_view prefix, const list_options& opts,
                               const list_callback& on_page) override {
    s3::list_request req;
    req.prefix = prefix_ + std::string(prefix);
    req.delimiter = opts.delimiter;
    if (!opts.start_after.empty()) req.start_after = prefix_ + opts.start_after;
    auto body = [&](s3::client& c) -> awaitable<result<void>> {
      listing_tokens tokens{bucket_, req.prefix};
      for (;;) {
        SLUICE_CO_TRY(s3::list_page page, co_await c.list_objects_v2(bucket_, req));
        list_page out;
        out.entries.reserve(page.objects.size());
        for (auto& o : page.objects)
          out.entries.push_back(
              {strip(o.key), o.size, generation{unquoted(o.etag)}, std::move(o.last_modified)});
        for (auto& p : page.common_prefixes) out.prefixes.push_back(strip(p));
        if (!out.entries.empty() || !out.prefixes.empty()) {
          SLUICE_CO_TRY(bool more, on_page(out));
          if (!more) co_return result<void>{};
        }
        if (!page.truncated) co_return result<void>{};
        SLUICE_CO_TRY_VOID(tokens.next(page, req));
        req.start_after.clear();
      }
    };
    co_return co_await on_engine<result<void>>(body);
  }

  awaitable<result<generation>> copy(std::string_view from, std::string_view to) override {
    SLUICE_CO_TRY(std::string src, full_key(from));
    SLUICE_CO_TRY(std::string dst, full_key(to));
    auto body = [&](s3::client& c) -> awaitable<result<std::string>> {
      co_return co_await c.copy_object(bucket_, src, bucket_, dst);
    };
    auto r = co_await on_engine<result<std::string>>(body);
    if (!r && is(r.error(), s3::errc::no_such_key))
      co_return fail(errc::not_found, describe(from) + ": no such key");
    if (!r) co_return r.error();
    if (!r->empty()) co_return generation{unquoted(*r)};
    co_return co_await etag_of(to);
  }

  awaitable<result<generation>> copy_from(store& src, std::string_view src_key, std::string_view key,
                                          const write_options& opts) override {
    auto* other = dynamic_cast<s3_store*>(&src);
    if (!other || other->sched_ != sched_) co_return co_await store::copy_from(src, src_key, key, opts);
    SLUICE_CO_TRY(std::string from, other->full_key(src_key));
    SLUICE_CO_TRY(std::string to, full_key(key));
    if (opts.if_equal || opts.must_not_exist)
      co_return fail(errc::unsupported, describe(key) +
                                            ": not copied: S3 servers do not honour conditions on the "
                                            "destination of a CopyObject");
    // New content type or metadata: REPLACE (the client keeps the source's recorded XXH3).
    const bool replace = !opts.content_type.empty() || !opts.metadata.empty();
    SLUICE_CO_TRY(s3::put_options put, co_await put_options_for(key, opts));
    const auto directive = replace ? s3::metadata_directive::replace : s3::metadata_directive::copy;
    auto body = [&](s3::client& c) -> awaitable<result<std::string>> {
      co_return co_await c.copy_object(other->bucket_, from, bucket_, to, directive, put);
    };
    auto r = co_await on_engine<result<std::string>>(body);
    if (!r && is(r.error(), s3::errc::no_such_key))
      co_return fail(errc::not_found, src.describe(src_key) + ": no such key");
    if (!r) co_return r.error();
    if (!r->empty()) co_return generation{unquoted(*r)};
    co_return co_await etag_of(key);
  }

  awaitable<result<std::optional<read_result>>> stat(std::string_view key) override {
    SLUICE_CO_TRY(std::string full, full_key(key));
    auto body = [&](s3::client& c) -> awaitable<result<s3::object_info>> {
      co_return co_await c.head_object(bucket_, full, s3::no_conditions);
    };
    auto info = co_await on_engine<result<s3::object_info>>(body);
    if (!info && is(info.error(), s3::errc::no_such_key)) co_return std::optional<read_result>{};
    if (!info) co_return info.error();
    read_result r;
    r.state = read_state::value;
    r.gen = generation{unquoted(info->etag)};
    fill(r, *info);
    co_return std::optional<read_result>(std::move(r));
  }

  awaitable<result<generation>> write_file(std::string_view key, std::string_view path,
                                           const write_options& opts) override {
    // A condition needs one PUT of the whole value: through memory.
    if (opts.if_equal || opts.must_not_exist) co_return co_await store::write_file(key, path, opts);
    SLUICE_CO_TRY(std::string full, full_key(key));
    SLUICE_CO_TRY(s3::put_options put, co_await put_options_for(key, opts));
    auto r = co_await sched_->upload(path, bucket_, full, put);
    if (!r) co_return written_error(key, r.error());
    if (!r->etag.empty()) co_return generation{unquoted(r->etag)};
    co_return co_await etag_of(key);  // a server that sent no ETag
  }

  awaitable<result<generation>> write_stream(std::string_view key, const stream_source& source,
                                             const write_options& opts) override {
    if (opts.if_equal || opts.must_not_exist)
      co_return fail(errc::unsupported, describe(key) + ": a conditional write cannot come from a stream");
    SLUICE_CO_TRY(std::string full, full_key(key));
    SLUICE_CO_TRY(s3::put_options put, co_await put_options_for(key, opts));
    auto r = co_await sched_->upload_stream(bucket_, full, source, put);
    if (!r) co_return written_error(key, r.error());
    if (!r->etag.empty()) co_return generation{unquoted(r->etag)};
    co_return co_await etag_of(key);
  }

  awaitable<result<read_result>> read_to_file(std::string_view key, std::string_view path) override {
    SLUICE_CO_TRY(std::string full, full_key(key));
    read_result out;
    auto r = co_await sched_->download(bucket_, full, path);
    if (!r && is(r.error(), s3::errc::no_such_key)) co_return out;
    if (!r) co_return r.error();
    out.state = read_state::value;
    out.size = r->bytes;
    out.verified = r->verified;
    out.gen = generation{unquoted(r->etag)};
    co_return out;
  }

  feature_set features() const override {
    feature_set f;
    std::lock_guard lk(mu_);
    f.conditional_create = support_.create;
    f.conditional_replace = support_.replace;
    f.conditional_remove = false;
    f.atomic_move = false;
    f.server_side_copy = true;
    f.user_metadata = true;
    return f;
  }

  std::string describe(std::string_view key) const override {
    return s3::object_url(bucket_, prefix_ + std::string(key));
  }

  awaitable<result<feature_set>> probe_features() override { co_return co_await ensure_probed(); }

  // The probe (see s3.hpp): once per store; concurrent first callers may both probe.
  awaitable<result<feature_set>> ensure_probed() {
    if (probed_.load(std::memory_order_acquire)) co_return features();
    auto body = [&](s3::client& c) -> awaitable<result<condition_support>> {
      co_return co_await run_probe(c);
    };
    SLUICE_CO_TRY(condition_support found, co_await on_engine<result<condition_support>>(body));
    {
      std::lock_guard lk(mu_);
      support_ = found;
    }
    probed_.store(true, std::memory_order_release);
    co_return features();
  }

 private:
  result<std::string> full_key(std::string_view key) const {
    SLUICE_TRY_VOID(validate_key(key));
    std::string full = prefix_ + std::string(key);
    if (full.size() > 1024)
      return fail(errc::invalid_argument,
                  describe(key) + ": with the prefix the key exceeds S3's 1024 bytes");
    return full;
  }

  std::string strip(std::string_view full) const {
    return std::string(full.starts_with(prefix_) ? full.substr(prefix_.size()) : full);
  }

  static void fill(read_result& r, const s3::object_info& info) {
    r.size = info.size;
    r.content_type = info.content_type;
    r.last_modified = info.last_modified;
    r.metadata = info.metadata;
    if (auto it = r.metadata.find(std::string(integrity::metadata_key)); it != r.metadata.end()) {
      r.recorded_xxh3 = it->second;
      r.metadata.erase(it);  // sluice's own, not the user's
    }
  }

  // A 416 answer. A server that ignores If-Match (s3rver) answers for the
  // current value: past its end may mean the generation asked for is gone.
  awaitable<error> past_the_end(std::string_view key, const read_options& opts) {
    if (opts.if_equal) {
      auto now = co_await stat(key);
      if (!now) co_return now.error();
      if (!*now || (*now)->gen != *opts.if_equal)
        co_return error(errc::precondition_failed, describe(key) + ": its generation is not the one given");
    }
    co_return error(errc::invalid_argument, describe(key) + ": a range starts past the end of the value");
  }

  result<void> check_conditions(std::string_view key, const generation& current,
                                const read_options& opts) const {
    if (opts.if_equal && current != *opts.if_equal)
      return fail(errc::precondition_failed, describe(key) + ": its generation is not the one given");
    return {};
  }

  // Runs body(client) on an engine context; completes on the caller's executor.
  template <class T, class Body>
  awaitable<T> on_engine(Body& body) {
    const unsigned i = next_.fetch_add(1, std::memory_order_relaxed) % sched_->contexts();
    const std::string what = "s3://" + bucket_ + "/" + prefix_;
    co_return co_await on_context<T>(*sched_, i, body, what);
  }

  awaitable<result<generation>> etag_of(std::string_view key) {
    SLUICE_CO_TRY(std::optional<read_result> st, co_await stat(key));
    if (!st)
      co_return fail(errc::not_found, describe(key) + ": written, but gone before its ETag could be read");
    co_return st->gen;
  }

  error written_error(std::string_view key, const error& e) const {
    if (is(e, s3::errc::precondition_failed)) {
      error out(errc::precondition_failed, describe(key) + ": not written: the condition does not hold");
      out.request_id = e.request_id;
      out.http_status = e.http_status;
      return out;
    }
    return e;
  }

  awaitable<result<s3::put_options>> put_options_for(std::string_view key, const write_options& opts) {
    s3::put_options put;
    put.content_type = opts.content_type;
    for (const auto& [k, v] : opts.metadata) {
      if (k == integrity::metadata_key)
        co_return fail(errc::invalid_argument,
                       describe(key) + ": the metadata name '" + k + "' is sluice's own");
      put.metadata[k] = v;
    }
    if (!opts.must_not_exist && !opts.if_equal) co_return put;
    SLUICE_CO_TRY(feature_set f, co_await ensure_probed());
    if (opts.must_not_exist && !f.conditional_create)
      co_return fail(errc::unsupported, describe(key) +
                                            ": not written: this server ignores If-None-Match on PUT, so "
                                            "a create-only write cannot be honoured");
    if (opts.if_equal && !f.conditional_replace)
      co_return fail(errc::unsupported, describe(key) +
                                            ": not written: this server ignores If-Match on PUT, so a "
                                            "conditional replace cannot be honoured");
    if (opts.must_not_exist) put.when.if_none_match = "*";
    if (opts.if_equal) put.when.if_match = opts.if_equal->tag;
    std::lock_guard lk(mu_);
    put.when.quote_etags = support_.quote_etags;
    co_return put;
  }

  awaitable<result<condition_support>> run_probe(s3::client& c) {
    condition_support found;
    std::random_device rd;
    const std::string key = prefix_ + ".sluice-probe-" + std::to_string(rd()) + std::to_string(rd());
    std::vector<std::byte> body(5, std::byte{'p'});
    s3::put_options create;
    create.record_xxh3 = false;
    create.when.if_none_match = "*";
    SLUICE_CO_TRY(s3::put_result first, co_await c.put_object(bucket_, key, body, create));
    auto second = co_await c.put_object(bucket_, key, body, create);
    std::string etag = first.etag;
    result<void> outcome;
    if (second) {
      found.create = false;
      etag = second->etag;
    } else if (is(second.error(), s3::errc::precondition_failed)) {
      found.create = true;
    } else {
      outcome = second.error();
    }
    // If-Match on PUT: the right ETag must pass and a wrong one must not, in
    // one of the two spellings.
    for (bool quote : {true, false}) {
      if (!outcome) break;
      s3::put_options right;
      right.record_xxh3 = false;
      right.when.if_match = etag;
      right.when.quote_etags = quote;
      auto ok = co_await c.put_object(bucket_, key, body, right);
      if (!ok) {
        if (!is(ok.error(), s3::errc::precondition_failed)) outcome = ok.error();
        continue;  // this spelling does not match the server's ETag
      }
      etag = ok->etag;
      s3::put_options wrong = right;
      wrong.when.if_match = "0123456789abcdef0123456789abcdef";
      auto refused = co_await c.put_object(bucket_, key, body, wrong);
      if (refused) break;  // ignored: not honoured in any spelling
      if (!is(refused.error(), s3::errc::precondition_failed)) {
        outcome = refused.error();
        break;
      }
      found.replace = true;
      found.quote_etags = quote;
      break;
    }
    (void)co_await c.delete_object(bucket_, key);
    if (!outcome)
      co_return error(
          outcome.error().code,
          describe(".sluice-probe") + ": probing conditional writes failed: " + outcome.error().message);
    co_return found;
  }

  std::shared_ptr<transfer::scheduler> sched_;
  std::string bucket_;
  std::string prefix_;  // "" or ending in '/'
  conditional_writes mode_;
  std::atomic<unsigned> next_{0};
  std::atomic<bool> probed_{false};
  mutable std::mutex mu_;  // guards support_
  condition_support support_;
};

}  // namespace

result<std::shared_ptr<store>> open_s3_store(std::shared_ptr<transfer::scheduler> sched,
                                             const s3_options& opts) {
  if (!sched) return fail(errc::invalid_argument, "an S3 store needs a transfer scheduler");
  SLUICE_TRY_VOID(s3::validate_bucket_name(opts.bucket));
  std::string prefix = opts.prefix;
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  if (!prefix.empty()) SLUICE_TRY_VOID(validate_key(prefix));
  return std::shared_ptr<store>(
      std::make_shared<s3_store>(std::move(sched), opts.bucket, std::move(prefix), opts.conditions));
}

awaitable<result<feature_set>> probe(store& s) {
  co_return co_await s.probe_features();
}

namespace {

// A bucket name S3 accepts, or invalid_argument saying what `operation` was refused and why.
result<void> check_bucket_name(std::string_view name, std::string_view operation) {
  auto ok = s3::validate_bucket_name(name);
  if (!ok) return fail(errc::invalid_argument, std::string(operation) + ": " + ok.error().message);
  return {};
}

}  // namespace

awaitable<result<std::vector<bucket_info>>> list_buckets(transfer::scheduler& sched) {
  auto body = [&](s3::client& c) -> awaitable<result<std::vector<s3::bucket_entry>>> {
    co_return co_await c.list_buckets();
  };
  SLUICE_CO_TRY(std::vector<s3::bucket_entry> found,
                co_await on_context<result<std::vector<s3::bucket_entry>>>(sched, 0, body, "list buckets"));
  std::vector<bucket_info> out;
  out.reserve(found.size());
  for (auto& b : found) out.push_back({std::move(b.name), std::move(b.creation_date)});
  co_return out;
}

awaitable<result<bool>> bucket_exists(transfer::scheduler& sched, std::string_view name) {
  SLUICE_CO_TRY_VOID(check_bucket_name(name, "cannot look up the bucket"));
  auto body = [&](s3::client& c) -> awaitable<result<void>> { co_return co_await c.head_bucket(name); };
  const std::string what = "s3://" + std::string(name);
  auto r = co_await on_context<result<void>>(sched, 0, body, what);
  if (r) co_return true;
  if (is(r.error(), s3::errc::no_such_bucket)) co_return false;
  co_return r.error();
}

awaitable<result<void>> create_bucket(transfer::scheduler& sched, std::string_view name) {
  SLUICE_CO_TRY_VOID(check_bucket_name(name, "cannot create the bucket"));
  auto body = [&](s3::client& c) -> awaitable<result<void>> { co_return co_await c.create_bucket(name); };
  const std::string what = "s3://" + std::string(name);
  co_return co_await on_context<result<void>>(sched, 0, body, what);
}

awaitable<result<void>> remove_bucket(transfer::scheduler& sched, std::string_view name) {
  SLUICE_CO_TRY_VOID(check_bucket_name(name, "cannot remove the bucket"));
  auto body = [&](s3::client& c) -> awaitable<result<void>> { co_return co_await c.delete_bucket(name); };
  const std::string what = "s3://" + std::string(name);
  co_return co_await on_context<result<void>>(sched, 0, body, what);
}

awaitable<result<std::vector<stale_upload>>> cleanup_uploads(transfer::scheduler& sched,
                                                             std::string_view bucket,
                                                             const cleanup_options& opts) {
  SLUICE_CO_TRY_VOID(check_bucket_name(bucket, "cannot clean up the bucket"));
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto body = [&](s3::client& c) -> awaitable<result<std::vector<stale_upload>>> {
    std::vector<stale_upload> out;
    s3::multipart_list_request lr;
    lr.prefix = opts.prefix;
    for (;;) {
      SLUICE_CO_TRY(s3::multipart_uploads_page page, co_await c.list_multipart_uploads(bucket, lr));
      for (auto& u : page.uploads) {
        auto t = s3::parse_s3_time(u.initiated);
        const bool old_enough = opts.older_than.count() == 0 || (t && now - *t >= opts.older_than.count());
        if (!old_enough) continue;
        out.push_back(
            {std::move(u.key), std::move(u.upload_id), std::move(u.initiated), false, std::nullopt});
      }
      if (!page.truncated) break;
      if (page.next_key_marker == lr.key_marker && page.next_upload_id_marker == lr.upload_id_marker)
        co_return fail(errc::malformed_response, "list uploads of s3://" + std::string(bucket) +
                                                     ": a truncated listing whose markers do not advance");
      lr.key_marker = std::move(page.next_key_marker);
      lr.upload_id_marker = std::move(page.next_upload_id_marker);
    }
    if (opts.dry_run) co_return out;
    for (auto& u : out) {
      auto a = co_await c.abort_multipart_upload(bucket, u.key, u.upload_id);
      if (a || is(a.error(), s3::errc::no_such_upload))
        u.aborted = true;  // gone either way
      else
        u.err = a.error();
    }
    co_return out;
  };
  const std::string what = "cleanup s3://" + std::string(bucket);
  co_return co_await on_context<result<std::vector<stale_upload>>>(sched, 0, body, what);
}

result<std::string> presign_get(transfer::scheduler& sched, std::string_view bucket, std::string_view key,
                                std::chrono::seconds expires) {
  return sched.client(0).presign_get(bucket, key, expires);
}

}  // namespace sluice::store
