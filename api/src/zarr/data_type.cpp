// Data type names and sizes, and fill values between their JSON forms and their
// element bytes.
#include <sluice/zarr/data_type.hpp>

#include "zarr/json_util.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

namespace sluice::zarr {
namespace {

struct type_info {
  data_type type;
  std::string_view name;
  std::size_t size;
};

constexpr type_info types[] = {
    {data_type::bool_, "bool", 1},          {data_type::int8, "int8", 1},
    {data_type::int16, "int16", 2},         {data_type::int32, "int32", 4},
    {data_type::int64, "int64", 8},         {data_type::uint8, "uint8", 1},
    {data_type::uint16, "uint16", 2},       {data_type::uint32, "uint32", 4},
    {data_type::uint64, "uint64", 8},       {data_type::float16, "float16", 2},
    {data_type::float32, "float32", 4},     {data_type::float64, "float64", 8},
    {data_type::complex64, "complex64", 8}, {data_type::complex128, "complex128", 16},
};

const type_info& info(data_type t) noexcept {
  return types[static_cast<std::size_t>(t)];
}

bool is_signed(data_type t) noexcept {
  return t == data_type::int8 || t == data_type::int16 || t == data_type::int32 || t == data_type::int64;
}

// --- bytes <-> integers, little-endian whatever the host ---------------------------------------

void store_le(std::byte* out, std::uint64_t v, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

std::uint64_t load_le(const std::byte* in, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t(std::to_integer<unsigned>(in[i])) << (8 * i);
  return v;
}

// --- IEEE 754 binary16 ---------------------------------------------------------------------------

// A double rounded to the nearest binary16, ties to even; overflow gives
// infinity, NaN keeps its sign and the top of its payload (quiet when it would
// otherwise become an infinity).
std::uint16_t half_from_double(double d) noexcept {
  const auto b = std::bit_cast<std::uint64_t>(d);
  const auto sign = static_cast<std::uint16_t>((b >> 48) & 0x8000);
  const int exp = static_cast<int>((b >> 52) & 0x7ff);
  const std::uint64_t mant = b & ((std::uint64_t(1) << 52) - 1);
  if (exp == 0x7ff) {
    if (mant == 0) return sign | 0x7c00;
    auto m = static_cast<std::uint16_t>(mant >> 42);
    return sign | 0x7c00 | (m != 0 ? m : 0x200);
  }
  if (exp == 0) return sign;  // zero or a double subnormal: far below binary16's smallest value
  const int e = exp - 1023;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {  // a binary16 normal: keep 10 of the 52 mantissa bits, round on the other 42
    auto h = static_cast<std::uint32_t>(((e + 15) << 10) | (mant >> 42));
    const std::uint64_t rest = mant & ((std::uint64_t(1) << 42) - 1);
    const std::uint64_t half = std::uint64_t(1) << 41;
    if (rest > half || (rest == half && (h & 1))) ++h;  // a carry into the exponent is right (up to infinity)
    return static_cast<std::uint16_t>(sign | h);
  }
  // A binary16 subnormal: m * 2^-24 with the significand 1.mant * 2^e.
  const int shift = 28 - e;     // e <= -15, so shift >= 43
  if (shift > 53) return sign;  // below half of the smallest subnormal
  const std::uint64_t sig = (std::uint64_t(1) << 52) | mant;
  std::uint64_t m = sig >> shift;
  const std::uint64_t rest = sig & ((std::uint64_t(1) << shift) - 1);
  const std::uint64_t half = std::uint64_t(1) << (shift - 1);
  if (rest > half || (rest == half && (m & 1))) ++m;  // 1024 is the smallest normal: also right
  return static_cast<std::uint16_t>(sign | m);
}

// Exact: every binary16 value is a double.
double half_to_double(std::uint16_t h) noexcept {
  const bool negative = h & 0x8000;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(static_cast<double>(mant), -24);
  } else if (exp == 31) {
    if (mant == 0) {
      v = std::numeric_limits<double>::infinity();
    } else {  // keep the payload in the top mantissa bits
      v = std::bit_cast<double>(std::uint64_t(0x7ff) << 52 | std::uint64_t(mant) << 42);
    }
  } else {
    v = std::ldexp(static_cast<double>(1024 + mant), exp - 25);
  }
  return negative ? -v : v;
}

// --- one IEEE float of `size` bytes (a float type or half a complex) ---------------------------

std::string_view float_name(std::size_t size) noexcept {
  return size == 2 ? "float16" : size == 4 ? "float32" : "float64";
}

std::uint64_t canonical_nan(std::size_t size) noexcept {
  return size == 2 ? 0x7e00 : size == 4 ? 0x7fc00000 : 0x7ff8000000000000;
}

std::uint64_t infinity_bits(std::size_t size, bool negative) noexcept {
  std::uint64_t bits = size == 2 ? 0x7c00 : size == 4 ? 0x7f800000 : 0x7ff0000000000000;
  if (negative) bits |= std::uint64_t(1) << (8 * size - 1);
  return bits;
}

// The bits of the float nearest to `d`; nullopt when a finite `d` is beyond the
// type's range (it would round to an infinity).
std::optional<std::uint64_t> float_bits(double d, std::size_t size) noexcept {
  if (size == 8) return std::bit_cast<std::uint64_t>(d);
  if (size == 4) {
    // float rounds a double once, correctly; the number was rounded to double
    // first (simdjson), which can differ from a direct decimal -> float rounding
    // only for decimals within 2^-29 ulp of a float halfway point.
    const auto f = static_cast<float>(d);
    if (std::isinf(f) && !std::isinf(d)) return std::nullopt;
    return std::bit_cast<std::uint32_t>(f);
  }
  const std::uint16_t h = half_from_double(d);
  if ((h & 0x7fff) == 0x7c00 && !std::isinf(d)) return std::nullopt;
  return h;
}

// An integer JSON number as a float: one rounding from the exact integer for
// float32 and float64; float16 goes through double, exact below 2^53 and
// infinite long before that.
template <class Int>
std::optional<std::uint64_t> float_bits_of_integer(Int v, std::size_t size) noexcept {
  if (size == 8) return std::bit_cast<std::uint64_t>(static_cast<double>(v));
  if (size == 4) return std::bit_cast<std::uint32_t>(static_cast<float>(v));  // at most ~1.8e19: finite
  return float_bits(static_cast<double>(v), size);
}

result<std::uint64_t> float_from_json(simdjson::dom::element e, std::size_t size, std::string_view path,
                                      std::string_view field) {
  using simdjson::dom::element_type;
  const auto expected = [&] {
    return std::string("must be a number, \"NaN\", \"Infinity\", \"-Infinity\" or \"0x\" and up to ") +
           std::to_string(2 * size) + " hex digits for " + std::string(float_name(size));
  };
  std::optional<std::uint64_t> bits;
  switch (e.type()) {
    case element_type::INT64:
      bits = float_bits_of_integer(e.get_int64().value_unsafe(), size);
      break;
    case element_type::UINT64:
      bits = float_bits_of_integer(e.get_uint64().value_unsafe(), size);
      break;
    case element_type::DOUBLE:
      bits = float_bits(e.get_double().value_unsafe(), size);
      break;
    case element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (s == "NaN") return canonical_nan(size);
      if (s == "Infinity") return infinity_bits(size, false);
      if (s == "-Infinity") return infinity_bits(size, true);
      if (s.starts_with("0x")) {
        const std::string_view digits = s.substr(2);
        std::uint64_t v = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
        if (digits.empty() || digits.size() > 2 * size || ec != std::errc() ||
            end != digits.data() + digits.size())
          return detail::invalid(path, field, detail::in_quotes(s) + " is not a bit pattern: " + expected());
        return v;
      }
      return detail::invalid(path, field, detail::in_quotes(s) + " " + expected());
    }
    default:
      return detail::invalid(path, field, expected() + " (got " + std::string(detail::type_words(e)) + ")");
  }
  if (!bits)
    return detail::invalid(path, field, "the number is out of " + std::string(float_name(size)) + "'s range");
  return *bits;
}

boost::json::value float_to_json(std::uint64_t bits, std::size_t size) {
  double d;
  bool nan;
  if (size == 2) {
    d = half_to_double(static_cast<std::uint16_t>(bits));
    nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0;
  } else if (size == 4) {
    const auto f = std::bit_cast<float>(static_cast<std::uint32_t>(bits));
    d = f;
    nan = std::isnan(f);
  } else {
    d = std::bit_cast<double>(bits);
    nan = std::isnan(d);
  }
  if (nan) {
    if (bits == canonical_nan(size)) return boost::json::string("NaN");
    char digits[16];
    const std::string hex(digits, std::to_chars(digits, digits + sizeof digits, bits, 16).ptr);
    return boost::json::string("0x" + std::string(2 * size - hex.size(), '0') + hex);
  }
  if (std::isinf(d)) return boost::json::string(d > 0 ? "Infinity" : "-Infinity");
  // An integral value below 2^53 is written as an integer ("0", not Boost.JSON's
  // "0E0"); -0.0 stays a double so that its sign survives.
  if (std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0 && !(d == 0 && std::signbit(d)))
    return static_cast<std::int64_t>(d);
  // Boost.JSON writes the shortest text that reads back as this double; the
  // double is the float's exact value, so reading it back restores the bits.
  return d;
}

}  // namespace

std::string_view name_of(data_type t) noexcept {
  return info(t).name;
}

std::optional<data_type> data_type_named(std::string_view name) noexcept {
  for (const auto& i : types)
    if (i.name == name) return i.type;
  return std::nullopt;
}

std::size_t element_size(data_type t) noexcept {
  return info(t).size;
}

bool is_integer(data_type t) noexcept {
  return t >= data_type::int8 && t <= data_type::uint64;
}
bool is_float(data_type t) noexcept {
  return t >= data_type::float16 && t <= data_type::float64;
}
bool is_complex(data_type t) noexcept {
  return t == data_type::complex64 || t == data_type::complex128;
}

fill_value fill_value::zero(data_type t) noexcept {
  fill_value v;
  v.size_ = static_cast<std::uint8_t>(element_size(t));
  return v;
}

result<fill_value> fill_value::from_bytes(data_type t, std::span<const std::byte> bytes) {
  if (bytes.size() != element_size(t))
    return fail(sluice::errc::invalid_argument, "a fill value of " + std::string(name_of(t)) + " has " +
                                                    std::to_string(element_size(t)) + " bytes, not " +
                                                    std::to_string(bytes.size()));
  if (t == data_type::bool_ && std::to_integer<unsigned>(bytes[0]) > 1)
    return fail(sluice::errc::invalid_argument, "a bool fill value is the byte 0 or 1");
  fill_value v = zero(t);
  std::copy(bytes.begin(), bytes.end(), v.bytes_.begin());
  return v;
}

namespace detail {

result<fill_value> fill_from_json(data_type t, simdjson::dom::element e, std::string_view path,
                                  std::string_view field) {
  using simdjson::dom::element_type;
  std::byte out[16] = {};
  const std::size_t size = element_size(t);
  const std::string type_name(name_of(t));

  if (t == data_type::bool_) {
    if (e.type() != element_type::BOOL)
      return invalid(path, field, "must be true or false for bool (got " + std::string(type_words(e)) + ")");
    out[0] = std::byte{e.get_bool().value_unsafe() ? std::uint8_t(1) : std::uint8_t(0)};
  } else if (is_integer(t)) {
    // Read as the integer simdjson saw (never through double), then range-checked.
    const unsigned bits = static_cast<unsigned>(8 * size);
    bool in_range = false;
    std::uint64_t pattern = 0;
    if (e.type() == element_type::INT64) {
      const std::int64_t x = e.get_int64().value_unsafe();
      if (is_signed(t)) {
        const std::int64_t lo =
            bits == 64 ? std::numeric_limits<std::int64_t>::min() : -(std::int64_t(1) << (bits - 1));
        const std::int64_t hi =
            bits == 64 ? std::numeric_limits<std::int64_t>::max() : (std::int64_t(1) << (bits - 1)) - 1;
        in_range = x >= lo && x <= hi;
      } else {
        in_range = x >= 0 && (bits == 64 || static_cast<std::uint64_t>(x) < (std::uint64_t(1) << bits));
      }
      pattern = static_cast<std::uint64_t>(x);  // two's complement: the low bytes are the element
    } else if (e.type() == element_type::UINT64) {
      const std::uint64_t x = e.get_uint64().value_unsafe();  // simdjson: only above INT64_MAX
      in_range = t == data_type::uint64;
      pattern = x;
    } else {
      return invalid(path, field,
                     "must be an integer without fraction or exponent for " + type_name + " (got " +
                         std::string(e.type() == element_type::DOUBLE ? "a number with a fraction or exponent"
                                                                      : type_words(e)) +
                         ")");
    }
    if (!in_range) return invalid(path, field, "the integer is out of " + type_name + "'s range");
    store_le(out, pattern, size);
  } else if (is_float(t)) {
    SLUICE_TRY(auto bits, float_from_json(e, size, path, field));
    store_le(out, bits, size);
  } else {  // complex
    const std::size_t half = size / 2;
    simdjson::dom::array parts;
    if (e.get_array().get(parts) || parts.size() != 2)
      return invalid(path, field,
                     "must be a two-element array [real, imaginary] for " + type_name + " (got " +
                         std::string(type_words(e)) + (e.is_array() ? " of another length" : "") + ")");
    std::size_t i = 0;
    for (simdjson::dom::element part : parts) {
      const std::string part_field = std::string(field) + (i == 0 ? "[0]" : "[1]");
      SLUICE_TRY(auto bits, float_from_json(part, half, path, part_field));
      store_le(out + i * half, bits, half);
      ++i;
    }
  }
  return fill_value::from_bytes(t, std::span<const std::byte>(out, size));
}

boost::json::value fill_to_json(data_type t, const fill_value& v) {
  const std::byte* b = v.bytes().data();
  const std::size_t size = element_size(t);
  if (t == data_type::bool_) return std::to_integer<unsigned>(b[0]) != 0;
  if (is_integer(t)) {
    const std::uint64_t pattern = load_le(b, size);
    if (!is_signed(t)) return pattern;
    const unsigned bits = static_cast<unsigned>(8 * size);
    std::uint64_t extended = pattern;
    if (bits < 64 && (pattern >> (bits - 1)) & 1) extended |= ~std::uint64_t(0) << bits;  // sign-extend
    return static_cast<std::int64_t>(extended);
  }
  if (is_float(t)) return float_to_json(load_le(b, size), size);
  const std::size_t half = size / 2;
  return boost::json::array{float_to_json(load_le(b, half), half),
                            float_to_json(load_le(b + half, half), half)};
}

}  // namespace detail

result<fill_value> parse_fill_value(data_type t, std::string_view json, std::string_view what) {
  simdjson::dom::parser parser;
  SLUICE_TRY(auto root, detail::parse_json(parser, json, what));
  return detail::fill_from_json(t, root, "", what);
}

result<std::string> format_fill_value(data_type t, const fill_value& v) {
  if (v.size() != element_size(t))
    return fail(sluice::errc::invalid_argument, "a fill value of " + std::string(name_of(t)) + " has " +
                                                    std::to_string(element_size(t)) + " bytes, not " +
                                                    std::to_string(v.size()));
  return boost::json::serialize(detail::fill_to_json(t, v));
}

}  // namespace sluice::zarr
