// zarr::errc's category: how its values read and which conditions they match.
#include <sluice/zarr/error.hpp>

#include <string>

namespace sluice::zarr {
namespace {

class zarr_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "zarr"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "success";
      case errc::invalid_metadata:
        return "invalid Zarr metadata";
      case errc::unsupported:
        return "Zarr feature not supported";
    }
    return "unknown zarr error " + std::to_string(value);
  }

  bool equivalent(int value, const std::error_condition& cond) const noexcept override {
    if (cond.category() != condition_category()) return std::error_category::equivalent(value, cond);
    auto c = static_cast<condition>(cond.value());
    switch (static_cast<errc>(value)) {
      case errc::invalid_metadata:
        return c == condition::invalid_argument;
      case errc::unsupported:
        return c == condition::unsupported;
      default:
        return false;
    }
  }
};

}  // namespace

const std::error_category& zarr_category() noexcept {
  static const zarr_category_impl category;
  return category;
}

}  // namespace sluice::zarr
