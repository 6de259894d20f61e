// The CLI's size arguments (tools/sluice/cli.hpp parse_size: "256MiB", "1.5GB").
// Properties:
// - a size that parses is a whole number of bytes, at most 1.8e19;
// - the number it gives, written in decimal, parses back to itself, and with a
//   binary unit (k, MiB, ...) to itself times that power of 1024;
// - units are case-insensitive: the upper-case spelling parses to the same;
// - a failure is invalid_argument;
// - digits alone read as the exact integer.
#include "fuzz_check.hpp"

#include "cli.hpp"

#include <cctype>
#include <charconv>
#include <string>

namespace {

void check_size(std::string_view s) {
  auto v = sluice::cli::parse_size(s);
  std::string upper(s);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto u = sluice::cli::parse_size(upper);
  SLUICE_FUZZ_CHECK(v.has_value() == u.has_value());
  if (!v) {
    SLUICE_FUZZ_CHECK(v.error().code == sluice::errc::invalid_argument);
    return;
  }
  SLUICE_FUZZ_CHECK(*u == *v);
  SLUICE_FUZZ_CHECK(static_cast<double>(*v) <= 1.8e19);

  auto plain = sluice::cli::parse_size(std::to_string(*v));
  SLUICE_FUZZ_CHECK(plain && *plain == *v);
  const std::pair<std::string_view, int> units[] = {{"k", 10}, {"MiB", 20}, {"g", 30}, {"TiB", 40}};
  for (auto [unit, shift] : units) {
    auto scaled = sluice::cli::parse_size(std::to_string(*v) + std::string(unit));
    // Exact in double: v is, and a power of two only moves the exponent.
    const bool fits = static_cast<double>(*v) * static_cast<double>(1ull << shift) <= 1.8e19;
    SLUICE_FUZZ_CHECK(scaled.has_value() == fits);
    if (scaled) SLUICE_FUZZ_CHECK(*scaled == *v << shift);
  }

  if (!s.empty() && s.size() <= 15 && s.find_first_not_of("0123456789") == std::string_view::npos) {
    std::uint64_t exact = 0;
    std::from_chars(s.data(), s.data() + s.size(), exact);
    SLUICE_FUZZ_CHECK(*v == exact);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_size(sluice::fuzz::as_text(data, size));
  return 0;
}
