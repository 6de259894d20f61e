// Uploads from a file or from memory: one PUT, or a multipart upload with its composite XXH3 recorded.
#include "transfer/pipeline.hpp"

#include <sluice/engine/cache/file_reader.hpp>
#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/s3/error.hpp>

#include <boost/asio/experimental/concurrent_channel.hpp>

#include <cstring>
#include <filesystem>

namespace sluice::transfer {

namespace detail {

// The first error of workers running on several threads.
class shared_failure {
 public:
  void set(const error& e) {
    std::lock_guard lk(mu_);
    if (!first_) first_ = e;
    happened_.store(true, std::memory_order_relaxed);
  }
  bool happened() const noexcept { return happened_.load(std::memory_order_relaxed); }
  std::optional<error> take() {
    std::lock_guard lk(mu_);
    return std::move(first_);
  }

 private:
  std::mutex mu_;
  std::atomic<bool> happened_{false};
  std::optional<error> first_;
};

}  // namespace detail

// `spread`: the parts of a multipart upload are sent from every context
// (single uploads), or from this one only (objects of a batch).
//
// The file is read once (io_uring) where memory allows. The composite XXH3
// goes into the object's metadata when the upload is created, so every part
// is hashed before the first is sent; parts that find free memory (up to half
// the budget, never waiting for it) stay in the pool and are sent from there,
// first; only the others are read again, and each must hash as before.
awaitable<result<stats>> pipeline::upload_on(unsigned c, std::string_view path_in, std::string_view bucket,
                                             std::string_view key, const s3::put_options& put_in,
                                             unsigned workers, bool spread) {
  auto& cl = *clients_[c];
  const std::string path(path_in);
  stats st;
  SLUICE_CO_TRY(std::unique_ptr<cache::file_reader> file, cache::file_reader::open(path));
  const uint64_t size = file->size();

  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  if (size <= opts_.multipart_threshold && size <= pool_->budget()) {
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(size)));
    SLUICE_CO_TRY_VOID(co_await file->read_at(0, buf.span()));
    SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
    SLUICE_CO_TRY(s3::put_result put, co_await cl.put_object(bucket, key, buf.span(), put_in));
    st.etag = std::move(put.etag);
    st.bytes = size;
    st.objects = 1;
    st.requests = 1;
    progress_.bytes.fetch_add(size, std::memory_order_relaxed);
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return st;
  }

  const uint64_t part = multipart_part_size(size);
  if (part > pool_->budget())
    co_return fail(errc::too_large, "'" + path + "' needs parts of " + std::to_string(part) +
                                        " bytes, more than the memory budget");
  const uint64_t parts = (size + part - 1) / part;
  auto length = [&](uint64_t i) { return static_cast<std::size_t>(std::min(part, size - i * part)); };

  std::vector<uint64_t> hashes(parts);
  std::vector<pooled_buffer> kept(parts);
  std::vector<uint64_t> order;  // kept parts first: they free memory without needing any
  order.reserve(parts);
  {
    const uint64_t keep_limit = pool_->budget() / 2;
    uint64_t kept_bytes = 0;
    // Taken while holding nothing; later reservations never wait.
    SLUICE_CO_TRY(pooled_buffer scratch, co_await pool_->acquire(static_cast<std::size_t>(part)));
    for (uint64_t i = 0; i < parts; ++i) {
      SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
      std::optional<pooled_buffer> spare;
      if (kept_bytes + length(i) <= keep_limit) spare = pool_->try_acquire(length(i));
      auto view = (spare ? *spare : scratch).span().first(length(i));
      SLUICE_CO_TRY_VOID(co_await file->read_at(i * part, view));
      hashes[i] = integrity::xxh3(view);
      if (spare) {
        kept_bytes += length(i);
        kept[i] = std::move(*spare);
        order.push_back(i);
      }
    }
  }
  const uint64_t kept_parts = order.size();
  for (uint64_t i = 0; i < parts; ++i)
    if (!kept[i]) order.push_back(i);

  s3::put_options put = put_in;
  put.metadata[std::string(integrity::metadata_key)] =
      integrity::format_recorded({integrity::composite_of(hashes, part), part});
  // Each part is claimed by one worker: kept[i] is touched by that worker only.
  part_reader from_file = [&](uint64_t i,
                              pooled_buffer& holder) -> awaitable<result<std::span<const std::byte>>> {
    if (kept[i]) {
      holder = std::move(kept[i]);
      co_return std::span<const std::byte>(holder.span());
    }
    SLUICE_CO_TRY(holder, co_await pool_->acquire(length(i)));
    SLUICE_CO_TRY_VOID(co_await file->read_at(i * part, holder.span()));
    if (integrity::xxh3(holder.span()) != hashes[i])
      co_return fail(errc::io_error, "'" + path + "' changed while it was being uploaded");
    co_return std::span<const std::byte>(holder.span());
  };
  // The same file (by name, size, part size, the parts' hashes and the
  // metadata) may take over the upload a dead run of it left open.
  upload_source source;
  source.size = size;
  source.part_size = part;
  {
    std::string described = put.content_type;
    for (const auto& [k, v] : put.metadata) described += "\n" + k + "=" + v;
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path, ec);
    source.identity = (ec ? path : absolute.string()) + "\n" + std::to_string(size) + " " +
                      std::to_string(part) + " " + integrity::to_hex(integrity::xxh3(described));
  }
  SLUICE_CO_TRY(st.etag, co_await send_multipart(c, bucket, key, put, parts, workers, spread, from_file,
                                                 &order, &source));
  st.bytes = size;
  st.objects = 1;
  st.requests = parts + 2 - source.resumed_parts;
  st.resumed_parts = source.resumed_parts;
  st.reread_parts = parts - kept_parts;
  progress_.objects.fetch_add(1, std::memory_order_relaxed);
  co_return st;
}

// Parts of at least part_size (and S3's 5 MiB), doubled until at most 10,000.
uint64_t pipeline::multipart_part_size(uint64_t size) const {
  uint64_t part = std::max<uint64_t>(opts_.part_size, 5ull << 20);
  while ((size + part - 1) / part > 10000) part *= 2;
  return part;
}

// A multipart upload of `parts` parts read by `read`: created, sent by
// `workers` workers (over every context when `spread`, else this one),
// completed, or aborted on any failure. Returns the object's ETag.
awaitable<result<std::string>> pipeline::send_multipart(unsigned c, std::string_view bucket,
                                                        std::string_view key, const s3::put_options& put,
                                                        uint64_t parts, unsigned workers, bool spread,
                                                        const part_reader& read,
                                                        const std::vector<uint64_t>* order,
                                                        upload_source* source) {
  auto& cl = *clients_[c];
  std::unique_ptr<detail::upload_record> record;
  // Workers on every context (each with its own context's client) pull
  // part numbers; the state they share is atomic or under a mutex, and
  // done[i] is written by one worker each and read after all have finished
  // (parts taken over from a dead run's upload are filled in before).
  std::vector<s3::completed_part> done(parts);
  SLUICE_CO_TRY(std::string upload_id, co_await begin_multipart(cl, bucket, key, put, record, source, done));
  std::atomic<uint64_t> next{0};
  shared_failure failure;
  workers = static_cast<unsigned>(std::min<uint64_t>(std::max(1u, workers), parts));
  const unsigned n = spread ? std::min(contexts(), workers) : 1;
  co_await run_on_contexts(eng_, c, n, [&](unsigned slot) -> awaitable<void> {
    s3::client& mine = *clients_[(c + slot) % contexts()];
    const unsigned count = workers / n + (slot < workers % n ? 1 : 0);
    co_await run_concurrently(count, [&](unsigned) -> awaitable<void> {
      for (;;) {
        if (failure.happened()) co_return;
        if (auto cc = check_cancelled(bucket, key); !cc) {
          failure.set(cc.error());
          co_return;
        }
        const uint64_t claimed = next.fetch_add(1, std::memory_order_relaxed);
        if (claimed >= parts) co_return;
        const uint64_t i = order ? (*order)[claimed] : claimed;
        if (!done[i].etag.empty()) continue;  // the server holds it already
        pooled_buffer holder;
        auto bytes = co_await read(i, holder);
        if (!bytes) {
          failure.set(bytes.error());
          co_return;
        }
        // Memory first, then the ticket: a ticket holder never waits on the pool.
        auto slot = co_await admission_.enter();
        if (!slot) {
          failure.set(slot.error());
          co_return;
        }
        auto etag = co_await mine.upload_part(bucket, key, upload_id, static_cast<int>(i + 1), *bytes);
        if (!etag) {
          failure.set(etag.error());
          co_return;
        }
        if (record) record->add_part(static_cast<int>(i + 1), *etag);
        done[i] = {static_cast<int>(i + 1), std::move(*etag)};
        progress_.bytes.fetch_add(bytes->size(), std::memory_order_relaxed);
      }
    });
  });
  std::optional<error> failed = failure.take();
  std::string etag;
  if (!failed) {
    auto completed = co_await cl.complete_multipart_upload(bucket, key, upload_id, done);
    if (!completed)
      failed = completed.error();
    else
      etag = std::move(*completed);
  }
  if (failed) {
    co_await abandon_multipart(cl, bucket, key, upload_id, record.get());
    co_return *failed;
  }
  if (record) record->finished();
  co_return etag;
}

awaitable<result<std::string>> pipeline::begin_multipart(s3::client& cl, std::string_view bucket,
                                                         std::string_view key, const s3::put_options& put,
                                                         std::unique_ptr<detail::upload_record>& record,
                                                         upload_source* source,
                                                         std::vector<s3::completed_part>& done) {
  std::string taken_id;
  if (!opts_.upload_journal_dir.empty()) {
    detail::upload_records found =
        detail::find_upload_records(opts_.upload_journal_dir, cl.options().config.endpoint_url, bucket, key);
    // A dead run's upload of the same source: its parts that the server still holds with the ETag
    // the record names are this run's parts (the same bytes: the composite XXH3 over the same part
    // size matched) and are not sent again.
    detail::stale_record* taken = nullptr;
    for (auto& r : found.stale) {
      if (!source || source->identity.empty() || r.upload_id().empty() || r.source() != source->identity)
        continue;
      auto listed = co_await cl.list_parts(bucket, key, r.upload_id());
      if (!listed) continue;  // gone (NoSuchUpload) or unreadable: aborted below
      // The parts every record of this upload names: a run that took the upload over and was
      // killed before it removed the record it took over leaves two.
      std::map<int, std::string> recorded_parts;
      for (const auto& o : found.stale)
        if (o.upload_id() == r.upload_id() && o.source() == r.source())
          recorded_parts.insert(o.parts().begin(), o.parts().end());
      const uint64_t parts = done.size();
      uint64_t held = 0;
      for (const auto& p : *listed) {
        const uint64_t i = static_cast<uint64_t>(p.part_number - 1);
        if (i >= parts) continue;
        const uint64_t length = std::min(source->part_size, source->size - i * source->part_size);
        auto it = recorded_parts.find(p.part_number);
        if (it == recorded_parts.end() || p.size != length) continue;
        std::string recorded = it->second;
        if (recorded.size() >= 2 && recorded.front() == '"' && recorded.back() == '"')
          recorded = recorded.substr(1, recorded.size() - 2);
        if (recorded != p.etag) continue;
        done[i] = {p.part_number, it->second};
        ++held;
      }
      taken = &r;
      taken_id = r.upload_id();
      source->resumed_parts = held;
      break;
    }
    co_await abort_stale_uploads(cl, bucket, key, found, taken_id);
    const std::string_view what = source ? std::string_view(source->identity) : std::string_view();
    record = detail::upload_record::begin(opts_.upload_journal_dir, cl.options().config.endpoint_url, bucket,
                                          key, what);
    if (taken) {
      if (record) {
        record->set_upload_id(taken_id);
        for (const auto& d : done)
          if (!d.etag.empty()) record->add_part(d.part_number, d.etag);
      }
      // Now that this run's record names the upload: every dead record of it (the one taken over,
      // and any other the same upload's earlier takeovers left).
      for (auto& r : found.stale)
        if (r.upload_id() == taken_id) r.remove();
      co_return taken_id;
    }
  }
  auto id = co_await cl.create_multipart_upload(bucket, key, put);
  if (!id) {
    if (record) record->finished();  // nothing was created (or the next run finds it by time)
    co_return id.error();
  }
  if (record) record->set_upload_id(*id);
  co_return std::move(*id);
}

// The records of this key whose process died: each names its upload, or
// (a crash before CreateMultipartUpload answered) the time it began, and
// then the uploads of this key begun since then that no live run holds
// are aborted. A record stays when its abort fails in a way worth trying
// again (the next run does), and when the listing fails.
awaitable<void> pipeline::abort_stale_uploads(s3::client& cl, std::string_view bucket, std::string_view key,
                                              detail::upload_records& found, std::string_view keep_id) {
  if (found.stale.empty()) co_return;
  std::optional<std::vector<s3::multipart_upload_entry>> listed;  // this key's uploads, listed once
  for (auto& r : found.stale) {
    if (!keep_id.empty() && r.upload_id() == keep_id) continue;  // taken over: removed once ours names it
    bool done = true;
    std::vector<std::string> ids;
    if (!r.upload_id().empty()) {
      ids.push_back(r.upload_id());
    } else {
      if (!listed) {
        std::vector<s3::multipart_upload_entry> all;
        s3::multipart_list_request lr;
        lr.prefix = std::string(key);
        bool ok = true;
        for (int pages = 0; pages < 100; ++pages) {
          auto page = co_await cl.list_multipart_uploads(bucket, lr);
          if (!page) {
            // A server without the listing (s3rver: 501) will not have it next time either.
            const int status = page.error().http_status;
            if (status == 501 || status == 405 || !s3::is_retryable(page.error())) r.remove();
            ok = false;
            break;
          }
          for (auto& u : page->uploads)
            if (u.key == key) all.push_back(std::move(u));
          if (!page->truncated ||
              (page->next_key_marker == lr.key_marker && page->next_upload_id_marker == lr.upload_id_marker))
            break;
          lr.key_marker = page->next_key_marker;
          lr.upload_id_marker = page->next_upload_id_marker;
        }
        if (!ok) continue;  // the record stays for the next run (unless removed above)
        listed = std::move(all);
      }
      for (const auto& u : *listed) {
        auto t = s3::parse_s3_time(u.initiated);
        // Five minutes of slack for the clocks of this host and the server.
        if (!t || *t + 300 < r.began()) continue;
        if (std::find(found.live_ids.begin(), found.live_ids.end(), u.upload_id) != found.live_ids.end())
          continue;
        if (u.upload_id == keep_id) continue;
        ids.push_back(u.upload_id);
      }
    }
    for (const auto& id : ids) {
      auto a = co_await cl.abort_multipart_upload(bucket, key, id);
      if (!a && a.error().code != s3::errc::no_such_upload && s3::is_retryable(a.error())) done = false;
    }
    if (done) r.remove();
  }
}

awaitable<void> pipeline::abandon_multipart(s3::client& cl, std::string_view bucket, std::string_view key,
                                            std::string_view upload_id, detail::upload_record* record) {
  // The record stays only when trying again may help (the server was unreachable or busy); an
  // abort the server refuses for good (s3rver answers 405) would be refused next time too.
  auto a = co_await cl.abort_multipart_upload(bucket, key, upload_id);
  if (record && (a || !s3::is_retryable(a.error()))) record->finished();
}

namespace detail {

// A body made of pieces, addressed by offset.
class chain {
 public:
  explicit chain(std::span<const std::span<const std::byte>> pieces) : pieces_(pieces) {
    starts_.reserve(pieces.size() + 1);
    uint64_t at = 0;
    for (const auto& p : pieces) {
      starts_.push_back(at);
      at += p.size();
    }
    starts_.push_back(at);
  }
  uint64_t size() const noexcept { return starts_.back(); }

  // [offset, offset + len) when it lies within one piece, else an empty span.
  std::span<const std::byte> within_one(uint64_t offset, std::size_t len) const {
    if (len == 0) return {};
    const std::size_t j = piece_at(offset);
    if (offset + len > starts_[j + 1]) return {};
    return pieces_[j].subspan(static_cast<std::size_t>(offset - starts_[j]), len);
  }
  // Calls fn(span) over [offset, offset + len), piece by piece.
  template <class Fn>
  void each(uint64_t offset, uint64_t len, Fn&& fn) const {
    for (std::size_t j = piece_at(offset); len > 0 && j < pieces_.size(); ++j) {
      const uint64_t in = offset - starts_[j];
      const auto n = static_cast<std::size_t>(std::min<uint64_t>(len, pieces_[j].size() - in));
      if (n) fn(pieces_[j].subspan(static_cast<std::size_t>(in), n));
      offset += n;
      len -= n;
    }
  }
  uint64_t xxh3(uint64_t offset, std::size_t len) const {
    if (auto one = within_one(offset, len); one.size() == len) return integrity::xxh3(one);
    integrity::xxh3_stream h;
    each(offset, len, [&](std::span<const std::byte> s) { h.update(s); });
    return h.digest();
  }
  void copy_to(uint64_t offset, std::span<std::byte> dst) const {
    std::size_t at = 0;
    each(offset, dst.size(), [&](std::span<const std::byte> s) {
      std::memcpy(dst.data() + at, s.data(), s.size());
      at += s.size();
    });
  }

 private:
  // The piece holding byte `offset` (the first non-empty one at or after it).
  std::size_t piece_at(uint64_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end() - 1, offset);
    if (it == starts_.begin()) return 0;
    std::size_t j = static_cast<std::size_t>(it - starts_.begin()) - 1;
    while (j + 1 < pieces_.size() && pieces_[j].empty()) ++j;
    return j;
  }
  std::span<const std::span<const std::byte>> pieces_;
  std::vector<uint64_t> starts_;  // starts_[j]: offset of piece j; back(): the total
};

}  // namespace detail

awaitable<result<s3::put_result>> pipeline::put_on(unsigned c, std::string_view bucket, std::string_view key,
                                                   std::span<const std::span<const std::byte>> pieces,
                                                   const s3::put_options& put_in) {
  auto& cl = *clients_[c];
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  const chain body(pieces);
  const uint64_t size = body.size();
  const bool conditional = put_in.when.if_match || put_in.when.if_none_match;
  if (size <= opts_.multipart_threshold || conditional) {
    if (size > (uint64_t(5) << 30))
      co_return fail(errc::unsupported,
                     object_url(bucket, key) +
                         ": a conditional write goes in one PUT, and one PUT carries at most 5 GiB");
    std::span<const std::byte> one = body.within_one(0, static_cast<std::size_t>(size));
    pooled_buffer assembled;
    if (one.size() != size) {
      if (size > pool_->budget())
        co_return fail(errc::too_large, object_url(bucket, key) + ": " + std::to_string(size) +
                                            " bytes in several pieces must be assembled for one PUT, "
                                            "and do not fit the memory budget");
      SLUICE_CO_TRY(assembled, co_await pool_->acquire(static_cast<std::size_t>(size)));
      body.copy_to(0, assembled.span());
      one = assembled.span();
    }
    SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
    SLUICE_CO_TRY(s3::put_result r, co_await cl.put_object(bucket, key, one, put_in));
    progress_.bytes.fetch_add(size, std::memory_order_relaxed);
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return r;
  }
  const uint64_t part = multipart_part_size(size);
  const uint64_t parts = (size + part - 1) / part;
  auto length = [&](uint64_t i) { return static_cast<std::size_t>(std::min(part, size - i * part)); };
  std::vector<uint64_t> hashes(parts);
  for (uint64_t i = 0; i < parts; ++i) hashes[i] = body.xxh3(i * part, length(i));
  s3::put_options put = put_in;
  const uint64_t composite = integrity::composite_of(hashes, part);
  put.metadata[std::string(integrity::metadata_key)] = integrity::format_recorded({composite, part});
  part_reader from_memory = [&](uint64_t i,
                                pooled_buffer& holder) -> awaitable<result<std::span<const std::byte>>> {
    if (auto one = body.within_one(i * part, length(i)); one.size() == length(i)) co_return one;
    SLUICE_CO_TRY(holder, co_await pool_->acquire(length(i)));  // a part straddling pieces
    body.copy_to(i * part, holder.span());
    co_return std::span<const std::byte>(holder.span());
  };
  SLUICE_CO_TRY(std::string etag, co_await send_multipart(c, bucket, key, put, parts, request_limit_, true,
                                                          from_memory, nullptr));
  s3::put_result r;
  r.etag = std::move(etag);
  r.xxh3 = composite;
  progress_.objects.fetch_add(1, std::memory_order_relaxed);
  co_return r;
}

namespace detail {

// A part of a stream on its way from the reader to a sender.
struct stream_part {
  uint64_t index = 0;
  pooled_buffer bytes;
};

}  // namespace detail

// Reader and senders meet in a channel without a buffer: the reader hands a
// part over only when a sender takes it, and reads the next one only once
// the pool grants its memory, so a fast stream never runs past the budget.
awaitable<result<s3::put_result>> pipeline::upload_stream_on(unsigned c, std::string_view bucket,
                                                             std::string_view key,
                                                             const stream_source& source,
                                                             const s3::put_options& put_in) {
  auto& cl = *clients_[c];
  const auto part = static_cast<std::size_t>(std::max<uint64_t>(opts_.part_size, 5ull << 20));
  if (part > pool_->budget())
    co_return fail(errc::too_large, object_url(bucket, key) + ": parts of " + std::to_string(part) +
                                        " bytes do not fit the memory budget");
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  SLUICE_CO_TRY(pooled_buffer first, co_await pool_->acquire(part));
  SLUICE_CO_TRY(std::size_t got, co_await source(first.span()));
  if (got < part) {
    SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
    SLUICE_CO_TRY(s3::put_result r, co_await cl.put_object(bucket, key, first.span().first(got), put_in));
    progress_.bytes.fetch_add(got, std::memory_order_relaxed);
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return r;
  }

  s3::put_options create = put_in;
  create.record_xxh3 = false;  // recorded at the end, once known
  std::unique_ptr<detail::upload_record> record;
  std::vector<s3::completed_part> none;  // a stream is never taken over
  SLUICE_CO_TRY(std::string upload_id,
                co_await begin_multipart(cl, bucket, key, create, record, nullptr, none));
  using part_channel =
      asio::experimental::concurrent_channel<void(boost::system::error_code, detail::stream_part)>;
  part_channel channel(eng_.context(c).get_executor(), 0);
  shared_failure failure;
  // Reader only (read after the join): the part hashes and the total.
  std::vector<uint64_t> hashes;
  uint64_t total = 0;
  // Senders, on every context: under done_mu.
  std::mutex done_mu;
  std::vector<s3::completed_part> done;

  const unsigned senders = request_limit_;
  co_await run_on_contexts(eng_, c, senders + 1, [&](unsigned slot) -> awaitable<void> {
    if (slot == 0) {  // the reader, on context c (the source's)
      pooled_buffer next = std::move(first);
      std::size_t n = got;
      for (uint64_t i = 0;; ++i) {
        if (i >= 10000) {
          failure.set(fail(errc::too_large, object_url(bucket, key) +
                                                ": the stream needs more than 10,000 parts of " +
                                                std::to_string(part) + " bytes (use a larger part size)"));
          break;
        }
        next.resize(n);
        hashes.push_back(integrity::xxh3(next.span()));
        total += n;
        detail::stream_part item{i, std::move(next)};
        const boost::system::error_code handed_over;
        auto [ec] =
            co_await channel.async_send(handed_over, std::move(item), asio::as_tuple(asio::use_awaitable));
        if (ec || n < part || failure.happened()) break;
        if (auto cc = check_cancelled(bucket, key); !cc) {
          failure.set(cc.error());
          break;
        }
        auto buf = co_await pool_->acquire(part);
        if (!buf) {
          failure.set(buf.error());
          break;
        }
        auto read = co_await source(buf->span());
        if (!read) {
          failure.set(read.error());
          break;
        }
        if (*read == 0) break;  // the stream ended on a part boundary
        next = std::move(*buf);
        n = *read;
      }
      channel.close();
      co_return;
    }
    s3::client& mine = *clients_[(c + slot) % contexts()];
    for (;;) {
      auto [ec, item] = co_await channel.async_receive(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto ticket = co_await admission_.enter();
      if (!ticket) {
        failure.set(ticket.error());
        channel.close();
        co_return;
      }
      auto etag = co_await mine.upload_part(bucket, key, upload_id, static_cast<int>(item.index + 1),
                                            item.bytes.span());
      if (!etag) {
        failure.set(etag.error());
        channel.close();
        co_return;
      }
      progress_.bytes.fetch_add(item.bytes.size(), std::memory_order_relaxed);
      std::lock_guard lk(done_mu);
      done.push_back({static_cast<int>(item.index + 1), std::move(*etag)});
    }
  });
  std::optional<error> failed = failure.take();
  s3::put_result r;
  if (!failed) {
    std::sort(done.begin(), done.end(),
              [](const auto& a, const auto& b) { return a.part_number < b.part_number; });
    auto completed = co_await cl.complete_multipart_upload(bucket, key, upload_id, done);
    if (!completed)
      failed = completed.error();
    else
      r.etag = std::move(*completed);
  }
  if (failed) {
    co_await abandon_multipart(cl, bucket, key, upload_id, record.get());
    co_return *failed;
  }
  if (record) record->finished();
  progress_.objects.fetch_add(1, std::memory_order_relaxed);
  r.xxh3 = integrity::composite_of(hashes, part);
  if (total <= (uint64_t(5) << 30)) {  // CopyObject's limit
    s3::put_options recorded = put_in;
    recorded.metadata[std::string(integrity::metadata_key)] = integrity::format_recorded({r.xxh3, part});
    auto copied =
        co_await cl.copy_object(bucket, key, bucket, key, s3::metadata_directive::replace, recorded);
    if (!copied) {
      error e = copied.error();
      e.message = object_url(bucket, key) + ": uploaded, but recording its XXH3 failed: " + e.message;
      co_return e;
    }
    r.etag = std::move(*copied);
  }
  co_return r;
}

}  // namespace sluice::transfer
