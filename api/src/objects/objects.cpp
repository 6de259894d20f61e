#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/objects/objects.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace sluice::objects {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

std::string url_of(std::string_view bucket, std::string_view key) {
  return "s3://" + std::string(bucket) + (key.empty() ? "" : "/" + std::string(key));
}

error io_fail(std::string_view what, const std::string& path, int err) {
  return fail(errc::io_error, std::string(what) + " '" + path + "': " + std::strerror(err));
}

// An open file descriptor, closed on scope exit.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

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

result<void> pwrite_all(int fd, std::span<const std::byte> src, uint64_t offset, const std::string& path) {
  while (!src.empty()) {
    ssize_t n = ::pwrite(fd, src.data(), src.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_fail("cannot write", path, errno);
    src = src.subspan(static_cast<std::size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

std::optional<integrity::recorded_hash> recorded_from(const http::response& head) {
  auto text = head.header(std::string("x-amz-meta-") + std::string(integrity::metadata_key));
  if (text.empty()) return std::nullopt;
  return integrity::parse_recorded(text);
}

// Receives a body into a staging buffer, hashes it while it is hot and hands
// full stretches to `flush`. The hash is verified in finish().
class verifying_sink : public http::body_sink {
 public:
  verifying_sink(std::string object, bool verify, std::size_t staging = 8u << 20)
      : object_(std::move(object)), verify_(verify), staging_(staging) {}

  result<void> begin(const http::response& head) override {
    fill_ = 0;
    delivered_ = 0;
    recorded_ = verify_ ? recorded_from(head) : std::nullopt;
    if (verify_ && !head.header("x-amz-meta-sluice-xxh3").empty() && !recorded_)
      return fail(errc::integrity_mismatch,
                  object_ + ": the recorded hash '" + std::string(head.header("x-amz-meta-sluice-xxh3")) +
                      "' is not one sluice can read");
    hasher_ = integrity::content_hasher(recorded_ ? recorded_->part_size : 0);
    return on_begin(head);
  }
  std::span<std::byte> prepare() override { return staging_.span().subspan(fill_); }
  result<void> commit(std::size_t n) override {
    hasher_.update(staging_.span().subspan(fill_, n));
    fill_ += n;
    if (fill_ == staging_.size()) return drain();
    return {};
  }
  result<void> finish() override {
    SLUICE_TRY_VOID(drain());
    if (recorded_) {
      uint64_t got = hasher_.digest();
      if (got != recorded_->value)
        return fail(errc::integrity_mismatch, object_ + ": data integrity error: content hash " + integrity::to_hex(got) +
                                                  " does not match the recorded XXH3 " + integrity::to_hex(recorded_->value));
    }
    return {};
  }
  uint64_t delivered() const noexcept { return delivered_; }
  bool verified() const noexcept { return recorded_.has_value(); }

 protected:
  virtual result<void> on_begin(const http::response&) { return {}; }
  virtual result<void> on_data(std::span<const std::byte> data, uint64_t offset) = 0;

 private:
  result<void> drain() {
    if (fill_ == 0) return {};
    SLUICE_TRY_VOID(on_data(staging_.span().first(fill_), delivered_));
    delivered_ += fill_;
    fill_ = 0;
    return {};
  }

  std::string object_;
  bool verify_;
  aligned_buffer staging_;
  std::size_t fill_ = 0;
  uint64_t delivered_ = 0;
  std::optional<integrity::recorded_hash> recorded_;
  integrity::content_hasher hasher_;
};

class file_sink final : public verifying_sink {
 public:
  file_sink(std::string object, bool verify, int fd, std::string path)
      : verifying_sink(std::move(object), verify), fd_(fd), path_(std::move(path)) {}

 protected:
  result<void> on_begin(const http::response& head) override {
    if (::ftruncate(fd_, 0) != 0) return io_fail("cannot truncate", path_, errno);
    if (head.content_length && *head.content_length > 0) {
      int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(*head.content_length));
      if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) return io_fail("cannot allocate space for", path_, rc);
    }
    return {};
  }
  result<void> on_data(std::span<const std::byte> data, uint64_t offset) override {
    return pwrite_all(fd_, data, offset, path_);
  }

 private:
  int fd_;
  std::string path_;
};

class callback_sink final : public verifying_sink {
 public:
  callback_sink(std::string object, bool verify, std::function<result<void>(std::span<const std::byte>)> fn)
      : verifying_sink(std::move(object), verify, 1u << 20), fn_(std::move(fn)) {}

 protected:
  result<void> on_begin(const http::response&) override {
    // Bytes already handed to the consumer cannot be taken back.
    if (started_) return fail(errc::truncated_response, "the transfer failed after output had started");
    return {};
  }
  result<void> on_data(std::span<const std::byte> data, uint64_t) override {
    started_ = true;
    return fn_(data);
  }

 private:
  std::function<result<void>(std::span<const std::byte>)> fn_;
  bool started_ = false;
};

std::string temp_name_for(const std::string& path) {
  std::random_device rd;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
  std::filesystem::path p(path);
  return (p.parent_path() / ("." + p.filename().string() + ".sluice-" + suffix)).string();
}

}  // namespace

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

awaitable<result<transfer_stats>> upload_file(s3::client& c, std::string_view local_path_in, std::string_view bucket_in,
                                              std::string_view key_in, const transfer_options& opts,
                                              const s3::put_options& put_in) {
  const std::string local_path(local_path_in), bucket(bucket_in);
  std::string key(key_in);
  s3::put_options put = put_in;
  if (key.empty() || key.back() == '/') {
    // "cp file s3://b/dir/" puts the file under its own name.
    key += std::filesystem::path(local_path).filename().string();
  }
  SLUICE_CO_TRY_VOID(s3::validate_bucket_name(bucket));
  SLUICE_CO_TRY_VOID(s3::validate_key(key));
  unique_fd fd(::open(local_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) co_return io_fail("cannot open", local_path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) co_return io_fail("cannot stat", local_path, errno);
  if (!S_ISREG(st.st_mode)) co_return fail(errc::invalid_argument, "'" + local_path + "' is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  transfer_stats stats;

  if (size <= opts.multipart_threshold) {
    aligned_buffer data(static_cast<std::size_t>(size));
    SLUICE_CO_TRY_VOID(pread_exact(fd.get(), data.span(), 0, local_path));
    SLUICE_CO_TRY_VOID(co_await c.put_object(bucket, key, data.span(), put));
    stats.bytes = size;
    stats.objects = 1;
    stats.parts = 1;
    co_return stats;
  }

  uint64_t part_size = std::max<uint64_t>(opts.part_size, 5ull << 20);
  while ((size + part_size - 1) / part_size > 10000) part_size *= 2;
  const uint64_t parts = (size + part_size - 1) / part_size;

  // Hash first: the composite goes into the object's metadata at creation.
  std::vector<uint64_t> hashes(parts);
  {
    aligned_buffer buf(static_cast<std::size_t>(part_size));
    for (uint64_t i = 0; i < parts; ++i) {
      uint64_t off = i * part_size;
      std::size_t len = static_cast<std::size_t>(std::min(part_size, size - off));
      SLUICE_CO_TRY_VOID(pread_exact(fd.get(), buf.span().first(len), off, local_path));
      hashes[i] = integrity::xxh3(buf.span().first(len));
    }
  }
  put.metadata[std::string(integrity::metadata_key)] =
      integrity::format_recorded({integrity::composite_of(hashes, part_size), part_size});

  SLUICE_CO_TRY(std::string upload_id, co_await c.create_multipart_upload(bucket, key, put));
  std::vector<s3::completed_part> done(parts);
  uint64_t next = 0;
  std::optional<error> first_error;
  const unsigned workers = static_cast<unsigned>(std::min<uint64_t>(std::max(1u, opts.concurrency), parts));
  co_await run_concurrently(workers, [&](unsigned) -> awaitable<void> {
    aligned_buffer buf(static_cast<std::size_t>(part_size));
    while (!first_error && next < parts) {
      uint64_t i = next++;
      uint64_t off = i * part_size;
      std::size_t len = static_cast<std::size_t>(std::min(part_size, size - off));
      auto rd = pread_exact(fd.get(), buf.span().first(len), off, local_path);
      if (rd && integrity::xxh3(buf.span().first(len)) != hashes[i])
        rd = fail(errc::io_error, "'" + local_path + "' changed while it was being uploaded");
      if (!rd) {
        if (!first_error) first_error = rd.error();
        co_return;
      }
      auto etag = co_await c.upload_part(bucket, key, upload_id, static_cast<int>(i + 1), buf.span().first(len));
      if (!etag) {
        if (!first_error) first_error = etag.error();
        co_return;
      }
      done[i] = {static_cast<int>(i + 1), std::move(*etag)};
    }
  });
  if (!first_error) {
    auto completed = co_await c.complete_multipart_upload(bucket, key, upload_id, done);
    if (!completed) first_error = completed.error();
  }
  if (first_error) {
    (void)co_await c.abort_multipart_upload(bucket, key, upload_id);
    co_return *first_error;
  }
  stats.bytes = size;
  stats.objects = 1;
  stats.parts = parts;
  co_return stats;
}

awaitable<result<transfer_stats>> download_file(s3::client& c, std::string_view bucket_in, std::string_view key_in,
                                                std::string_view local_path_in) {
  const std::string bucket(bucket_in), key(key_in);
  std::string local_path(local_path_in);
  if (key.empty() || key.back() == '/')
    co_return fail(errc::invalid_argument, "'" + url_of(bucket, key) + "' names no object (use -r for a prefix)");
  std::error_code fec;
  if (std::filesystem::is_directory(local_path, fec)) {
    auto slash = key.rfind('/');
    local_path = (std::filesystem::path(local_path) / key.substr(slash == std::string::npos ? 0 : slash + 1)).string();
  }
  const std::string object = url_of(bucket, key);
  const std::string tmp = temp_name_for(local_path);
  unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) co_return io_fail("cannot create", tmp, errno);
  struct cleanup {
    const std::string& path;
    bool keep = false;
    ~cleanup() {
      if (!keep) ::unlink(path.c_str());
    }
  } guard{tmp};

  transfer_stats stats;
  for (int attempt = 1;; ++attempt) {
    file_sink sink(object, c.options().verify_integrity, fd.get(), tmp);
    auto got = co_await c.get_object(bucket, key, std::nullopt, sink);
    if (got) {
      stats.bytes = got->bytes;
      break;
    }
    if (got.error().code == errc::integrity_mismatch && attempt < 2) continue;
    co_return got.error();
  }
  if (::fsync(fd.get()) != 0) co_return io_fail("cannot sync", tmp, errno);
  fd.reset();
  if (::rename(tmp.c_str(), local_path.c_str()) != 0) co_return io_fail("cannot rename into", local_path, errno);
  guard.keep = true;
  stats.objects = 1;
  stats.parts = 1;
  co_return stats;
}

awaitable<result<transfer_stats>> stream_object(s3::client& c, std::string_view bucket, std::string_view key,
                                                const std::function<result<void>(std::span<const std::byte>)>& consumer) {
  callback_sink sink(url_of(bucket, key), c.options().verify_integrity, consumer);
  SLUICE_CO_TRY(s3::get_result got, co_await c.get_object(bucket, key, std::nullopt, sink));
  transfer_stats stats;
  stats.bytes = got.bytes;
  stats.objects = 1;
  co_return stats;
}

awaitable<result<s3::list_page>> list(s3::client& c, std::string_view bucket, std::string_view prefix, bool recursive) {
  co_return co_await c.list_all(bucket, prefix, recursive ? "" : "/");
}

awaitable<result<remove_stats>> remove(s3::client& c, std::string_view bucket, std::string_view key, bool recursive) {
  remove_stats out;
  if (!recursive) {
    if (key.empty()) co_return fail(errc::invalid_argument, "'" + url_of(bucket, key) + "' names no object (use -r)");
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
