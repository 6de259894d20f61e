// Range and Content-Range (engine/s3/range.hpp).
// Properties:
// - a Content-Range that parses lies within its object: first <= last, and
//   last < total when the total is known; "bytes */N" always has a total;
// - a parsed Content-Range, written back canonically, parses to the same value;
// - a failure is always malformed_response;
// - format_range refuses exactly the empty ranges (last < first, suffix 0) and
//   otherwise writes a header that reads back as the same range, and the
//   Content-Range a server answers for a satisfiable range parses to it.
#include "fuzz_check.hpp"

#include <sluice/engine/s3/range.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <charconv>
#include <optional>
#include <string>

namespace {

namespace s3 = sluice::s3;

std::string write_content_range(const s3::content_range& r) {
  std::string out = "bytes ";
  out += r.first ? std::to_string(*r.first) + "-" + std::to_string(*r.last) : "*";
  out += "/";
  out += r.total ? std::to_string(*r.total) : "*";
  return out;
}

bool same(const s3::content_range& a, const s3::content_range& b) {
  return a.first == b.first && a.last == b.last && a.total == b.total;
}

void check_content_range(std::string_view value) {
  auto r = s3::parse_content_range(value);
  if (!r) {
    SLUICE_FUZZ_CHECK(r.error().code == sluice::errc::malformed_response);
    return;
  }
  SLUICE_FUZZ_CHECK(r->first.has_value() == r->last.has_value());
  if (r->first) {
    SLUICE_FUZZ_CHECK(*r->first <= *r->last);
    if (r->total) SLUICE_FUZZ_CHECK(*r->last < *r->total);
  } else {
    SLUICE_FUZZ_CHECK(r->total.has_value());
  }
  auto again = s3::parse_content_range(write_content_range(*r));
  SLUICE_FUZZ_CHECK(again && same(*again, *r));
}

// The request header read back: "bytes=F-L", "bytes=F-", "bytes=-N".
std::optional<s3::byte_range> read_range(std::string_view h) {
  if (!h.starts_with("bytes=")) return std::nullopt;
  h.remove_prefix(6);
  const auto dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
  };
  const auto first = h.substr(0, dash), last = h.substr(dash + 1);
  if (first.empty()) {
    auto n = number(last);
    if (!n) return std::nullopt;
    return s3::byte_range::last_bytes(*n);
  }
  auto f = number(first);
  if (!f) return std::nullopt;
  if (last.empty()) return s3::byte_range::from(*f);
  auto l = number(last);
  if (!l) return std::nullopt;
  return s3::byte_range::between(*f, *l);
}

void check_format_range(FuzzedDataProvider& in) {
  s3::byte_range r;
  r.first = in.ConsumeIntegral<std::uint64_t>();
  const auto shape = in.ConsumeIntegralInRange<int>(0, 2);
  if (shape == 1) r.last = in.ConsumeIntegral<std::uint64_t>();
  if (shape == 2) r.suffix = in.ConsumeIntegral<std::uint64_t>();
  auto header = s3::format_range(r);
  const bool empty = (r.suffix && *r.suffix == 0) || (!r.suffix && r.last && *r.last < r.first);
  SLUICE_FUZZ_CHECK(!header == empty);
  if (!header) {
    SLUICE_FUZZ_CHECK(header.error().code == sluice::errc::invalid_argument);
    return;
  }
  auto back = read_range(*header);
  SLUICE_FUZZ_CHECK(back.has_value());
  SLUICE_FUZZ_CHECK(back->suffix == r.suffix);
  if (!r.suffix) SLUICE_FUZZ_CHECK(back->first == r.first && back->last == r.last);

  // The answer to a satisfiable closed range of an object of `total` bytes.
  if (r.last && !r.suffix) {
    const std::uint64_t total = in.ConsumeIntegral<std::uint64_t>();
    s3::content_range answer{r.first, r.last, total};
    auto parsed = s3::parse_content_range(write_content_range(answer));
    SLUICE_FUZZ_CHECK(parsed.has_value() == (*r.last < total));
    if (parsed) SLUICE_FUZZ_CHECK(same(*parsed, answer));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_content_range(sluice::fuzz::as_text(data, size));
  FuzzedDataProvider in(data, size);
  check_format_range(in);
  return 0;
}
