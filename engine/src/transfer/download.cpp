// Downloads to a file: parts written behind the fetches, integrity checked, refetched on a mismatch.
#include "transfer/pipeline.hpp"

#include <sluice/engine/cache/file_reader.hpp>
#include <sluice/engine/integrity/xxh3.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

namespace sluice::transfer {

const std::function<uint64_t()> no_window;

// `workers`: requests in flight (0: max_in_flight); `spread`: over every
// context (single transfers) or only this one (objects of a batch).
awaitable<result<stats>> pipeline::download_on(unsigned c, std::string_view bucket, std::string_view key,
                                               std::string_view path, unsigned workers, bool spread) {
  auto& cl = *clients_[c];
  stats st;
  SLUICE_CO_TRY(auto head, co_await first_part(cl, bucket, key));
  object_plan plan = std::move(head.first);
  pooled_buffer first = std::move(head.second);
  auto ex = co_await asio::this_coro::executor;

  const bool composite = plan.recorded && plan.recorded->part_size == plan.part_size;
  const bool whole = plan.recorded && plan.recorded->part_size == 0;
  // Resumable after a crash: parts may then come from an earlier run's file, so the content hash
  // must be one of parts (composite) or there must be none; an ETag tells a changed object.
  const bool resumable =
      opts_.resume_downloads && plan.parts > 1 && !plan.etag.empty() && (composite || !plan.recorded);
  std::unique_ptr<cache::file_writer> writer;
  if (resumable) {
    const cache::resume_key rk{object_url(bucket, key), plan.etag, plan.part_size};
    SLUICE_CO_TRY(writer,
                  cache::file_writer::create_resumable(ex, std::string(path), plan.size, rk, opts_.file));
  } else {
    // An object of one part is a small file: committed with the others of its moment.
    cache::writer_options wo = opts_.file;
    wo.group_commit = plan.parts <= 1;
    SLUICE_CO_TRY(writer, cache::file_writer::create(ex, std::string(path), plan.size, wo));
  }
  // Recorded with another part size: the object fits in our first part
  // (first_part re-plans otherwise), so hash that part the recorded way.
  const bool single_other = plan.recorded && !composite && !whole;
  uint64_t single_hash = 0;
  std::vector<uint64_t> hashes(plan.parts);
  // Parts an interrupted run left in the adopted file, checked by reading them back.
  std::vector<bool> have(plan.parts, false);
  if (!writer->resumed_parts().empty()) co_await verify_resumed(*writer, plan, have, hashes, st);
  const bool journal = writer->resumable();
  integrity::xxh3_stream whole_hash;
  ordered_stage<buffer_slice> in_order([&](uint64_t, buffer_slice& b) -> result<void> {
    whole_hash.update(b.span());
    return {};
  });

  // A part's write runs behind: the worker that fetched it goes on to the
  // next part while the kernel writes this one (the pool's budget bounds
  // how many wait).
  write_group writes(ex);
  part_handler handle = [&](uint64_t i, pooled_buffer& held, uint64_t hash) -> awaitable<result<void>> {
    if (writes.failed) co_return *writes.failed;
    const std::size_t n = held.size();
    if (composite) hashes[i] = hash;
    if (single_other) single_hash = integrity::hash_content(held.span(), plan.recorded->part_size);
    if (whole) SLUICE_CO_TRY_VOID(in_order.push(i, held.share(0, n)));
    ++writes.in_flight;
    asio::co_spawn(
        ex, write_part(*writer, i, plan.part_offset(i), new pooled_buffer(std::move(held)), hash, writes),
        [&writes](std::exception_ptr e) {
          if (e && !writes.failed) writes.failed = fail(errc::io_error, "a part's write failed unexpectedly");
          if (--writes.in_flight == 0) writes.idle.cancel();
        });
    progress_.bytes.fetch_add(n, std::memory_order_relaxed);
    st.bytes += n;
    ++st.requests;
    co_return result<void>{};
  };
  result<void> fetched;
  uint64_t start = 0;
  if (first && plan.parts > 0) {
    const uint64_t first_hash = composite || journal ? integrity::xxh3(first.span()) : 0;
    fetched = co_await handle(0, first, first_hash);
    start = 1;
  }
  if (fetched)
    fetched = co_await run_parts(c, bucket, key, plan, start, workers ? workers : request_limit_, handle,
                                 no_window, 0, spread, composite || journal, &have);
  co_await writes.drain();  // before any return: the writer must outlive its writes
  SLUICE_CO_TRY_VOID(fetched);
  if (writes.failed) co_return *writes.failed;

  if (plan.recorded) {
    uint64_t got = composite ? integrity::composite_of(hashes, plan.part_size) : whole_hash.digest();
    if (single_other)
      got = plan.parts == 0 ? integrity::hash_content({}, plan.recorded->part_size) : single_hash;
    if (got != plan.recorded->value) {
      // Fetch every part again; parts that differ were damaged in one of the
      // two reads: keep the second read and check again.
      SLUICE_CO_TRY(uint64_t again, co_await refetch_and_compare(cl, bucket, key, plan, hashes, *writer, st));
      if (again != plan.recorded->value)
        co_return fail(errc::integrity_mismatch,
                       object_url(bucket, key) + ": data integrity error: content hash " +
                           integrity::to_hex(again) + " does not match the recorded XXH3 " +
                           integrity::to_hex(plan.recorded->value) + " (also after fetching it again)");
    }
    st.verified = true;
  }
  SLUICE_CO_TRY_VOID(co_await writer->commit());
  st.objects = 1;
  st.etag = plan.etag;
  progress_.objects.fetch_add(1, std::memory_order_relaxed);
  co_return st;
}

// One write-behind part: owns `owned` (a raw pointer, not a by-value
// buffer: GCC 12 coroutines) until the write completes. A resumable
// writer then records the part (index, XXH3) for its journal; a failed
// checkpoint only means that part is fetched again after a crash.
awaitable<void> pipeline::write_part(cache::file_writer& writer, uint64_t index, uint64_t offset,
                                     pooled_buffer* owned, uint64_t hash, write_group& group) {
  std::unique_ptr<pooled_buffer> hold(owned);
  auto r = co_await writer.write_at(offset, hold->span());
  if (!r) {
    if (!group.failed) group.failed = r.error();
    co_return;
  }
  hold.reset();  // the memory goes back before the (rare) checkpoint fsync
  if (!writer.resumable()) co_return;
  writer.record_part(index, hash);
  (void)co_await writer.checkpoint(false);
}

// Reads back each part the adopted file's journal names and keeps those
// whose XXH3 still matches (the others are fetched again). Part 0 is in
// hand already (the first GET always runs: it learns the ETag). Read in
// pieces of at most 1 MiB of pool memory, taken without waiting: the first
// part may hold the whole budget, and then nothing is resumed.
awaitable<void> pipeline::verify_resumed(cache::file_writer& writer, const object_plan& plan,
                                         std::vector<bool>& have, std::vector<uint64_t>& hashes, stats& st) {
  auto reader = cache::file_reader::open(writer.temp_path());
  if (!reader) co_return;
  const std::size_t piece = std::min<std::size_t>(plan.part_length(0), std::size_t(1) << 20);
  std::optional<pooled_buffer> buf = pool_->try_acquire(piece);
  if (!buf) co_return;
  for (const auto& [i, h] : writer.resumed_parts()) {
    if (i == 0 || i >= plan.parts) continue;
    const std::size_t len = plan.part_length(i);
    integrity::xxh3_stream hash;
    bool read = true;
    for (std::size_t at = 0; at < len && read; at += piece) {
      auto dst = buf->span().first(std::min(piece, len - at));
      auto r = co_await (*reader)->read_at(plan.part_offset(i) + at, dst);
      read = bool(r);
      if (read) hash.update(dst);
    }
    if (!read || hash.digest() != h) continue;
    have[i] = true;
    hashes[i] = h;
    ++st.resumed_parts;
    st.resumed_bytes += len;
    st.bytes += len;  // the object's bytes, fetched now or before
    progress_.bytes.fetch_add(len, std::memory_order_relaxed);
  }
}

// The second look after a mismatch: refetch each part, hash it, rewrite
// the ones whose hash changed, and return the content hash of the result.
awaitable<result<uint64_t>> pipeline::refetch_and_compare(s3::client& cl, std::string_view bucket,
                                                          std::string_view key, const object_plan& plan,
                                                          std::vector<uint64_t>& hashes,
                                                          cache::file_writer& writer, stats& st) {
  const bool composite = plan.recorded->part_size == plan.part_size && plan.part_size > 0;
  integrity::content_hasher whole(plan.recorded->part_size);
  s3::conditions when;
  if (!plan.etag.empty()) when.if_match = plan.etag;
  for (uint64_t i = 0; i < plan.parts; ++i) {
    SLUICE_CO_TRY(pooled_buffer buf,
                  co_await fetch_range(cl, bucket, key, plan.part_offset(i), plan.part_length(i), when));
    uint64_t h = integrity::xxh3(buf.span());
    if (!composite || h != hashes[i]) {
      SLUICE_CO_TRY_VOID(co_await writer.write_at(plan.part_offset(i), buf.span()));
      if (composite) {
        hashes[i] = h;
        ++st.refetched_parts;
      }
      writer.record_part(i, h);
    }
    if (!composite) whole.update(buf.span());
  }
  if (!composite) {
    st.refetched_parts = plan.parts;
    co_return whole.digest();
  }
  co_return integrity::composite_of(hashes, plan.part_size);
}

// One small object whose size is known: reserve exactly its size, one GET,
// verify the recorded hash (refetch once). Empty optional buffer: the
// object's size differs from `size` (it changed since it was listed).
awaitable<result<std::optional<pooled_buffer>>> pipeline::fetch_small(unsigned c, std::string_view bucket,
                                                                      std::string_view key, uint64_t size,
                                                                      stats& st) {
  auto& cl = *clients_[c];
  for (int attempt = 1;; ++attempt) {
    SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(size)));
    SLUICE_CO_TRY(admission_limit::ticket slot, co_await admission_.enter());
    http::span_sink sink(buf.span());
    auto got = co_await cl.get_object(bucket, key, std::nullopt, sink, s3::no_conditions);
    slot.release();
    if (!got && got.error().code == errc::too_large) co_return std::optional<pooled_buffer>{};
    if (!got) co_return got.error();
    if (got->bytes != size) co_return std::optional<pooled_buffer>{};
    ++st.requests;
    if (auto it = got->info.metadata.find(std::string(integrity::metadata_key));
        cl.options().verify_integrity && it != got->info.metadata.end()) {
      auto rec = integrity::parse_recorded(it->second);
      if (!rec || integrity::hash_content(buf.span(), rec->part_size) != rec->value) {
        if (attempt < 2) {
          ++st.refetched_parts;
          continue;
        }
        co_return fail(errc::integrity_mismatch,
                       object_url(bucket, key) +
                           ": data integrity error: the content does not match the recorded XXH3 '" +
                           it->second + "' (also after fetching it again)");
      }
      st.verified = true;
    }
    st.bytes = size;
    st.objects = 1;
    progress_.bytes.fetch_add(size, std::memory_order_relaxed);
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return std::optional<pooled_buffer>(std::move(buf));
  }
}

// `in_batch`: the batch syncs each directory once at the end instead of
// after every rename.
awaitable<result<stats>> pipeline::download_small(unsigned c, std::string_view bucket, std::string_view key,
                                                  const std::string& path, uint64_t size, bool in_batch) {
  stats st;
  SLUICE_CO_TRY(std::optional<pooled_buffer> buf, co_await fetch_small(c, bucket, key, size, st));
  if (!buf)
    co_return co_await download_on(c, bucket, key, path, in_batch ? 4 : 0, !in_batch);  // changed size
  auto ex = co_await asio::this_coro::executor;
  cache::writer_options wo = opts_.file;
  wo.sync_directory = !in_batch;
  wo.group_commit = true;  // many small files at once: durable together (cache::writer_options)
  if (size < (std::size_t(1) << 20)) wo.direct = false;  // one small write: O_DIRECT buys nothing
  SLUICE_CO_TRY(std::unique_ptr<cache::file_writer> writer, cache::file_writer::create(ex, path, size, wo));
  if (size) SLUICE_CO_TRY_VOID(co_await writer->write_at(0, buf->span()));
  SLUICE_CO_TRY_VOID(co_await writer->commit());
  co_return st;
}

}  // namespace sluice::transfer
