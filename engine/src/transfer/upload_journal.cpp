// Records of running multipart uploads (see upload_journal.hpp).
#include "transfer/upload_journal.hpp"

#include <sluice/engine/integrity/xxh3.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>

namespace sluice::transfer::detail {

namespace {

constexpr std::string_view record_suffix = ".upload";

std::string hex_of(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out.empty() ? "-" : out;
}

std::optional<std::string> from_hex(std::string_view s) {
  if (s == "-") return std::string();
  if (s.size() % 2) return std::nullopt;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// The first line of a record: what it is about, so another key's record is never touched.
std::string identity(std::string_view endpoint, std::string_view bucket, std::string_view key) {
  return "sluice-upload 1 " + hex_of(endpoint) + " " + hex_of(bucket) + " " + hex_of(key);
}

std::string file_prefix(std::string_view endpoint, std::string_view bucket, std::string_view key) {
  const std::string id = identity(endpoint, bucket, key);
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(integrity::xxh3(id)));
  return std::string(buf) + "-";
}

bool write_all(int fd, std::string_view text, uint64_t offset) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool try_lock(int fd) {
  int r;
  do {
    r = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (r != 0 && errno == EINTR);
  return r == 0;
}

std::string random_name() {
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  unsigned char bytes[6] = {};
  if (::getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof bytes)) {
    uint64_t x = static_cast<uint64_t>(::getpid()) ^
                 static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (auto& b : bytes) b = static_cast<unsigned char>(x >>= 7);
  }
  std::string s;
  for (unsigned char b : bytes) s += alphabet[b % (sizeof alphabet - 1)];
  return s;
}

std::string read_text(int fd) {
  std::string text;
  char buf[4096];
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() > 65536) break;
    text.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  return text;
}

struct parsed_record {
  int64_t began = 0;
  std::string upload_id;
  std::string source;
  std::map<int, std::string> parts;
};

// "<identity>\nbegan <unix>\nsource <hex>\n[upload <hex id>\n][part <n> <hex etag>\n]..."; nullopt
// when it is another key's or unreadable. A torn last line is ignored.
std::optional<parsed_record> parse(std::string_view text, const std::string& expected) {
  if (!text.starts_with(expected + "\n")) return std::nullopt;
  text.remove_prefix(expected.size() + 1);
  parsed_record out;
  bool began = false;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    const std::string line(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    const auto sp = line.find(' ');
    const std::string word = line.substr(0, sp);
    const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (word == "began") {
      long long t = 0;
      began = std::sscanf(rest.c_str(), "%lld", &t) == 1;
      out.began = t;
    } else if (word == "source") {
      if (auto v = from_hex(rest)) out.source = *v;
    } else if (word == "upload") {
      if (auto v = from_hex(rest)) out.upload_id = *v;
    } else if (word == "part") {
      const auto sp2 = rest.find(' ');
      int n = 0;
      if (sp2 == std::string::npos || std::sscanf(rest.c_str(), "%d", &n) != 1) continue;
      if (auto v = from_hex(rest.substr(sp2 + 1))) out.parts[n] = *v;
    }
  }
  if (!began) return std::nullopt;
  return out;
}

}  // namespace

std::unique_ptr<upload_record> upload_record::begin(const std::string& dir, std::string_view endpoint,
                                                    std::string_view bucket, std::string_view key,
                                                    std::string_view source) {
  const std::string uploads = dir + "/uploads";
  std::error_code ec;
  std::filesystem::create_directories(uploads, ec);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const std::string path =
        uploads + "/" + file_prefix(endpoint, bucket, key) + random_name() + std::string(record_suffix);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return nullptr;
    }
    if (!try_lock(fd)) {
      ::close(fd);
      continue;
    }
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const std::string text = identity(endpoint, bucket, key) + "\nbegan " + std::to_string(now) +
                             "\nsource " + hex_of(source) + "\n";
    std::unique_ptr<upload_record> r(new upload_record(path, fd));
    if (!write_all(fd, text, 0) || ::fdatasync(fd) != 0) {
      r->finished();
      return nullptr;
    }
    r->size_ = text.size();
    return r;
  }
  return nullptr;
}

void upload_record::set_upload_id(std::string_view id) {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  const std::string line = "upload " + hex_of(id) + "\n";
  if (write_all(fd_, line, size_)) {
    size_ += line.size();
    ::fdatasync(fd_);
  }
}

void upload_record::add_part(int number, std::string_view etag) {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  const std::string line = "part " + std::to_string(number) + " " + hex_of(etag) + "\n";
  if (write_all(fd_, line, size_)) size_ += line.size();
}

void upload_record::finished() noexcept {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

upload_record::~upload_record() {
  if (fd_ >= 0) ::close(fd_);
}

stale_record::stale_record(stale_record&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(o.fd_),
      upload_id_(std::move(o.upload_id_)),
      began_(o.began_),
      source_(std::move(o.source_)),
      parts_(std::move(o.parts_)) {
  o.fd_ = -1;
}

stale_record::~stale_record() {
  if (fd_ >= 0) ::close(fd_);
}

void stale_record::remove() noexcept {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

upload_records find_upload_records(const std::string& dir, std::string_view endpoint, std::string_view bucket,
                                   std::string_view key) {
  upload_records out;
  const std::string uploads = dir + "/uploads";
  const std::string prefix = file_prefix(endpoint, bucket, key);
  const std::string expected = identity(endpoint, bucket, key);
  DIR* d = ::opendir(uploads.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.starts_with(prefix) && n.ends_with(record_suffix)) names.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    const std::string path = uploads + "/" + n;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    const bool mine = try_lock(fd);
    const std::string text = read_text(fd);
    auto rec = parse(text, expected);
    if (!rec) {
      // Empty, unlocked and not new: its run died between creating it and writing its
      // header (a live writer locks it first thing). Anything else: another key with the
      // same hash, or being written; not ours.
      struct stat sb {};
      if (mine && text.empty() && ::fstat(fd, &sb) == 0 && sb.st_size == 0 &&
          ::time(nullptr) - sb.st_mtime > 60)
        ::unlink(path.c_str());
      ::close(fd);
      continue;
    }
    if (!mine) {
      if (!rec->upload_id.empty()) out.live_ids.push_back(rec->upload_id);
      ::close(fd);
      continue;
    }
    out.stale.emplace_back(path, fd, std::move(rec->upload_id), rec->began, std::move(rec->source),
                           std::move(rec->parts));
  }
  return out;
}

}  // namespace sluice::transfer::detail
