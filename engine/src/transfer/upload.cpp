// Uploads from a file or from memory: one PUT, or a multipart upload with its composite XXH3 recorded.
#include "transfer/pipeline.hpp"

#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace sluice::transfer {

namespace detail {

error io_fail(std::string_view what, const std::string& path, int err) {
  return os_fail(what, path, err);
}

result<void> pread_exact(int fd, std::span<std::byte> dst, uint64_t offset, const std::string& path) {
  while (!dst.empty()) {
    ssize_t n = ::pread(fd, dst.data(), dst.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_fail("cannot read", path, errno);
    if (n == 0) return fail(errc::io_error, "'" + path + "' became shorter while it was being read");
    dst = dst.subspan(static_cast<std::size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

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
awaitable<result<stats>> pipeline::upload_on(unsigned c, std::string_view path_in, std::string_view bucket,
                                             std::string_view key, const s3::put_options& put_in,
                                             unsigned workers, bool spread) {
  auto& cl = *clients_[c];
  const std::string path(path_in);
  stats st;
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) co_return io_fail("cannot open", path, errno);
  struct stat sb {};
  if (::fstat(fd.fd, &sb) != 0) co_return io_fail("cannot stat", path, errno);
  if (!S_ISREG(sb.st_mode)) co_return fail(errc::invalid_argument, "'" + path + "' is not a regular file");
  const uint64_t size = static_cast<uint64_t>(sb.st_size);

  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  if (size <= opts_.multipart_threshold && size <= pool_->budget()) {
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(size)));
    SLUICE_CO_TRY_VOID(pread_exact(fd.fd, buf.span(), 0, path));
    SLUICE_CO_TRY_VOID(co_await cl.put_object(bucket, key, buf.span(), put_in));
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

  // Hash first: the composite goes into the object's metadata at creation.
  std::vector<uint64_t> hashes(parts);
  {
    SLUICE_CO_TRY(pooled_buffer buf, co_await pool_->acquire(static_cast<std::size_t>(part)));
    for (uint64_t i = 0; i < parts; ++i) {
      auto view = buf.span().first(length(i));
      SLUICE_CO_TRY_VOID(pread_exact(fd.fd, view, i * part, path));
      hashes[i] = integrity::xxh3(view);
    }
  }
  s3::put_options put = put_in;
  put.metadata[std::string(integrity::metadata_key)] =
      integrity::format_recorded({integrity::composite_of(hashes, part), part});
  part_reader from_file = [&](uint64_t i,
                              pooled_buffer& holder) -> awaitable<result<std::span<const std::byte>>> {
    SLUICE_CO_TRY(holder, co_await pool_->acquire(length(i)));
    SLUICE_CO_TRY_VOID(pread_exact(fd.fd, holder.span(), i * part, path));
    if (integrity::xxh3(holder.span()) != hashes[i])
      co_return fail(errc::io_error, "'" + path + "' changed while it was being uploaded");
    co_return std::span<const std::byte>(holder.span());
  };
  SLUICE_CO_TRY_VOID(co_await send_multipart(c, bucket, key, put, parts, workers, spread, from_file));
  st.bytes = size;
  st.objects = 1;
  st.requests = parts + 2;
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
                                                        const part_reader& read) {
  auto& cl = *clients_[c];
  SLUICE_CO_TRY(std::string upload_id, co_await cl.create_multipart_upload(bucket, key, put));
  // Workers on every context (each with its own context's client) pull
  // part numbers; the state they share is atomic or under a mutex, and
  // done[i] is written by one worker each and read after all have finished.
  std::vector<s3::completed_part> done(parts);
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
        const uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= parts) co_return;
        pooled_buffer holder;
        auto bytes = co_await read(i, holder);
        if (!bytes) {
          failure.set(bytes.error());
          co_return;
        }
        auto etag = co_await mine.upload_part(bucket, key, upload_id, static_cast<int>(i + 1), *bytes);
        if (!etag) {
          failure.set(etag.error());
          co_return;
        }
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
    (void)co_await cl.abort_multipart_upload(bucket, key, upload_id);
    co_return *failed;
  }
  co_return etag;
}

awaitable<result<s3::put_result>> pipeline::put_on(unsigned c, std::string_view bucket, std::string_view key,
                                                   std::span<const std::byte> body,
                                                   const s3::put_options& put_in) {
  auto& cl = *clients_[c];
  SLUICE_CO_TRY_VOID(check_cancelled(bucket, key));
  const bool conditional = put_in.when.if_match || put_in.when.if_none_match;
  if (body.size() <= opts_.multipart_threshold || conditional) {
    if (body.size() > (uint64_t(5) << 30))
      co_return fail(errc::unsupported,
                     object_url(bucket, key) +
                         ": a conditional write goes in one PUT, and one PUT carries at most 5 GiB");
    SLUICE_CO_TRY(s3::put_result r, co_await cl.put_object(bucket, key, body, put_in));
    progress_.bytes.fetch_add(body.size(), std::memory_order_relaxed);
    progress_.objects.fetch_add(1, std::memory_order_relaxed);
    co_return r;
  }
  const uint64_t size = body.size();
  const uint64_t part = multipart_part_size(size);
  const uint64_t parts = (size + part - 1) / part;
  auto view = [&](uint64_t i) { return body.subspan(i * part, std::min(part, size - i * part)); };
  std::vector<uint64_t> hashes(parts);
  for (uint64_t i = 0; i < parts; ++i) hashes[i] = integrity::xxh3(view(i));
  s3::put_options put = put_in;
  const uint64_t composite = integrity::composite_of(hashes, part);
  put.metadata[std::string(integrity::metadata_key)] = integrity::format_recorded({composite, part});
  part_reader from_memory = [&](uint64_t i, pooled_buffer&) -> awaitable<result<std::span<const std::byte>>> {
    co_return view(i);
  };
  SLUICE_CO_TRY(std::string etag,
                co_await send_multipart(c, bucket, key, put, parts, opts_.max_in_flight, true, from_memory));
  s3::put_result r;
  r.etag = std::move(etag);
  r.xxh3 = composite;
  progress_.objects.fetch_add(1, std::memory_order_relaxed);
  co_return r;
}

}  // namespace sluice::transfer
