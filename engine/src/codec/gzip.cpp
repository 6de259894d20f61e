// The gzip codec: zlib's deflate/inflate with the gzip wrapper (windowBits 15 + 16).
#include <sluice/engine/codec/gzip.hpp>

#include "codec/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace sluice::codec {
namespace {

constexpr std::string_view codec_name = "gzip";
constexpr int gzip_window_bits = 15 + 16;  // 32 KiB window, gzip header and trailer
// zlib counts in uInt: larger spans go through in pieces.
constexpr std::size_t max_piece = std::size_t{1} << 30;

Bytef* bytes(std::span<std::byte> s, std::size_t offset, Bytef* if_empty) {
  return s.empty() ? if_empty : reinterpret_cast<Bytef*>(s.data() + offset);
}
// zlib's next_in is not const-qualified but is never written through.
Bytef* bytes(std::span<const std::byte> s, std::size_t offset) {
  return const_cast<Bytef*>(reinterpret_cast<const Bytef*>(s.data() + offset));
}

std::string zlib_detail(const z_stream& zs, int rc) {
  std::string d = zs.msg ? zs.msg : "zlib error";
  return d + " (" + std::to_string(rc) + ")";
}

class gzip_codec final : public bytes_codec {
 public:
  explicit gzip_codec(const gzip_options& options) : options_(options) {}

  std::string_view name() const noexcept override { return codec_name; }

  // deflateBound() for windowBits 15 and memLevel 8 (zlib's tight bound, which holds at every level,
  // stored blocks included) plus the 18 bytes of gzip header and trailer.
  std::size_t max_encoded_size(std::size_t n) const noexcept override {
    return n + (n >> 12) + (n >> 14) + (n >> 25) + 7 + 18;
  }

  result<std::size_t> encode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    z_stream zs{};
    const int init = deflateInit2(&zs, options_.level, Z_DEFLATED, gzip_window_bits, 8, Z_DEFAULT_STRATEGY);
    if (init == Z_MEM_ERROR) throw std::bad_alloc();
    if (init != Z_OK)
      return detail::codec_error(errc::invalid_argument, codec_name, what, zlib_detail(zs, init));
    struct end_guard {
      z_stream& zs;
      ~end_guard() { deflateEnd(&zs); }
    } guard{zs};

    Bytef no_output = 0;  // zlib refuses a null next_out, even with avail_out 0
    std::size_t in_off = 0, out_off = 0;
    for (;;) {
      const std::size_t in_piece = std::min(in.size() - in_off, max_piece);
      const std::size_t out_piece = std::min(out.size() - out_off, max_piece);
      zs.next_in = in.empty() ? nullptr : bytes(in, in_off);
      zs.avail_in = static_cast<uInt>(in_piece);
      zs.next_out = bytes(out, out_off, &no_output);
      zs.avail_out = static_cast<uInt>(out_piece);
      const bool last = in_off + in_piece == in.size();
      const int rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      in_off += in_piece - zs.avail_in;
      out_off += out_piece - zs.avail_out;
      if (rc == Z_STREAM_END) return out_off;
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return detail::codec_error(errc::invalid_argument, codec_name, what,
                                   "compression failed: " + zlib_detail(zs, rc));
      if (out_off == out.size())
        return detail::output_too_small(codec_name, what, out.size(), max_encoded_size(in.size()));
    }
  }

  // A gzip member's trailer ends with ISIZE, the decoded size modulo 2^32:
  // exact for one member under 4 GiB (what Zarr writers produce). Several
  // members, or padding, make the hint wrong, and decode() then refuses.
  std::optional<std::size_t> decoded_size(std::span<const std::byte> in, std::string_view) const override {
    if (in.size() < 18 || in[0] != std::byte{0x1f} || in[1] != std::byte{0x8b}) return std::nullopt;
    std::uint32_t isize = 0;
    for (int b = 0; b < 4; ++b)
      isize |= std::uint32_t(std::to_integer<unsigned>(in[in.size() - 4 + b])) << (8 * b);
    return isize;
  }

  result<std::size_t> decode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    if (in.empty())
      return detail::codec_error(errc::corrupt_data, codec_name, what, "empty input is not a gzip member");
    z_stream zs{};
    const int init = inflateInit2(&zs, gzip_window_bits);
    if (init == Z_MEM_ERROR) throw std::bad_alloc();
    if (init != Z_OK)
      return detail::codec_error(errc::invalid_argument, codec_name, what, zlib_detail(zs, init));
    struct end_guard {
      z_stream& zs;
      ~end_guard() { inflateEnd(&zs); }
    } guard{zs};

    // Once `out` is full, inflate writes into `spare`: a byte landing there means the data decodes to
    // more than expected, while a member that ends exactly at out.size() still reaches its trailer.
    Bytef spare = 0;
    std::size_t in_off = 0, out_off = 0;
    for (;;) {
      const std::size_t in_piece = std::min(in.size() - in_off, max_piece);
      const bool full = out_off == out.size();
      const std::size_t out_piece = full ? 1 : std::min(out.size() - out_off, max_piece);
      zs.next_in = bytes(in, in_off);
      zs.avail_in = static_cast<uInt>(in_piece);
      zs.next_out = full ? &spare : bytes(out, out_off, &spare);
      zs.avail_out = static_cast<uInt>(out_piece);
      const int rc = inflate(&zs, Z_NO_FLUSH);
      in_off += in_piece - zs.avail_in;
      const std::size_t produced = out_piece - zs.avail_out;
      if (full && produced != 0)
        return detail::codec_error(
            errc::corrupt_data, codec_name, what,
            "decodes to more than the expected " + std::to_string(out.size()) + " bytes");
      if (!full) out_off += produced;
      switch (rc) {
        case Z_OK:
          continue;
        case Z_STREAM_END: {
          // One member done: the input ends, or zero padding ends it, or another member follows.
          const auto rest = in.subspan(in_off);
          if (std::all_of(rest.begin(), rest.end(), [](std::byte b) { return b == std::byte{0}; })) {
            if (out_off != out.size())
              return detail::codec_error(errc::corrupt_data, codec_name, what,
                                         detail::size_mismatch(out_off, out.size()));
            return out_off;
          }
          inflateReset(&zs);
          continue;
        }
        case Z_BUF_ERROR:  // no progress possible: the input ended inside a member
          return detail::codec_error(errc::corrupt_data, codec_name, what,
                                     "truncated: the input ends inside a gzip member (after " +
                                         std::to_string(out_off) + " decoded bytes)");
        case Z_MEM_ERROR:
          throw std::bad_alloc();
        case Z_DATA_ERROR:
          // zlib's fixed texts for the trailer checks: the CRC-32 or length of the decoded bytes.
          if (zs.msg && (std::strcmp(zs.msg, "incorrect data check") == 0 ||
                         std::strcmp(zs.msg, "incorrect length check") == 0))
            return detail::codec_error(errc::integrity_mismatch, codec_name, what,
                                       "checksum mismatch: " + zlib_detail(zs, rc));
          return detail::codec_error(errc::corrupt_data, codec_name, what,
                                     "corrupt data: " + zlib_detail(zs, rc));
        default:
          return detail::codec_error(errc::corrupt_data, codec_name, what,
                                     "corrupt data: " + zlib_detail(zs, rc));
      }
    }
  }

 private:
  gzip_options options_;
};

}  // namespace

result<std::unique_ptr<bytes_codec>> make_gzip_codec(const gzip_options& options) {
  if (options.level < 0 || options.level > 9)
    return detail::codec_error(errc::invalid_argument, codec_name, {},
                               "level " + std::to_string(options.level) + " is outside 0..9");
  return std::unique_ptr<bytes_codec>(std::make_unique<gzip_codec>(options));
}

}  // namespace sluice::codec
