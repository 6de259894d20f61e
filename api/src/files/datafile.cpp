#include <sluice/files/datafile.hpp>

#include <sluice/engine/codec/crc32c.hpp>
#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/npy/npy.hpp>

#include "store/local_files.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <vector>

namespace sluice::files {

using boost::asio::awaitable;
namespace json = boost::json;

namespace {

constexpr std::string_view names[] = {"id", "timestamp", "labels", "tags"};

bool lower_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Python's json.dumps(ensure_ascii=True): every code point past ASCII as \uXXXX (a surrogate pair
// past the BMP). Boost.JSON writes valid UTF-8, and only inside strings, so the rest is left as is.
std::string ascii_escaped(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  auto hex4 = [&](unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", v & 0xFFFFu);
    out += buf;
  };
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    unsigned cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
    for (int k = 1; k < len && i + k < utf8.size(); ++k) cp = (cp << 6) | (utf8[i + k] & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      hex4(0xD800 + (cp >> 10));
      hex4(0xDC00 + (cp & 0x3FF));
    } else {
      hex4(cp);
    }
  }
  return out;
}

// A finite double as Python's repr writes it: the shortest digits that read back, positional for
// exponents -4 to 15 ("100000.0", "0.0001", "1.5"), else scientific ("1e+16", "1.5e-05").
std::string python_float(double d) {
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  if (ec != std::errc()) return "null";
  const std::string sci(buf, end);  // "-1.2345e+05"
  const auto e = sci.find('e');
  const int exp = std::atoi(sci.c_str() + e + 1);
  std::string mant = sci.substr(0, e);
  const bool negative = !mant.empty() && mant[0] == '-';
  if (negative) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<std::size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(exp) + 1) + "." +
             digits.substr(static_cast<std::size_t>(exp) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ex[16];
  std::snprintf(ex, sizeof ex, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + ex;
}

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || i + len > s.size()) return false;
    unsigned cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += len;
  }
  return true;
}

// Every string and object key in `v` is well-formed UTF-8.
bool json_is_utf8(const json::value& v) {
  if (v.is_string()) return valid_utf8(v.get_string());
  if (v.is_array()) return std::all_of(v.get_array().begin(), v.get_array().end(), json_is_utf8);
  if (v.is_object())
    for (const auto& kv : v.get_object())
      if (!valid_utf8(kv.key()) || !json_is_utf8(kv.value())) return false;
  return true;
}

// JSON with object keys sorted at every level, ASCII only: one text per value.
void canonical(const json::value& v, std::string& out) {
  if (v.is_object()) {
    std::vector<std::pair<std::string_view, const json::value*>> items;
    for (const auto& kv : v.get_object()) items.emplace_back(kv.key(), &kv.value());
    std::sort(items.begin(), items.end());
    out += '{';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ',';
      out += ascii_escaped(json::serialize(json::string(items[i].first)));
      out += ':';
      canonical(*items[i].second, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : v.get_array()) {
      if (!first) out += ',';
      first = false;
      canonical(e, out);
    }
    out += ']';
  } else if (v.is_double()) {
    // The shortest text that reads back as the same double, as Python writes floats ("1.5", "1e-07",
    // "2.0"), not Boost.JSON's "1.5E0". JSON has no NaN or infinities: null, as Boost.JSON writes them.
    const double d = v.get_double();
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
    out += python_float(d);
  } else {
    out += ascii_escaped(json::serialize(v));
  }
}

std::string canonical(const json::value& v) {
  std::string out;
  canonical(v, out);
  return out;
}

json::array labels_json(const std::set<std::string>& labels) {
  json::array a;
  for (const auto& l : labels) a.emplace_back(json::string(l));
  return a;
}

json::value timestamp_json(const std::string& t) {
  if (t.empty()) return nullptr;
  return json::string(t);
}

// The metadata without its id, canonical: what metadata_hash and change detection compare.
std::string describing_text(const datafile_metadata& m) {
  json::object o;
  o["labels"] = labels_json(m.labels);
  o["tags"] = m.tags;
  o["timestamp"] = timestamp_json(m.timestamp);
  return canonical(o);
}

std::string everything_text(const datafile_metadata& m) {
  return m.id + "\n" + describing_text(m);
}

result<json::value> parse_json(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return fail(errc::invalid_argument, std::string(what) + ": not JSON (" + ec.message() + ")");
  return v;
}

// octue's JSON decoder turns {"_type": "set", "items": [...]} into a set and
// {"_type": "datetime", "value": "..."} into a datetime: newer octue versions write those.
const json::value& untyped(const json::value& v, std::string_view field) {
  if (!v.is_object()) return v;
  const auto& o = v.get_object();
  auto type = o.find("_type");
  if (type == o.end() || !type->value().is_string()) return v;
  if (auto it = o.find(field); it != o.end()) return it->value();
  return v;
}

result<void> set_timestamp(datafile_metadata& m, const json::value& raw, std::string_view what) {
  const json::value& v = untyped(raw, "value");
  if (v.is_null()) {
    m.timestamp.clear();
    return {};
  }
  if (v.is_number()) {
    const double secs = v.to_number<double>();
    // Years 1 to 9999, as ISO 8601 and Python's datetime have them.
    if (!(secs >= -62135596800.0 && secs < 253402300800.0))
      return fail(errc::invalid_argument, std::string(what) + ": the timestamp " + canonical(v) +
                                              " is not a time between the years 1 and 9999");
    m.timestamp = timestamp_from_posix(secs);
    return {};
  }
  if (!v.is_string())
    return fail(errc::invalid_argument, std::string(what) + ": the timestamp is not a string");
  auto t = normalize_timestamp(v.get_string());
  if (!t) {
    auto e = t.error();
    e.message = std::string(what) + ": " + e.message;
    return e;
  }
  m.timestamp = std::move(*t);
  return {};
}

result<void> set_labels(datafile_metadata& m, const json::value& raw, std::string_view what) {
  const json::value& v = untyped(raw, "items");
  m.labels.clear();
  if (v.is_null()) return {};
  if (v.is_string()) {  // octue also accepts labels as one space-separated string
    std::string_view s = v.get_string();
    for (std::size_t at = 0; at < s.size();) {
      const std::size_t end = std::min(s.find(' ', at), s.size());
      if (end > at) m.labels.emplace(s.substr(at, end - at));
      at = end + 1;
    }
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      if (!e.is_string())
        return fail(errc::invalid_argument, std::string(what) + ": a label is not a string");
      m.labels.emplace(e.get_string());
    }
  } else {
    return fail(errc::invalid_argument, std::string(what) + ": the labels are not a list");
  }
  for (const auto& l : m.labels) {
    if (auto ok = validate_label(l); !ok) {
      auto e = ok.error();
      e.message = std::string(what) + ": " + e.message;
      return e;
    }
  }
  return {};
}

result<void> set_tags(datafile_metadata& m, const json::value& v, std::string_view what) {
  m.tags.clear();
  if (v.is_null()) return {};
  if (!v.is_object()) return fail(errc::invalid_argument, std::string(what) + ": the tags are not an object");
  for (const auto& kv : v.get_object()) {
    if (auto ok = validate_tag_name(kv.key()); !ok) {
      auto e = ok.error();
      e.message = std::string(what) + ": " + e.message;
      return e;
    }
  }
  m.tags = v.get_object();
  return {};
}

result<void> set_id(datafile_metadata& m, const json::value& v, std::string_view what) {
  if (!v.is_string() || v.get_string().empty())
    return fail(errc::invalid_argument, std::string(what) + ": the id is not a string");
  m.id = std::string(v.get_string());
  return {};
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

result<void> validate_label(std::string_view label) {
  const bool ok =
      !label.empty() && label.front() != '-' && label.back() != '-' &&
      std::all_of(label.begin(), label.end(), [](char c) { return lower_or_digit(c) || c == '-'; });
  if (!ok)
    return fail(errc::invalid_argument,
                "label '" + std::string(label) +
                    "' is not valid: labels are lowercase letters, digits and '-', not first or last");
  return {};
}

result<void> validate_tag_name(std::string_view name) {
  const bool ok = !name.empty() && name.front() != '_' && name.back() != '_' &&
                  std::all_of(name.begin(), name.end(), [](char c) { return lower_or_digit(c) || c == '_'; });
  if (!ok)
    return fail(errc::invalid_argument,
                "tag name '" + std::string(name) +
                    "' is not valid: tag names are lowercase letters, digits and '_', not first or last");
  return {};
}

result<std::string> normalize_timestamp(std::string_view t) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_argument, "timestamp '" + std::string(t) + "' is not ISO 8601 (" +
                                            std::string(why) + "; e.g. 2024-05-01T12:00:00+00:00)");
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(t, 0, 4, year) || t.size() < 10 || t[4] != '-' || !digits(t, 5, 2, month) || t[7] != '-' ||
      !digits(t, 8, 2, day))
    return bad("the date is not YYYY-MM-DD");
  static constexpr int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1]) return bad("no such date");
  if (month == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    return bad("no such date");
  if (t.size() == 10) return std::string(t);
  if (t[10] != 'T' && t[10] != ' ') return bad("the date and the time are not separated by 'T'");
  std::size_t at = 11;
  if (!digits(t, at, 2, hour) || at + 2 >= t.size() + 0 || t[at + 2] != ':' || !digits(t, at + 3, 2, minute))
    return bad("the time is not HH:MM");
  at += 5;
  if (at < t.size() && t[at] == ':') {
    if (!digits(t, at + 1, 2, second)) return bad("the seconds are not SS");
    at += 3;
    if (at < t.size() && t[at] == '.') {
      std::size_t end = at + 1;
      while (end < t.size() && t[end] >= '0' && t[end] <= '9') ++end;
      if (end == at + 1) return bad("the fraction of a second has no digits");
      at = end;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return bad("no such time");
  std::string out(t.substr(0, at));
  if (at == t.size()) return out;
  if (t.substr(at) == "Z") return out + "+00:00";
  int oh = 0, om = 0;
  if ((t[at] != '+' && t[at] != '-') || t.size() != at + 6 || !digits(t, at + 1, 2, oh) || t[at + 3] != ':' ||
      !digits(t, at + 4, 2, om) || oh > 23 || om > 59)
    return bad("the offset is not Z or +HH:MM");
  return out + std::string(t.substr(at));
}

std::string timestamp_from_posix(double seconds) {
  // Outside years 1..9999 (set_timestamp refuses those) the nearest end.
  seconds = std::clamp(seconds, -62135596800.0, 253402300799.0);
  const double whole = std::floor(seconds);
  const auto t = static_cast<std::time_t>(whole);
  std::tm tm{};
  char buf[64];
  if (::gmtime_r(&t, &tm) == nullptr) return "1970-01-01T00:00:00+00:00";
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  const auto micros = static_cast<long>(std::lround((seconds - whole) * 1e6));
  if (micros > 0 && micros < 1000000) {
    std::snprintf(buf, sizeof buf, ".%06ld", micros);
    out += buf;
  }
  return out + "+00:00";
}

result<void> validate(const datafile_metadata& m) {
  for (const auto& l : m.labels) SLUICE_TRY_VOID(validate_label(l));
  for (const auto& kv : m.tags) {
    SLUICE_TRY_VOID(validate_tag_name(kv.key()));
    if (!json_is_utf8(kv.value()))
      return fail(errc::invalid_argument,
                  "tag '" + std::string(kv.key()) + "' holds text that is not valid UTF-8");
  }
  if (!m.timestamp.empty()) SLUICE_TRY_VOID(normalize_timestamp(m.timestamp));
  return {};
}

std::string new_id() {
  // getrandom(2): the kernel's generator, one call (a std::random_device per id costs more than the
  // rest of a small file's push).
  std::array<unsigned char, 16> b{};
  for (std::size_t got = 0; got < b.size();) {
    const ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xF];
  }
  return out;
}

std::map<std::string, std::string> to_user_metadata(const datafile_metadata& m) {
  return {
      {"octue__id", canonical(json::string(m.id))},
      {"octue__timestamp", canonical(timestamp_json(m.timestamp))},
      {"octue__labels", canonical(labels_json(m.labels))},
      {"octue__tags", canonical(m.tags)},
  };
}

result<std::optional<datafile_metadata>> from_user_metadata(const std::map<std::string, std::string>& meta,
                                                            std::string_view what) {
  datafile_metadata m;
  bool any = false;
  for (auto name : names) {
    auto it = meta.find("octue__" + std::string(name));
    if (it == meta.end()) it = meta.find("octue--" + std::string(name));  // radosgw's spelling
    if (it == meta.end()) continue;
    any = true;
    const std::string field = std::string(what) + ": metadata octue__" + std::string(name);
    SLUICE_TRY(json::value v, parse_json(it->second, field));
    if (name == "id") SLUICE_TRY_VOID(set_id(m, v, field));
    if (name == "timestamp") SLUICE_TRY_VOID(set_timestamp(m, v, field));
    if (name == "labels") SLUICE_TRY_VOID(set_labels(m, v, field));
    if (name == "tags") SLUICE_TRY_VOID(set_tags(m, v, field));
  }
  if (!any) return std::optional<datafile_metadata>{};
  return std::optional<datafile_metadata>(std::move(m));
}

std::size_t user_metadata_bytes(const std::map<std::string, std::string>& meta) {
  std::size_t n = 0;
  for (const auto& [k, v] : meta) n += k.size() + v.size();
  return n;
}

std::string sidecar_path(std::string_view file) {
  const std::filesystem::path p(file);
  const auto dir = p.parent_path();
  const std::string name = "." + p.filename().string() + ".sluice.json";
  return dir.empty() ? name : (dir / name).string();
}

std::string canonical_json(const json::value& v) {
  return canonical(v);
}

std::string metadata_hash(const datafile_metadata& m) {
  return integrity::to_hex(integrity::xxh3(describing_text(m)));
}

result<content_hashes> hash_file(const std::string& path, std::uint64_t part_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_fail("cannot open", path, errno);
  integrity::content_hasher hasher(part_size);
  std::uint32_t crc = 0;
  // A buffer as large as the file (up to 4 MiB), left uninitialised: zeroing 4 MiB for each small file
  // of a dataset would cost more than reading it.
  struct stat st {};
  const std::size_t want =
      ::fstat(fd, &st) == 0 && st.st_size > 0
          ? std::min<std::size_t>(static_cast<std::size_t>(st.st_size) + 1, std::size_t{4} << 20)
          : std::size_t{64} << 10;
  auto storage = std::make_unique_for_overwrite<std::byte[]>(want);
  const std::span<std::byte> buf(storage.get(), want);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return os_fail("cannot read", path, err);
    }
    if (n == 0) break;
    const std::span<const std::byte> piece(buf.data(), static_cast<std::size_t>(n));
    hasher.update(piece);
    crc = codec::crc32c_extend(crc, piece);
  }
  ::close(fd);
  content_hashes out;
  out.xxh3 = integrity::format_recorded({hasher.digest(), part_size});
  const std::array<unsigned char, 4> be = {
      static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
      static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  static constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned v0 = (be[0] << 16) | (be[1] << 8) | be[2];
  out.crc32c = {b64[(v0 >> 18) & 63],
                b64[(v0 >> 12) & 63],
                b64[(v0 >> 6) & 63],
                b64[v0 & 63],
                b64[be[3] >> 2],
                b64[(be[3] & 3) << 4],
                '=',
                '='};
  return out;
}

// ---- datafile -------------------------------------------------------------------------------------

namespace {

struct sidecar_contents {
  datafile_metadata meta;
  std::string generation;
};

result<std::optional<sidecar_contents>> read_sidecar(const std::string& file) {
  const std::string path = sidecar_path(file);
  std::vector<std::byte> bytes;
  auto n = npy::read_bytes_into(path, bytes, std::size_t{1} << 20);
  if (!n && n.error().code == condition::not_found) return std::optional<sidecar_contents>{};
  if (!n && n.error().code == errc::too_large)
    return fail(errc::too_large, path + ": a sidecar over 1 MiB is not one sluice wrote");
  if (!n) return n.error();
  const std::string text(reinterpret_cast<const char*>(bytes.data()), *n);
  SLUICE_TRY(json::value v, parse_json(text, path));
  if (!v.is_object()) return fail(errc::invalid_argument, path + ": not a JSON object");
  const auto& o = v.get_object();
  sidecar_contents out;
  auto field = [&](std::string_view name) -> const json::value* {
    auto it = o.find(name);
    return it == o.end() ? nullptr : &it->value();
  };
  if (auto* id = field("id")) SLUICE_TRY_VOID(set_id(out.meta, *id, path));
  if (auto* t = field("timestamp")) SLUICE_TRY_VOID(set_timestamp(out.meta, *t, path));
  if (auto* l = field("labels")) SLUICE_TRY_VOID(set_labels(out.meta, *l, path));
  if (auto* t = field("tags")) SLUICE_TRY_VOID(set_tags(out.meta, *t, path));
  if (auto* g = field("generation"); g && g->is_string()) out.generation = std::string(g->get_string());
  if (out.meta.id.empty()) out.meta.id = new_id();
  return std::optional<sidecar_contents>(std::move(out));
}

}  // namespace

result<void> datafile::write_sidecar(const std::string& downloaded_generation) const {
  json::object o;
  o["id"] = meta_.id;
  o["timestamp"] = timestamp_json(meta_.timestamp);
  o["labels"] = labels_json(meta_.labels);
  o["tags"] = meta_.tags;
  if (!downloaded_generation.empty()) o["generation"] = downloaded_generation;
  const std::string text = canonical(o) + "\n";
  SLUICE_TRY_VOID(store::detail::replace_file(sidecar_path(path_), std::as_bytes(std::span(text)), false));
  stored_ = true;
  return {};
}

result<datafile> datafile::local(std::string path) {
  if (path.empty()) return fail(errc::invalid_argument, "a datafile needs a path");
  datafile d;
  d.path_ = std::move(path);
  SLUICE_TRY(auto side, read_sidecar(d.path_));
  if (side) {
    d.meta_ = std::move(side->meta);
    d.local_generation_ = std::move(side->generation);
    d.stored_ = true;
  } else {
    d.meta_.id = new_id();
  }
  return d;
}

awaitable<result<void>> datafile::refresh_cloud() {
  auto& c = *cloud_;
  SLUICE_CO_TRY(std::optional<store::read_result> st, co_await c.st->stat(c.key));
  c.exists = st.has_value();
  c.octue_metadata.clear();
  c.other_metadata.clear();
  if (!st) co_return result<void>{};
  c.size = st->size;
  c.generation = st->gen.tag;
  c.recorded_xxh3 = st->recorded_xxh3;
  c.last_modified = st->last_modified;
  c.content_type = st->content_type;
  for (const auto& [k, v] : st->metadata) {
    const bool octue = k.starts_with("octue__") || k.starts_with("octue--");
    (octue ? c.octue_metadata : c.other_metadata).emplace(k, v);
  }
  co_return result<void>{};
}

awaitable<result<datafile>> datafile::cloud(const std::shared_ptr<store::store>& st, std::string_view key,
                                            std::string_view local_path) {
  if (!st || key.empty()) co_return fail(errc::invalid_argument, "a cloud datafile needs a store and a key");
  datafile d;
  d.path_ = std::string(local_path);
  d.cloud_.emplace();
  d.cloud_->st = st;
  d.cloud_->key = std::string(key);
  SLUICE_CO_TRY_VOID(co_await d.refresh_cloud());
  SLUICE_CO_TRY(std::optional<datafile_metadata> found,
                from_user_metadata(d.cloud_->octue_metadata, st->describe(key)));
  if (found) {
    d.stored_ = true;
    d.meta_ = std::move(*found);
    if (d.meta_.id.empty()) d.meta_.id = new_id();
  } else {
    d.meta_.id = new_id();
  }
  // A local copy downloaded earlier: its sidecar says from which generation, and holds the id given
  // to an object that stores none.
  if (!d.path_.empty() && file_exists(d.path_)) {
    SLUICE_CO_TRY(auto side, read_sidecar(d.path_));
    if (side) {
      d.local_generation_ = side->generation;
      if (!found && !side->generation.empty() && side->generation == d.cloud_->generation)
        d.meta_ = std::move(side->meta);
    }
  }
  co_return d;
}

bool datafile::exists_locally() const {
  return file_exists(path_);
}

std::string datafile::cloud_url() const {
  return cloud_ ? cloud_->st->describe(cloud_->key) : std::string();
}

std::uint64_t datafile::size() const {
  if (cloud_ && cloud_->exists && (!exists_locally() || local_generation_ == cloud_->generation))
    return cloud_->size;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) return static_cast<std::uint64_t>(st.st_size);
  return 0;
}

std::string datafile::last_modified() const {
  return cloud_ && cloud_->exists ? cloud_->last_modified : "";
}

result<std::string> datafile::hash_value() const {
  if (cloud_ && cloud_->exists && !cloud_->recorded_xxh3.empty() &&
      (!exists_locally() || local_generation_ == cloud_->generation))
    return cloud_->recorded_xxh3;
  if (!exists_locally())
    return fail(errc::not_found,
                (cloud_ ? cloud_url() : path_) + ": no content to hash here" +
                    (cloud_ && cloud_->exists ? " (the object records no XXH3: download it)" : ""));
  SLUICE_TRY(content_hashes h, hash_file(path_));
  return h.xxh3;
}

awaitable<result<content_hashes>> datafile::content_hash() {
  if (cloud_ && !exists_locally()) SLUICE_CO_TRY_VOID(co_await download());
  std::uint64_t part_size = 0;
  if (cloud_ && cloud_->exists && local_generation_ == cloud_->generation)
    if (auto r = integrity::parse_recorded(cloud_->recorded_xxh3)) part_size = r->part_size;
  co_return hash_file(path_, part_size);
}

awaitable<result<void>> datafile::download() {
  if (!cloud_) co_return result<void>{};
  if (path_.empty()) co_return fail(errc::invalid_argument, cloud_url() + ": no local path to download to");
  const std::string known = cloud_->generation;
  SLUICE_CO_TRY_VOID(co_await refresh_cloud());
  if (!cloud_->exists) co_return fail(errc::not_found, cloud_url() + ": no such object");
  // Another writer changed the object since it was read: its metadata comes with its new content.
  if (cloud_->generation != known && !cloud_->octue_metadata.empty()) {
    SLUICE_CO_TRY(std::optional<datafile_metadata> found,
                  from_user_metadata(cloud_->octue_metadata, cloud_url()));
    if (found) {
      if (found->id.empty()) found->id = meta_.id;
      meta_ = std::move(*found);
    }
  }
  if (exists_locally() && local_generation_ == cloud_->generation) co_return result<void>{};
  std::error_code ec;
  const auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) co_return os_fail("cannot create directory", parent.string(), ec.value());
  auto& c = *cloud_;
  SLUICE_CO_TRY(store::read_result r, co_await c.st->read_to_file(c.key, path_));
  if (r.state != store::read_state::value) co_return fail(errc::not_found, cloud_url() + ": no such object");
  // The generation the bytes came from, which a concurrent writer may have made newer than the
  // one the stat saw.
  if (!r.gen.tag.empty()) c.generation = r.gen.tag;
  local_generation_ = c.generation;
  co_return write_sidecar(local_generation_);
}

awaitable<result<void>> datafile::upload(const std::shared_ptr<store::store>& st, std::string_view key) {
  if (!st || key.empty()) co_return fail(errc::invalid_argument, "an upload needs a store and a key");
  if (!cloud_ || cloud_->st != st || cloud_->key != key) {
    cloud_.emplace();
    cloud_->st = st;
    cloud_->key = std::string(key);
    SLUICE_CO_TRY_VOID(co_await refresh_cloud());
  }
  co_return co_await upload();
}

awaitable<result<void>> datafile::upload() {
  if (!cloud_) co_return fail(errc::invalid_argument, path_ + ": no cloud location to upload to");
  if (!exists_locally())
    co_return fail(errc::not_found, path_ + ": no local content to upload to " + cloud_url());
  SLUICE_CO_TRY_VOID(validate(meta_));
  auto& c = *cloud_;
  store::write_options opts;
  opts.metadata = c.other_metadata;
  for (auto& [k, v] : to_user_metadata(meta_)) opts.metadata[k] = v;
  // sluice's recorded hash comes on top: "sluice-xxh3" and up to "<16 hex>/<20 digits>".
  const std::size_t bytes = user_metadata_bytes(opts.metadata) + integrity::metadata_key.size() + 37;
  if (bytes > user_metadata_limit)
    co_return fail(errc::too_large, cloud_url() + ": the metadata would take " + std::to_string(bytes) +
                                        " bytes, over S3's limit of 2 KB of user metadata per object "
                                        "(fewer or shorter tags)");
  SLUICE_CO_TRY(store::generation gen, co_await c.st->write_file(c.key, path_, opts));
  stored_ = true;
  SLUICE_CO_TRY_VOID(co_await refresh_cloud());
  if (!gen.tag.empty()) c.generation = gen.tag;
  local_generation_ = c.generation;
  co_return write_sidecar(local_generation_);
}

awaitable<result<void>> datafile::update_metadata() {
  SLUICE_CO_TRY_VOID(validate(meta_));
  if (cloud_) {
    SLUICE_CO_TRY_VOID(co_await refresh_cloud());
    auto& c = *cloud_;
    if (c.exists) {
      store::write_options opts;
      opts.content_type = c.content_type;
      if (opts.content_type.empty()) opts.content_type = "binary/octet-stream";
      opts.metadata = c.other_metadata;
      for (auto& [k, v] : to_user_metadata(meta_)) opts.metadata[k] = v;
      const std::size_t bytes =
          user_metadata_bytes(opts.metadata) + integrity::metadata_key.size() + c.recorded_xxh3.size();
      if (bytes > user_metadata_limit)
        co_return fail(errc::too_large, cloud_url() + ": the metadata would take " + std::to_string(bytes) +
                                            " bytes, over S3's limit of 2 KB of user metadata per object "
                                            "(fewer or shorter tags)");
      const std::string before = c.generation;
      const bool current = local_generation_ == before;
      auto copied = co_await c.st->copy_from(*c.st, c.key, c.key, opts);
      if (!copied && copied.error().code == condition::unsupported) {
        // A store that copies nothing in place (memory): the value written again, with the new
        // metadata, if it is still the generation read.
        store::read_options ro;
        ro.if_equal = store::generation{c.generation};
        SLUICE_CO_TRY(store::read_result r, co_await c.st->read(c.key, ro));
        if (r.state != store::read_state::value)
          co_return fail(errc::not_found, cloud_url() + ": no such object");
        copied = co_await c.st->write(c.key, r.bytes.span(), opts);
      }
      SLUICE_CO_TRY(store::generation gen, std::move(copied));
      SLUICE_CO_TRY_VOID(co_await refresh_cloud());
      if (!gen.tag.empty()) c.generation = gen.tag;
      // The local copy stays current only when the object kept its ETag (a single-part object's MD5:
      // the same content). Otherwise another writer may have changed it between the look and the
      // copy, or the copy renamed it (a multipart object's ETag): the next download fetches it.
      if (current && c.generation == before) local_generation_ = c.generation;
    } else if (!exists_locally()) {
      co_return fail(errc::not_found, cloud_url() + ": no such object");
    }
  }
  if (exists_locally()) SLUICE_CO_TRY_VOID(write_sidecar(local_generation_));
  co_return result<void>{};
}

awaitable<result<datafile::handle>> datafile::open(std::string_view mode) {
  std::string_view m = mode;
  std::string base;
  bool plus = false;
  for (char ch : m) {
    if (ch == 'b' || ch == 't') continue;
    if (ch == '+') {
      if (plus) base = "?";
      plus = true;
    } else {
      base += ch;
    }
  }
  if (base != "r" && base != "w" && base != "a")
    co_return fail(errc::invalid_argument,
                   "mode '" + std::string(mode) + "' is not one of r, w, a (with + or b)");
  if (path_.empty()) co_return fail(errc::invalid_argument, cloud_url() + ": no local path to open");
  if (cloud_ && base != "w" && (cloud_->exists || !exists_locally())) SLUICE_CO_TRY_VOID(co_await download());
  if (!cloud_ && base == "r" && !exists_locally()) co_return fail(errc::not_found, path_ + ": no such file");
  const bool writable = base != "r" || plus;
  std::string before;
  if (writable && exists_locally()) {
    SLUICE_CO_TRY(content_hashes h, hash_file(path_));
    before = h.xxh3;
  }
  std::error_code ec;
  const auto parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  const std::string cmode = base + (plus ? "+" : "") + "b";
  std::FILE* f = std::fopen(path_.c_str(), cmode.c_str());
  if (!f) co_return os_fail("cannot open", path_, errno);
  co_return handle(this, f, writable, std::move(before), everything_text(meta_));
}

datafile::handle::handle(datafile* owner, std::FILE* f, bool writable, std::string content_before,
                         std::string metadata_before)
    : owner_(owner),
      file_(f),
      writable_(writable),
      content_before_(std::move(content_before)),
      metadata_before_(std::move(metadata_before)) {}

datafile::handle::handle(handle&& o) noexcept
    : owner_(o.owner_),
      file_(std::exchange(o.file_, nullptr)),
      writable_(o.writable_),
      content_before_(std::move(o.content_before_)),
      metadata_before_(std::move(o.metadata_before_)) {}

datafile::handle::~handle() {
  if (file_) std::fclose(file_);
}

awaitable<result<void>> datafile::handle::close() {
  if (!file_) co_return fail(errc::invalid_argument, "the datafile handle is not open");
  std::FILE* f = std::exchange(file_, nullptr);
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !flushed) co_return os_fail("cannot write", owner_->path_, err ? err : errno);
  datafile& d = *owner_;
  bool content_changed = false;
  if (writable_) {
    SLUICE_CO_TRY(content_hashes h, hash_file(d.path_));
    content_changed = h.xxh3 != content_before_;
  }
  const bool metadata_changed = everything_text(d.meta_) != metadata_before_;
  if (d.cloud_ && (content_changed || (metadata_changed && !d.cloud_->exists))) co_return co_await d.upload();
  if (metadata_changed) co_return co_await d.update_metadata();
  // A new local file gets its sidecar, so its id is kept.
  if (!d.cloud_ && content_changed && !file_exists(sidecar_path(d.path_)))
    co_return d.write_sidecar(d.local_generation_);
  co_return result<void>{};
}

}  // namespace sluice::files
