// What the object-array layouts share: the error for metadata or arrays that do not describe what
// is stored.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <string>
#include <string_view>

namespace sluice::object_array::detail {

// invalid_argument: "<what>: <why>".
inline error bad(std::string_view what, const std::string& why) {
  return error(errc::invalid_argument, std::string(what) + ": " + why);
}

}  // namespace sluice::object_array::detail
