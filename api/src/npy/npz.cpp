#include <sluice/npy/npz.hpp>

#include "npy/limits.hpp"

#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace sluice::npy {

namespace {

constexpr std::uint32_t local_sig = 0x04034b50, central_sig = 0x02014b50, end_sig = 0x06054b50;
constexpr std::uint32_t end64_sig = 0x06064b50, locator64_sig = 0x07064b50;

std::uint64_t le(std::span<const std::byte> b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint8_t>(b[at + i]);
  return v;
}

void put_le(std::vector<std::byte>& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
}

error corrupt(const std::string& path, const std::string& why) {
  return error(errc::corrupt_data, path + ": not a .npz sluice reads: " + why);
}

}  // namespace

result<std::vector<npz_member>> read_npz(const std::string& path) {
  SLUICE_TRY(std::vector<std::byte> zip, read_bytes(path));
  return parse_npz(zip, path);
}

result<std::vector<npz_member>> parse_npz(std::span<const std::byte> z, std::string_view what) {
  const std::string path(what);
  if (z.size() < 22) return corrupt(path, "too short for a zip archive");
  // The end of central directory record: within the last 64 KiB + 22 bytes (its comment).
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = z.size() > 65557 ? z.size() - 65557 : 0;
  for (std::size_t at = z.size() - 22 + 1; at-- > lowest;)
    if (le(z, at, 4) == end_sig) {
      eocd = at;
      break;
    }
  if (eocd == std::string::npos) return corrupt(path, "no end of central directory (not a zip archive)");
  std::uint64_t count = le(z, eocd + 10, 2), cd_size = le(z, eocd + 12, 4), cd_at = le(z, eocd + 16, 4);
  if ((count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_at == 0xFFFFFFFF) && eocd >= 20 &&
      le(z, eocd - 20, 4) == locator64_sig) {
    const std::uint64_t rec = le(z, eocd - 20 + 8, 8);
    if (rec > z.size() || z.size() - rec < 56 || le(z, rec, 4) != end64_sig)
      return corrupt(path, "a broken zip64 end record");
    count = le(z, rec + 32, 8);
    cd_size = le(z, rec + 40, 8);
    cd_at = le(z, rec + 48, 8);
  }
  if (cd_at > z.size() || cd_size > z.size() - cd_at)
    return corrupt(path, "the central directory lies outside");
  std::vector<npz_member> out;
  std::uint64_t claimed = 0;
  std::size_t at = static_cast<std::size_t>(cd_at);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (at + 46 > z.size() || le(z, at, 4) != central_sig) return corrupt(path, "a broken central directory");
    const auto method = le(z, at + 10, 2);
    const auto crc = static_cast<std::uint32_t>(le(z, at + 16, 4));
    std::uint64_t packed = le(z, at + 20, 4), size = le(z, at + 24, 4);
    const std::size_t name_len = le(z, at + 28, 2), extra_len = le(z, at + 30, 2),
                      comment_len = le(z, at + 32, 2);
    std::uint64_t local = le(z, at + 42, 4);
    if (at + 46 + name_len + extra_len + comment_len > z.size())
      return corrupt(path, "a broken central directory");
    std::string name(reinterpret_cast<const char*>(z.data() + at + 46), name_len);
    // zip64: the sizes and offset that did not fit, in this order, in extra field 0x0001.
    const std::size_t extra_end = at + 46 + name_len + extra_len;
    for (std::size_t e = at + 46 + name_len; e + 4 <= extra_end;) {
      const auto id = le(z, e, 2), len = le(z, e + 2, 2);
      if (e + 4 + len > extra_end) return corrupt(path, "an extra field runs past its entry");
      std::size_t f = e + 4;
      if (id == 1) {
        if (size == 0xFFFFFFFF && f + 8 <= e + 4 + len) size = le(z, f, 8), f += 8;
        if (packed == 0xFFFFFFFF && f + 8 <= e + 4 + len) packed = le(z, f, 8), f += 8;
        if (local == 0xFFFFFFFF && f + 8 <= e + 4 + len) local = le(z, f, 8), f += 8;
      }
      e += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    const std::string what = path + " (member " + name + ")";
    if (!name.ends_with(".npy")) return corrupt(what, "a member that is not a .npy file");
    if (local > z.size() || z.size() - local < 30 || le(z, local, 4) != local_sig)
      return corrupt(what, "a broken local header");
    const std::uint64_t data_at = local + 30 + le(z, local + 26, 2) + le(z, local + 28, 2);
    if (data_at > z.size() || packed > z.size() - data_at)
      return corrupt(what, "the member runs past the end");
    // The size the directory claims, bounded before anything is allocated: a stored member is its
    // bytes; deflate expands at most 1032:1.
    if (method != 0 && method != 8)
      return fail(errc::unsupported, what + ": compression method " + std::to_string(method) +
                                         " (sluice reads stored and deflated members)");
    if (method == 0 && packed != size) return corrupt(what, "a stored member whose sizes differ");
    if (method == 8 && size > packed * 1032 + 1024)
      return corrupt(what, "more bytes than its deflate stream can hold");
    // Members do not share bytes: all of them together decode to at most what the archive can hold.
    claimed += size;
    if (claimed > z.size() * std::uint64_t{1032} + (std::uint64_t{1} << 20))
      return corrupt(what, "the members claim more bytes than the archive can hold");
    if (size > npy::detail::physical_memory())
      return fail(errc::too_large, what + ": larger than this machine's memory");
    npz_member m;
    m.name = name.substr(0, name.size() - 4);
    m.file.resize(static_cast<std::size_t>(size));
    const auto src = z.subspan(static_cast<std::size_t>(data_at), static_cast<std::size_t>(packed));
    if (method == 0) {
      if (!src.empty()) std::memcpy(m.file.data(), src.data(), src.size());
    } else if (method == 8) {
      z_stream s{};
      if (inflateInit2(&s, -15) != Z_OK) return fail(errc::io_error, what + ": zlib cannot start");
      std::size_t in_done = 0, out_done = 0;
      int rc = Z_OK;
      while (rc == Z_OK) {
        const std::size_t in_n =
            std::min<std::size_t>(src.size() - in_done, std::numeric_limits<uInt>::max());
        const std::size_t out_n =
            std::min<std::size_t>(m.file.size() - out_done, std::numeric_limits<uInt>::max());
        s.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(src.data() + in_done));
        s.avail_in = static_cast<uInt>(in_n);
        s.next_out = reinterpret_cast<Bytef*>(m.file.data() + out_done);
        s.avail_out = static_cast<uInt>(out_n);
        rc = inflate(&s, Z_NO_FLUSH);
        in_done += in_n - s.avail_in;
        out_done += out_n - s.avail_out;
        if (rc == Z_OK && in_n == s.avail_in && out_n == s.avail_out) rc = Z_BUF_ERROR;  // no progress
      }
      inflateEnd(&s);
      if (rc != Z_STREAM_END || out_done != m.file.size())
        return corrupt(what, "its deflate stream does not decode");
    }
    std::uint32_t got = 0;
    for (std::size_t off = 0; off < m.file.size();) {
      const std::size_t n = std::min<std::size_t>(m.file.size() - off, std::numeric_limits<uInt>::max());
      got = static_cast<std::uint32_t>(
          crc32(got, reinterpret_cast<const Bytef*>(m.file.data() + off), static_cast<uInt>(n)));
      off += n;
    }
    if (got != crc) return error(errc::integrity_mismatch, what + ": its CRC-32 does not match");
    out.push_back(std::move(m));
  }
  return out;
}

result<void> write_npz(const std::string& path, const std::vector<npz_member>& members) {
  std::vector<std::byte> out, central;
  for (const auto& m : members) {
    const std::string name = m.name + ".npy";
    if (m.file.size() >= 0xFFFFFFFFull || out.size() >= 0xFFFFFFFFull)
      return fail(errc::too_large, path + ": member " + m.name + " is 4 GiB or more (zip64 is not written)");
    if (name.size() > 0xFFFF) return fail(errc::invalid_argument, path + ": a member name is too long");
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(m.file.data()), static_cast<uInt>(m.file.size())));
    const std::uint64_t local = out.size();
    auto header = [&](std::vector<std::byte>& h, bool is_central) {
      put_le(h, is_central ? central_sig : local_sig, 4);
      if (is_central) put_le(h, 20, 2);  // made by
      put_le(h, 20, 2);                  // needed: 2.0
      put_le(h, 0, 2);                   // flags
      put_le(h, 0, 2);                   // stored
      put_le(h, 0, 2);                   // time
      put_le(h, 0x21, 2);                // date: 1980-01-01
      put_le(h, crc, 4);
      put_le(h, m.file.size(), 4);
      put_le(h, m.file.size(), 4);
      put_le(h, name.size(), 2);
      put_le(h, 0, 2);  // extra
      if (is_central) {
        put_le(h, 0, 2);  // comment
        put_le(h, 0, 2);  // disk
        put_le(h, 0, 2);  // internal attributes
        put_le(h, 0, 4);  // external attributes
        put_le(h, local, 4);
      }
      const auto* p = reinterpret_cast<const std::byte*>(name.data());
      h.insert(h.end(), p, p + name.size());
    };
    header(out, false);
    out.insert(out.end(), m.file.begin(), m.file.end());
    header(central, true);
  }
  if (out.size() >= 0xFFFFFFFFull || members.size() >= 0xFFFF)
    return fail(errc::too_large, path + ": the archive would need zip64, which is not written");
  const std::uint64_t cd_at = out.size();
  out.insert(out.end(), central.begin(), central.end());
  put_le(out, end_sig, 4);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, members.size(), 2);
  put_le(out, members.size(), 2);
  put_le(out, central.size(), 4);
  put_le(out, cd_at, 4);
  put_le(out, 0, 2);
  return write_bytes(path, out);
}

std::vector<std::byte> bytes_scalar_npy(std::string_view value) {
  std::string dict =
      "{'descr': '|S" + std::to_string(value.size()) + "', 'fortran_order': False, 'shape': (), }";
  // Magic (6) + version (2) + length (2) + dict + '\n', padded with spaces to a multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::vector<std::byte> out;
  for (char c : std::string_view("\x93NUMPY\x01\x00", 8)) out.push_back(static_cast<std::byte>(c));
  put_le(out, dict.size(), 2);
  for (char c : dict) out.push_back(static_cast<std::byte>(c));
  for (char c : value) out.push_back(static_cast<std::byte>(c));
  return out;
}

result<std::string> read_bytes_scalar(std::span<const std::byte> f, std::string_view what) {
  auto bad = [&] {
    return fail(errc::invalid_argument, std::string(what) + ": not a 0-d array of bytes (|S)");
  };
  if (f.size() < 10 || std::memcmp(f.data(), "\x93NUMPY", 6) != 0) return bad();
  const int major = std::to_integer<int>(f[6]);
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (f.size() < 8 + len_bytes) return bad();
  const std::size_t header_len = le(f, 8, static_cast<int>(len_bytes));
  const std::size_t start = 8 + len_bytes + header_len;
  if (start > f.size()) return bad();
  const std::string header(reinterpret_cast<const char*>(f.data() + 8 + len_bytes), header_len);
  const auto d = header.find("'descr':");
  const auto s = header.find("'|S", d);
  if (d == std::string::npos || s == std::string::npos || header.find("'shape': ()") == std::string::npos)
    return bad();
  const std::size_t n = std::strtoull(header.c_str() + s + 3, nullptr, 10);
  if (n > f.size() - start) return bad();
  std::string v(reinterpret_cast<const char*>(f.data() + start), n);
  while (!v.empty() && v.back() == '\0') v.pop_back();  // numpy pads short values with NULs
  return v;
}

}  // namespace sluice::npy
