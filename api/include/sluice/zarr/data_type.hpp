// The Zarr v3 core data types and fill values.
//
// A fill value is kept exactly as the bit pattern of one element in the data
// type's little-endian bytes (the bytes codec's "little" layout), whatever JSON
// form it was read from: 0, 1.5, "NaN", "-Infinity", "0x7fc00001", [re, im].
// Integers are read without going through double, so int64 and uint64 extremes
// are exact; NaN payloads survive through the hex form.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::zarr {

// The core data types of the Zarr v3 specification ("r*" raw types and the
// extension types such as "string" are not among them).
enum class data_type : std::uint8_t {
  bool_,  // "bool": one byte, 0 or 1
  int8,
  int16,
  int32,
  int64,
  uint8,
  uint16,
  uint32,
  uint64,
  float16,  // IEEE 754 binary16
  float32,
  float64,
  complex64,   // two float32: real, imaginary
  complex128,  // two float64
};

inline constexpr std::array all_data_types{
    data_type::bool_,   data_type::int8,    data_type::int16,     data_type::int32,     data_type::int64,
    data_type::uint8,   data_type::uint16,  data_type::uint32,    data_type::uint64,    data_type::float16,
    data_type::float32, data_type::float64, data_type::complex64, data_type::complex128};

// The identifier in zarr.json: "bool", "int8", ..., "complex128".
std::string_view name_of(data_type t) noexcept;
// The data type with that identifier; nullopt for any other name.
std::optional<data_type> data_type_named(std::string_view name) noexcept;
// Bytes of one element: 1, 2, 4, 8 or 16.
std::size_t element_size(data_type t) noexcept;
bool is_integer(data_type t) noexcept;
bool is_float(data_type t) noexcept;  // float16/32/64
bool is_complex(data_type t) noexcept;

// One element's bytes, little-endian (a complex value: real part, then imaginary).
// A default-constructed fill_value has no bytes and belongs to no data type.
class fill_value {
 public:
  fill_value() = default;

  // All bytes zero: false, 0, +0.0.
  static fill_value zero(data_type t) noexcept;
  // Exactly element_size(t) bytes, else invalid_argument.
  static result<fill_value> from_bytes(data_type t, std::span<const std::byte> bytes);

  std::span<const std::byte> bytes() const noexcept { return {bytes_.data(), size_}; }
  std::size_t size() const noexcept { return size_; }

  bool operator==(const fill_value&) const = default;

 private:
  std::array<std::byte, 16> bytes_{};  // the first size_ bytes are the element; the rest stay zero
  std::uint8_t size_ = 0;
};

// The fill value that `json` (a JSON text: `0`, `"NaN"`, `[1, "Infinity"]`, ...)
// denotes for data type `t`, by the rules of the spec's "Permitted fill values":
//   bool          true or false
//   integers      an integer without fraction or exponent, within the type's range
//   float16/32/64 a number (rounded to the nearest value of the type; one that
//                 becomes infinite is refused), "NaN" (sign 0, quiet bit only),
//                 "Infinity", "-Infinity", or "0x" + 1 to 2*size hex digits (the
//                 element's bit pattern as an unsigned integer)
//   complex       [real, imaginary], each as for the float of half the size
// Errors (zarr::errc::invalid_metadata) say what was expected; `what` names the
// value in messages (e.g. "a/zarr.json: fill_value").
result<fill_value> parse_fill_value(data_type t, std::string_view json, std::string_view what = "fill_value");

// The canonical JSON text of `v` for data type `t`, which parse_fill_value reads
// back to the same bytes: integers and integral floats as integers, other finite
// floats as the shortest number that reads back exactly, "NaN" for the spec's
// NaN, other NaNs as "0x" + 2*size lowercase hex digits, infinities as strings.
// `v` must have element_size(t) bytes (else invalid_argument).
result<std::string> format_fill_value(data_type t, const fill_value& v);

}  // namespace sluice::zarr
