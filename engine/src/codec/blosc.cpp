// The blosc codec: c-blosc 1.x through its context functions (no global state, one internal thread).
#include <sluice/engine/codec/blosc.hpp>

#include "codec/error.hpp"

#include <blosc.h>

#include <array>
#include <string>

namespace sluice::codec {
namespace {

constexpr std::string_view codec_name = "blosc";
// The compressors the Zarr v3 spec names for "cname".
constexpr std::array<std::string_view, 6> spec_cnames{"lz4", "lz4hc", "blosclz", "zstd", "snappy", "zlib"};

int blosc_shuffle_code(blosc_shuffle s) {
  switch (s) {
    case blosc_shuffle::noshuffle:
      return BLOSC_NOSHUFFLE;
    case blosc_shuffle::shuffle:
      return BLOSC_SHUFFLE;
    case blosc_shuffle::bitshuffle:
      return BLOSC_BITSHUFFLE;
  }
  return -1;
}

class blosc_codec final : public bytes_codec {
 public:
  blosc_codec(const blosc_options& options, int shuffle) : options_(options), shuffle_(shuffle) {}

  std::string_view name() const noexcept override { return codec_name; }

  // blosc stores incompressible input as a plain copy after its 16-byte header.
  std::size_t max_encoded_size(std::size_t decoded) const noexcept override {
    return decoded + BLOSC_MAX_OVERHEAD;
  }

  result<std::size_t> encode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    if (in.size() > static_cast<std::size_t>(BLOSC_MAX_BUFFERSIZE))
      return detail::codec_error(errc::too_large, codec_name, what,
                                 "input of " + std::to_string(in.size()) +
                                     " bytes exceeds blosc's limit of " +
                                     std::to_string(BLOSC_MAX_BUFFERSIZE) + " bytes");
    if (out.size() < BLOSC_MAX_OVERHEAD)  // even an empty input takes a whole header
      return detail::output_too_small(codec_name, what, out.size(), max_encoded_size(in.size()));
    const std::byte empty{};
    const int n = blosc_compress_ctx(options_.clevel, shuffle_, options_.typesize, in.size(),
                                     in.empty() ? &empty : in.data(), out.data(), out.size(),
                                     options_.cname.c_str(), options_.blocksize, 1);
    if (n == 0 || (n > 0 && static_cast<std::size_t>(n) > out.size()))
      return detail::output_too_small(codec_name, what, out.size(), max_encoded_size(in.size()));
    if (n < 0)
      return detail::codec_error(errc::invalid_argument, codec_name, what,
                                 "compression failed (blosc error " + std::to_string(n) + ")");
    return static_cast<std::size_t>(n);
  }

  std::optional<std::size_t> decoded_size(std::span<const std::byte> in, std::string_view) const override {
    if (in.size() < BLOSC_MIN_HEADER_LENGTH) return std::nullopt;
    std::size_t nbytes = 0;
    if (blosc_cbuffer_validate(in.data(), in.size(), &nbytes) != 0) return std::nullopt;
    return nbytes;
  }

  result<std::size_t> decode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    if (in.size() < BLOSC_MIN_HEADER_LENGTH)
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "truncated: " + std::to_string(in.size()) + " bytes, shorter than the " +
                                     std::to_string(BLOSC_MIN_HEADER_LENGTH) + "-byte blosc header");
    // blosc_decompress_ctx takes no input size: it trusts the header's compressed size. So the header
    // must describe exactly `in` (and `out`) before blosc reads past it.
    std::size_t nbytes = 0, cbytes = 0, blocksize = 0;
    blosc_cbuffer_sizes(in.data(), &nbytes, &cbytes, &blocksize);
    if (cbytes == 0)
      return detail::codec_error(
          errc::corrupt_data, codec_name, what,
          "not a blosc frame (unknown format version " + std::to_string(static_cast<unsigned>(in[0])) + ")");
    if (cbytes > in.size())
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "truncated: the header records " + std::to_string(cbytes) +
                                     " bytes, the input has " + std::to_string(in.size()));
    if (cbytes < in.size())
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 std::to_string(in.size() - cbytes) + " bytes after the " +
                                     std::to_string(cbytes) + "-byte blosc frame");
    std::size_t validated = 0;
    if (blosc_cbuffer_validate(in.data(), in.size(), &validated) != 0)
      return detail::codec_error(errc::corrupt_data, codec_name, what, "corrupt header");
    if (validated != out.size())
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "the header records " + std::to_string(validated) +
                                     " decoded bytes, expected " + std::to_string(out.size()));
    // blosc has no checksum, and a flipped shuffle flag still decodes, to other bytes. The Zarr v3
    // spec makes the metadata record the shuffle mode the writer used, so a compressed frame must
    // carry the configured one. (A plain copy ignores its shuffle flags: any are accepted.)
    const auto flags = static_cast<unsigned>(in[2]);
    if ((flags & BLOSC_MEMCPYED) == 0) {
      const unsigned shuffled = flags & (BLOSC_DOSHUFFLE | BLOSC_DOBITSHUFFLE);
      if (shuffled != expected_shuffle_flags())
        return detail::codec_error(errc::corrupt_data, codec_name, what,
                                   "corrupt header: the frame is " + describe_shuffle(shuffled) +
                                       ", the codec's configuration says " +
                                       describe_shuffle(expected_shuffle_flags()));
    }
    if (out.empty()) return std::size_t{0};
    const int n = blosc_decompress_ctx(in.data(), out.data(), out.size(), 1);
    if (n < 0 || static_cast<std::size_t>(n) != out.size()) {
      const char* lib = blosc_cbuffer_complib(in.data());
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "corrupt frame (blosc error " + std::to_string(n) + ", compressor library " +
                                     std::string(lib ? lib : "unknown") + ")");
    }
    return out.size();
  }

 private:
  unsigned expected_shuffle_flags() const noexcept {
    switch (options_.shuffle) {
      case blosc_shuffle::noshuffle:
        return 0;
      case blosc_shuffle::shuffle:
        return BLOSC_DOSHUFFLE;
      case blosc_shuffle::bitshuffle:
        return BLOSC_DOBITSHUFFLE;
    }
    return 0;
  }
  static std::string describe_shuffle(unsigned flags) {
    switch (flags) {
      case 0:
        return "not shuffled (noshuffle)";
      case BLOSC_DOSHUFFLE:
        return "byte-shuffled (shuffle)";
      case BLOSC_DOBITSHUFFLE:
        return "bit-shuffled (bitshuffle)";
      default:
        return "flagged both byte- and bit-shuffled";
    }
  }

  blosc_options options_;
  int shuffle_;
};

}  // namespace

result<std::unique_ptr<bytes_codec>> make_blosc_codec(const blosc_options& options) {
  bool known = false;
  for (auto c : spec_cnames) known = known || c == options.cname;
  if (!known)
    return detail::codec_error(
        errc::invalid_argument, codec_name, {},
        "unknown cname '" + options.cname + "' (expected lz4, lz4hc, blosclz, zstd, snappy or zlib)");
  if (blosc_compname_to_compcode(options.cname.c_str()) < 0)
    return detail::codec_error(errc::unsupported, codec_name, {},
                               "the installed libblosc lacks the compressor '" + options.cname +
                                   "' (it has " + blosc_list_compressors() + ")");
  if (options.clevel < 0 || options.clevel > 9)
    return detail::codec_error(errc::invalid_argument, codec_name, {},
                               "clevel " + std::to_string(options.clevel) + " is outside 0..9");
  if (options.typesize < 1 || options.typesize > BLOSC_MAX_TYPESIZE)
    return detail::codec_error(errc::invalid_argument, codec_name, {},
                               "typesize " + std::to_string(options.typesize) + " is outside 1.." +
                                   std::to_string(BLOSC_MAX_TYPESIZE));
  if (options.blocksize > static_cast<std::size_t>(BLOSC_MAX_BUFFERSIZE))
    return detail::codec_error(errc::invalid_argument, codec_name, {},
                               "blocksize " + std::to_string(options.blocksize) + " exceeds " +
                                   std::to_string(BLOSC_MAX_BUFFERSIZE));
  const int shuffle = blosc_shuffle_code(options.shuffle);
  if (shuffle < 0) return detail::codec_error(errc::invalid_argument, codec_name, {}, "unknown shuffle mode");
  return std::unique_ptr<bytes_codec>(std::make_unique<blosc_codec>(options, shuffle));
}

}  // namespace sluice::codec
