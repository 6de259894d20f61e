#include <sluice/npy/npy.hpp>

#include <sluice/engine/codec/endian.hpp>
#include <sluice/engine/codec/transpose.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <optional>

namespace sluice::npy {

namespace {

using zarr::data_type;

constexpr std::string_view magic = "\x93NUMPY";
constexpr std::size_t alignment = 64;  // numpy pads the header so the data starts here

error bad(std::string_view what, std::string msg) {
  return fail(errc::invalid_argument, std::string(what) + ": " + msg);
}
error unsupported(std::string_view what, std::string msg) {
  return fail(errc::unsupported, std::string(what) + ": " + msg);
}

// The one-byte kind and element size of each data type, as in a descr.
struct type_code {
  char kind;
  std::size_t size;
  data_type dtype;
};
constexpr type_code type_codes[] = {
    {'b', 1, data_type::bool_},     {'i', 1, data_type::int8},       {'i', 2, data_type::int16},
    {'i', 4, data_type::int32},     {'i', 8, data_type::int64},      {'u', 1, data_type::uint8},
    {'u', 2, data_type::uint16},    {'u', 4, data_type::uint32},     {'u', 8, data_type::uint64},
    {'f', 2, data_type::float16},   {'f', 4, data_type::float32},    {'f', 8, data_type::float64},
    {'c', 8, data_type::complex64}, {'c', 16, data_type::complex128}};

// The size of one scalar to swap: complex numbers swap their two parts separately.
std::size_t scalar_size(data_type t) {
  return zarr::is_complex(t) ? zarr::element_size(t) / 2 : zarr::element_size(t);
}

// A reader of the header's Python dict literal: what numpy's
// `ast.literal_eval` accepts for the three keys it writes.
class dict_reader {
 public:
  dict_reader(std::string_view text, std::string_view what) : s_(text), what_(what) {}

  void skip_space() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  bool at(char c) {
    skip_space();
    return p_ < s_.size() && s_[p_] == c;
  }
  bool eat(char c) {
    if (!at(c)) return false;
    ++p_;
    return true;
  }
  bool done() {
    skip_space();
    return p_ == s_.size();
  }
  error malformed(std::string_view expected) const {
    std::string near = p_ < s_.size() ? "'" + std::string(s_.substr(p_, 12)) + "'" : "the end";
    for (auto& c : near)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return bad(what_, "malformed header: expected " + std::string(expected) + " at " + near);
  }

  result<std::string> string() {
    skip_space();
    if (p_ >= s_.size() || (s_[p_] != '\'' && s_[p_] != '"')) return malformed("a quoted string");
    const char quote = s_[p_++];
    auto end = s_.find(quote, p_);
    if (end == std::string_view::npos) return malformed("the string's closing quote");
    std::string out(s_.substr(p_, end - p_));
    if (out.find('\\') != std::string::npos) return malformed("a string without escapes");
    p_ = end + 1;
    return out;
  }

  result<bool> boolean() {
    skip_space();
    if (s_.substr(p_).starts_with("True")) {
      p_ += 4;
      return true;
    }
    if (s_.substr(p_).starts_with("False")) {
      p_ += 5;
      return false;
    }
    return malformed("True or False");
  }

  // A tuple of non-negative integers: (), (3,), (3, 4), (3, 4,).
  result<std::vector<std::uint64_t>> shape() {
    if (!eat('(')) return malformed("a shape tuple");
    std::vector<std::uint64_t> dims;
    if (eat(')')) return dims;
    for (;;) {
      skip_space();
      const std::size_t first = p_;
      std::uint64_t v = 0;
      while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
        const unsigned digit = static_cast<unsigned>(s_[p_] - '0');
        if (v > (UINT64_MAX - digit) / 10) return bad(what_, "malformed header: a dimension beyond 2^64");
        v = v * 10 + digit;
        ++p_;
      }
      if (p_ == first) return malformed("a non-negative integer in the shape");
      if (p_ < s_.size() && s_[p_] == 'L') ++p_;  // Python 2's long literal
      dims.push_back(v);
      const bool comma = eat(',');
      if (eat(')')) {
        // A one-element tuple needs its comma: (3) is the integer 3.
        if (dims.size() == 1 && !comma) return malformed("',' in a one-dimensional shape");
        return dims;
      }
      if (!comma) return malformed("',' or ')' in the shape");
    }
  }

 private:
  std::string_view s_;
  std::string_view what_;
  std::size_t p_ = 0;
};

struct descr_info {
  data_type dtype;
  bool big_endian;
};

// `malformed` starts the message for a descr that is not one ("malformed
// header: " in a file).
result<descr_info> parse_descr(std::string_view d, std::string_view what, std::string_view malformed) {
  const std::string quoted = "descr '" + std::string(d) + "'";
  if (d.size() < 2) return bad(what, std::string(malformed) + quoted);
  char order = d[0];
  std::string_view rest = d.substr(1);
  if (order != '<' && order != '>' && order != '=' && order != '|') {
    order = '=';  // numpy accepts a descr without byte order: native
    rest = d;
  }
  const char kind = rest[0];
  std::string_view digits = rest.substr(1);
  std::size_t size = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || size > 1000) {
      size = 0;
      break;
    }
    size = size * 10 + static_cast<std::size_t>(c - '0');
  }
  if (std::string_view("biufc").find(kind) == std::string_view::npos)
    return unsupported(what, quoted +
                                 " is not a numeric or bool type (object, string, datetime, void "
                                 "and structured arrays are not supported)");
  if (digits.empty() || size == 0) return bad(what, std::string(malformed) + quoted);
  for (const auto& t : type_codes) {
    if (t.kind != kind || t.size != size) continue;
    if (order == '|' && size > 1)
      return bad(what, std::string(malformed) + quoted + " needs a byte order ('<' or '>')");
    return descr_info{t.dtype, size > 1 && (order == '>' || (order == '=' && !codec::native_is_little))};
  }
  return unsupported(what,
                     quoted + " has no Zarr data type (supported: b1, i1-i8, u1-u8, f2, f4, f8, c8, c16)");
}

std::uint16_t le16(const std::byte* p) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | std::to_integer<unsigned>(p[1]) << 8);
}
std::uint32_t le32(const std::byte* p) {
  return le16(p) | static_cast<std::uint32_t>(le16(p + 2)) << 16;
}

// element_size * product(shape), or nullopt when it overflows.
std::optional<std::uint64_t> byte_size(data_type t, std::span<const std::uint64_t> shape) {
  std::uint64_t n = zarr::element_size(t);
  for (auto d : shape) {
    if (d == 0) return 0;
  }
  for (auto d : shape) {
    if (n > UINT64_MAX / d) return std::nullopt;
    n *= d;
  }
  return n;
}

}  // namespace

std::string descr_of(data_type dtype) {
  for (const auto& t : type_codes)
    if (t.dtype == dtype) return std::string(1, t.size == 1 ? '|' : '<') + t.kind + std::to_string(t.size);
  return "?";
}

result<header> parse_header(std::span<const std::byte> file, std::string_view what) {
  if (file.size() < magic.size() + 2 || std::memcmp(file.data(), magic.data(), magic.size()) != 0)
    return bad(what, "not a .npy file (it does not start with \\x93NUMPY)");
  header h;
  h.major = std::to_integer<int>(file[6]);
  h.minor = std::to_integer<int>(file[7]);
  if ((h.major != 1 && h.major != 2 && h.major != 3) || h.minor != 0)
    return unsupported(what, ".npy format version " + std::to_string(h.major) + "." +
                                 std::to_string(h.minor) + " (sluice reads 1.0, 2.0 and 3.0)");
  const std::size_t length_size = h.major == 1 ? 2 : 4;
  if (file.size() < 8 + length_size) return bad(what, "the file ends inside its header length");
  const std::uint64_t header_len = h.major == 1 ? le16(file.data() + 8) : le32(file.data() + 8);
  h.data_offset = 8 + length_size + header_len;
  if (file.size() < h.data_offset)
    return bad(what, "the file ends inside its header (" + std::to_string(header_len) + " bytes announced)");
  const std::string_view text(reinterpret_cast<const char*>(file.data()) + 8 + length_size, header_len);

  dict_reader r(text, what);
  if (!r.eat('{')) return r.malformed("'{'");
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<std::uint64_t>> shape;
  while (!r.eat('}')) {
    SLUICE_TRY(std::string key, r.string());
    if (!r.eat(':')) return r.malformed("':'");
    if (key == "descr") {
      if (descr) return bad(what, "malformed header: 'descr' given twice");
      if (r.at('['))
        return unsupported(what, "structured arrays (a descr that is a list of fields) are not supported");
      SLUICE_TRY(descr, r.string());
    } else if (key == "fortran_order") {
      if (fortran) return bad(what, "malformed header: 'fortran_order' given twice");
      SLUICE_TRY(fortran, r.boolean());
    } else if (key == "shape") {
      if (shape) return bad(what, "malformed header: 'shape' given twice");
      SLUICE_TRY(shape, r.shape());
    } else {
      return bad(what, "malformed header: unknown key '" + key +
                           "' (a .npy header has descr, fortran_order "
                           "and shape)");
    }
    if (!r.eat(',')) {
      if (!r.eat('}')) return r.malformed("',' or '}'");
      break;
    }
  }
  if (!r.done()) return r.malformed("the end of the header after '}'");
  if (!descr || !fortran || !shape)
    return bad(what, std::string("malformed header: no '") +
                         (!descr     ? "descr"
                          : !fortran ? "fortran_order"
                                     : "shape") +
                         "'");
  SLUICE_TRY(descr_info d, parse_descr(*descr, what, "malformed header: "));
  h.dtype = d.dtype;
  h.big_endian = d.big_endian;
  h.fortran_order = *fortran;
  h.shape = std::move(*shape);
  auto size = byte_size(h.dtype, h.shape);
  if (!size) return bad(what, "the shape's byte size overflows 64 bits");
  h.data_size = *size;
  return h;
}

result<header> layout_of(std::string_view descr, bool fortran_order, std::vector<std::uint64_t> shape,
                         std::string_view what) {
  SLUICE_TRY(descr_info d, parse_descr(descr, what, "not a numpy dtype: "));
  header h;
  h.dtype = d.dtype;
  h.big_endian = d.big_endian;
  h.fortran_order = fortran_order;
  h.shape = std::move(shape);
  auto size = byte_size(h.dtype, h.shape);
  if (!size) return bad(what, "the shape's byte size overflows 64 bits");
  h.data_size = *size;
  return h;
}

result<array> parse(std::span<const std::byte> file, std::string_view what) {
  SLUICE_TRY(header h, parse_header(file, what));
  const std::uint64_t present = file.size() - h.data_offset;
  if (present < h.data_size)
    return bad(what, "the file is shorter than its header says (" + std::to_string(present) +
                         " bytes of data, the shape needs " + std::to_string(h.data_size) + ")");
  if (present > h.data_size)
    return bad(what, "the file is longer than its header says (" + std::to_string(present) +
                         " bytes of data, the shape needs " + std::to_string(h.data_size) + ")");
  return to_native(
      h, std::vector<std::byte>(file.begin() + static_cast<std::ptrdiff_t>(h.data_offset), file.end()), what);
}

result<array> to_native(const header& h, std::vector<std::byte> data, std::string_view what) {
  if (data.size() != h.data_size)
    return bad(what, std::to_string(data.size()) + " bytes of elements, the shape needs " +
                         std::to_string(h.data_size));
  array a;
  a.shape = h.shape;
  a.dtype = h.dtype;
  a.data = std::move(data);
  if (h.big_endian == codec::native_is_little) codec::swap_bytes(a.data, scalar_size(a.dtype));
  if (h.fortran_order && a.shape.size() > 1 && !a.data.empty()) {
    // Fortran order is C order of the reversed shape: the transpose codec's
    // encoded form with order = [rank-1, ..., 0].
    std::vector<unsigned> order(a.shape.size());
    std::iota(order.rbegin(), order.rend(), 0u);
    std::vector<std::byte> c_order(a.data.size());
    SLUICE_TRY_VOID(
        codec::inverse_transpose(a.data, c_order, a.shape, order, zarr::element_size(a.dtype), what));
    a.data = std::move(c_order);
  }
  return a;
}

result<std::vector<std::byte>> format(data_type dtype, std::span<const std::uint64_t> shape,
                                      std::span<const std::byte> data) {
  auto size = byte_size(dtype, shape);
  if (!size) return fail(errc::invalid_argument, "npy: the shape's byte size overflows 64 bits");
  if (*size != data.size())
    return fail(errc::invalid_argument, "npy: " + std::to_string(data.size()) +
                                            " bytes of data for a shape of " + std::to_string(*size));
  std::string dict = "{'descr': '" + descr_of(dtype) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // Padded with spaces and a final '\n' so the data starts on a 64-byte boundary.
  int major = 1;
  std::size_t prefix = magic.size() + 2 + 2;
  std::size_t total = (prefix + dict.size() + 1 + alignment - 1) / alignment * alignment;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = magic.size() + 2 + 4;
    total = (prefix + dict.size() + 1 + alignment - 1) / alignment * alignment;
  }
  const std::size_t header_len = total - prefix;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';

  std::vector<std::byte> out;
  out.reserve(total + data.size());
  auto put = [&](std::string_view s) {
    for (char c : s) out.push_back(static_cast<std::byte>(c));
  };
  put(magic);
  out.push_back(static_cast<std::byte>(major));
  out.push_back(std::byte{0});
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
    out.push_back(static_cast<std::byte>((header_len >> (8 * i)) & 0xff));
  put(dict);
  out.insert(out.end(), data.begin(), data.end());
  if (!codec::native_is_little) codec::swap_bytes(std::span(out).subspan(total), scalar_size(dtype));
  return out;
}

result<std::size_t> read_bytes_into(const std::string& path, std::vector<std::byte>& into,
                                    std::size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_fail("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail(errc::invalid_argument, path + ": is a directory, not a file");
  }
  auto too_large = [&] {
    ::close(fd);
    return fail(errc::too_large, path + ": more than " + std::to_string(limit) + " bytes");
  };
  // One byte more than the size: the read that finds the end needs no growth.
  const std::size_t expected = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0;
  if (expected > limit) return too_large();
  if (into.size() < expected + 1) into.resize(expected + 1);
  std::size_t n = 0;
  for (;;) {
    if (n > limit) return too_large();                   // the file grew while read
    if (n == into.size()) into.resize(2 * into.size());  // the file grew while read
    const ssize_t got = ::read(fd, into.data() + n, into.size() - n);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return os_fail("cannot read", path, err);
    }
    if (got == 0) break;
    n += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return n;
}

result<std::vector<std::byte>> read_bytes(const std::string& path) {
  std::vector<std::byte> bytes;
  SLUICE_TRY(std::size_t n, read_bytes_into(path, bytes));
  bytes.resize(n);
  return bytes;
}

result<array> read_file(const std::string& path) {
  SLUICE_TRY(std::vector<std::byte> bytes, read_bytes(path));
  return parse(bytes, path);
}

result<void> write_bytes(const std::string& path, std::span<const std::byte> bytes) {
  std::string tmp = path + ".sluice-XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return os_fail("cannot create", tmp, errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return os_fail("cannot write", path, err);
    }
    done += static_cast<std::size_t>(n);
  }
  // mkostemp creates 0600; the file is an ordinary one (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return os_fail("cannot write", path, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return os_fail("cannot rename into", path, err);
  }
  return {};
}

result<void> write_file(const std::string& path, data_type dtype, std::span<const std::uint64_t> shape,
                        std::span<const std::byte> data) {
  SLUICE_TRY(std::vector<std::byte> bytes, format(dtype, shape, data));
  return write_bytes(path, bytes);
}

}  // namespace sluice::npy
