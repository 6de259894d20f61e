// The hash sluice records on the objects it writes, in user metadata under
// integrity::metadata_key (x-amz-meta-sluice-xxh3):
//   "<16 hex>"              XXH3-64 of the whole content (single PUT)
//   "<16 hex>/<part size>"  composite for objects written in parts: XXH3-64 of
//                           the parts' XXH3-64 values (8 bytes each, little
//                           endian, in part order) followed by the part size
//                           (8 bytes, little endian). Every part but the last
//                           has exactly `part size` bytes.
// A reader that fetches parts in parallel verifies each part's hash as it
// arrives and the composite once all are in.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sluice/engine/integrity/xxh3.hpp>

namespace sluice::integrity {

struct recorded_hash {
  uint64_t value = 0;
  uint64_t part_size = 0;  // 0: a whole-content hash
};

std::string format_recorded(const recorded_hash& h);
std::optional<recorded_hash> parse_recorded(std::string_view text);

uint64_t composite_of(std::span<const uint64_t> part_hashes, uint64_t part_size);

// Hashes `data` the way `part_size` says (0: whole content; else composite).
uint64_t hash_content(std::span<const std::byte> data, uint64_t part_size);

// Computes hash_content() over data that arrives in pieces of any size.
class content_hasher {
 public:
  explicit content_hasher(uint64_t part_size = 0) : part_size_(part_size) {}
  void update(std::span<const std::byte> data);
  uint64_t digest();  // call once, after the last update

 private:
  uint64_t part_size_;
  uint64_t in_part_ = 0;
  xxh3_stream current_;
  std::vector<uint64_t> parts_;
};

}  // namespace sluice::integrity
