// The zstd codec: ZSTD_compress2 / ZSTD_decompressDCtx on contexts kept per thread.
#include <sluice/engine/codec/zstd.hpp>

#include "codec/error.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <limits>
#include <new>
#include <string>

namespace sluice::codec {
namespace {

constexpr std::string_view codec_name = "zstd";

struct cctx_free {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct dctx_free {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

// A context holds ~1 MiB of tables at the usual levels: make it once per thread, not once per chunk.
// Each call resets it, so nothing carries over from one call (or one codec's options) to the next.
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, cctx_free> ctx(ZSTD_createCCtx());
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, dctx_free> ctx(ZSTD_createDCtx());
  if (!ctx) throw std::bad_alloc();
  return ctx.get();
}

// The sum of the content sizes of every frame in `in`, when each frame records one.
std::optional<std::size_t> content_size(std::span<const std::byte> in) {
  std::size_t total = 0;
  std::size_t offset = 0;
  if (in.empty()) return std::nullopt;
  while (offset < in.size()) {
    const void* frame = in.data() + offset;
    const std::size_t left = in.size() - offset;
    const unsigned long long size = ZSTD_getFrameContentSize(frame, left);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return std::nullopt;
    const std::size_t frame_bytes = ZSTD_findFrameCompressedSize(frame, left);
    if (ZSTD_isError(frame_bytes) || frame_bytes == 0) return std::nullopt;
    if (size > std::numeric_limits<std::size_t>::max() - total) return std::nullopt;
    total += static_cast<std::size_t>(size);
    offset += frame_bytes;
  }
  return total;
}

class zstd_codec final : public bytes_codec {
 public:
  explicit zstd_codec(const zstd_options& options) : options_(options) {}

  std::string_view name() const noexcept override { return codec_name; }

  std::size_t max_encoded_size(std::size_t decoded) const noexcept override {
    const std::size_t bound = ZSTD_compressBound(decoded);  // includes the frame header and checksum
    return ZSTD_isError(bound) ? std::numeric_limits<std::size_t>::max() : bound;
  }

  result<std::size_t> encode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    ZSTD_CCtx* cctx = thread_cctx();
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, options_.level);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, options_.checksum ? 1 : 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    const std::size_t n = ZSTD_compress2(cctx, out.data(), out.size(), in.data(), in.size());
    if (!ZSTD_isError(n)) return n;
    switch (ZSTD_getErrorCode(n)) {
      case ZSTD_error_dstSize_tooSmall:
        return detail::output_too_small(codec_name, what, out.size(), max_encoded_size(in.size()));
      case ZSTD_error_memory_allocation:
        throw std::bad_alloc();
      case ZSTD_error_srcSize_wrong:
        return detail::codec_error(errc::too_large, codec_name, what,
                                   "input of " + std::to_string(in.size()) + " bytes is too large for zstd");
      default:
        return detail::codec_error(errc::invalid_argument, codec_name, what,
                                   std::string("compression failed (") + ZSTD_getErrorName(n) + ")");
    }
  }

  std::optional<std::size_t> decoded_size(std::span<const std::byte> in, std::string_view) const override {
    return content_size(in);
  }

  result<std::size_t> decode(std::span<const std::byte> in, std::span<std::byte> out,
                             std::string_view what) const override {
    if (in.empty())
      return detail::codec_error(errc::corrupt_data, codec_name, what, "empty input is not a zstd frame");
    // Frames that record their size are checked before any work (and before zstd would report the
    // mismatch as an undersized destination).
    const unsigned long long recorded = ZSTD_getFrameContentSize(in.data(), in.size());
    if (recorded == ZSTD_CONTENTSIZE_ERROR)
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "not a zstd frame (bad magic number, or a truncated header)");
    if (auto total = content_size(in); total && *total != out.size())
      return detail::codec_error(errc::corrupt_data, codec_name, what,
                                 "the frame records " + std::to_string(*total) + " decoded bytes, expected " +
                                     std::to_string(out.size()));
    ZSTD_DCtx* dctx = thread_dctx();
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
    const std::size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n)) {
      switch (ZSTD_getErrorCode(n)) {
        case ZSTD_error_checksum_wrong:
          return detail::codec_error(
              errc::integrity_mismatch, codec_name, what,
              "checksum mismatch: the decoded bytes do not match the frame's checksum");
        case ZSTD_error_dstSize_tooSmall:
          return detail::codec_error(
              errc::corrupt_data, codec_name, what,
              "decodes to more than the expected " + std::to_string(out.size()) + " bytes");
        case ZSTD_error_memory_allocation:
          throw std::bad_alloc();
        default:
          return detail::codec_error(errc::corrupt_data, codec_name, what,
                                     std::string("corrupt frame (") + ZSTD_getErrorName(n) + ")");
      }
    }
    if (n != out.size())
      return detail::codec_error(errc::corrupt_data, codec_name, what, detail::size_mismatch(n, out.size()));
    return n;
  }

 private:
  zstd_options options_;
};

}  // namespace

result<std::unique_ptr<bytes_codec>> make_zstd_codec(const zstd_options& options) {
  if (options.level < ZSTD_minCLevel() || options.level > ZSTD_maxCLevel())
    return detail::codec_error(errc::invalid_argument, codec_name, {},
                               "level " + std::to_string(options.level) + " is outside " +
                                   std::to_string(ZSTD_minCLevel()) + ".." +
                                   std::to_string(ZSTD_maxCLevel()));
  return std::unique_ptr<bytes_codec>(std::make_unique<zstd_codec>(options));
}

}  // namespace sluice::codec
