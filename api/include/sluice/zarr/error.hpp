// Errors of the Zarr layer. A metadata document that breaks the Zarr v3 rules is
// invalid_metadata; one that is valid but uses what sluice does not implement (a
// string data type, an extension codec, a storage transformer) is unsupported.
// Messages name the document's path and the field: "a/zarr.json: codecs[0]: ...".
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <system_error>

namespace sluice::zarr {

enum class errc {
  ok = 0,
  invalid_metadata = 1,  // not valid JSON, a wrong type, a missing field, a value the spec forbids
                         // (also equivalent to condition::invalid_argument)
  unsupported = 2,       // a valid Zarr feature sluice does not implement, zarr_format other than 3
                         // (also equivalent to condition::unsupported)
};

const std::error_category& zarr_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), zarr_category()};
}

}  // namespace sluice::zarr

template <>
struct std::is_error_code_enum<sluice::zarr::errc> : std::true_type {};
