// The recorded hash in object metadata (engine/integrity/recorded_hash.hpp).
// Properties:
// - parse_recorded(format_recorded(h)) == h for every hash, and what
//   parse_recorded accepts formats back to itself when it was written
//   canonically (16 lowercase hex digits, a part size without leading zeros);
// - a parsed part size is never 0 (that would mean "whole content");
// - content_hasher fed the data in arbitrary pieces gives hash_content, and the
//   composite is the hash of the parts' hashes.
#include "fuzz_check.hpp"

#include <sluice/engine/integrity/recorded_hash.hpp>
#include <sluice/engine/integrity/xxh3.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

namespace integrity = sluice::integrity;

bool canonical(std::string_view s) {
  const auto slash = s.find('/');
  const auto hex = s.substr(0, slash);
  if (hex.size() != 16) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  if (slash == std::string_view::npos) return true;
  const auto size = s.substr(slash + 1);
  return !size.empty() && size.front() != '0';
}

void check_text(std::string_view s) {
  auto h = integrity::parse_recorded(s);
  if (!h) return;
  const std::string written = integrity::format_recorded(*h);
  auto again = integrity::parse_recorded(written);
  SLUICE_FUZZ_CHECK(again && again->value == h->value && again->part_size == h->part_size);
  if (s.find('/') != std::string_view::npos) SLUICE_FUZZ_CHECK(h->part_size != 0);
  if (canonical(s)) SLUICE_FUZZ_CHECK(written == s);
}

void check_hashing(FuzzedDataProvider& in) {
  integrity::recorded_hash h{in.ConsumeIntegral<std::uint64_t>(), in.ConsumeIntegral<std::uint64_t>()};
  auto back = integrity::parse_recorded(integrity::format_recorded(h));
  SLUICE_FUZZ_CHECK(back && back->value == h.value && back->part_size == h.part_size);

  const std::uint64_t part_size = in.ConsumeIntegralInRange<std::uint64_t>(0, 64);
  std::vector<std::size_t> cuts;
  for (int i = in.ConsumeIntegralInRange<int>(0, 8); i > 0; --i)
    cuts.push_back(in.ConsumeIntegralInRange<std::size_t>(0, 256));
  const std::vector<std::uint8_t> bytes = in.ConsumeRemainingBytes<std::uint8_t>();
  const auto data = sluice::fuzz::as_bytes(bytes.data(), bytes.size());

  const std::uint64_t whole = integrity::hash_content(data, part_size);
  integrity::content_hasher hasher(part_size);
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    const std::size_t n = std::min(cut, data.size() - at);
    hasher.update(data.subspan(at, n));
    at += n;
  }
  hasher.update(data.subspan(at));
  SLUICE_FUZZ_CHECK(hasher.digest() == whole);

  if (part_size == 0) {
    SLUICE_FUZZ_CHECK(whole == integrity::xxh3(data));
    return;
  }
  std::vector<std::uint64_t> parts;
  for (std::size_t off = 0; off < data.size(); off += part_size)
    parts.push_back(integrity::xxh3(data.subspan(off, std::min<std::size_t>(part_size, data.size() - off))));
  if (parts.empty()) parts.push_back(integrity::xxh3(data));  // an empty object is one empty part
  SLUICE_FUZZ_CHECK(whole == integrity::composite_of(parts, part_size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_text(sluice::fuzz::as_text(data, size));
  FuzzedDataProvider in(data, size);
  check_hashing(in);
  return 0;
}
