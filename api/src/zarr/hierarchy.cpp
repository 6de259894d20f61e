#include "zarr/hierarchy.hpp"

#include <sluice/zarr/metadata.hpp>

namespace sluice::zarr::detail {

std::string join(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  return std::string(path) + "/" + std::string(name);
}

boost::asio::awaitable<result<void>> ensure_parent_groups(std::shared_ptr<store::store> st,
                                                          std::string path) {
  SLUICE_CO_TRY(const std::string doc, write_metadata(group_metadata{}));
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(doc.data()), doc.size());
  std::string parent;
  std::size_t at = 0;
  while (!path.empty()) {
    const std::string key = join(parent, "zarr.json");
    SLUICE_CO_TRY(store::read_result got, co_await st->read(key));
    if (got.state != store::read_state::value) {
      SLUICE_CO_TRY_VOID(co_await st->write(key, bytes));
    } else {
      const std::string_view text(reinterpret_cast<const char*>(got.bytes.data()), got.bytes.size());
      auto node = parse_metadata(text, st->describe(key));
      if (node && std::holds_alternative<array_metadata>(*node))
        co_return fail(sluice::errc::invalid_argument,
                       st->describe(key) + ": is an array, and an array cannot hold " + path);
    }
    const std::size_t slash = path.find('/', at);
    if (slash == std::string::npos) break;
    parent = path.substr(0, slash);
    at = slash + 1;
  }
  co_return result<void>{};
}

}  // namespace sluice::zarr::detail
