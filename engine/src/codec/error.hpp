// Error messages of the codecs: "<codec>: <what>: <detail>" ("<codec>: <detail>" without a what).
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::codec::detail {

inline error codec_error(errc code, std::string_view codec, std::string_view what, std::string_view detail) {
  std::string message(codec);
  message += ": ";
  if (!what.empty()) {
    message += what;
    message += ": ";
  }
  message += detail;
  return error(code, std::move(message));
}

// "decodes to 12 bytes, expected 16"
inline std::string size_mismatch(std::size_t got, std::size_t expected) {
  return "decodes to " + std::to_string(got) + " bytes, expected " + std::to_string(expected);
}

// encode: `out` cannot hold the encoded bytes.
inline error output_too_small(std::string_view codec, std::string_view what, std::size_t out_size,
                              std::size_t bound) {
  return codec_error(errc::too_large, codec, what,
                     "the encoded bytes do not fit the " + std::to_string(out_size) +
                         "-byte output (max_encoded_size: " + std::to_string(bound) + ")");
}

}  // namespace sluice::codec::detail
