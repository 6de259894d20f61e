// What arrays and groups share about their place in a hierarchy (private to
// src/zarr).
#pragma once

#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace sluice::zarr::detail {

// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
std::string join(std::string_view path, std::string_view name);

// Writes an empty group's zarr.json in every parent of `path` up to the store
// root ("" included) that has none. A parent holding an array is refused
// (invalid_argument): arrays have no children.
boost::asio::awaitable<result<void>> ensure_parent_groups(std::shared_ptr<store::store> st, std::string path);

}  // namespace sluice::zarr::detail
