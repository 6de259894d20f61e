// .npz archives (sluice/npy/npz.hpp) and the sparse matrices in them
// (object_array/sparse.hpp): zip bytes from anyone. Properties:
// - parse_npz either fails with corrupt_data, unsupported, too_large or
//   integrity_mismatch, or returns members whose CRC-32 matched;
// - from_npz over those members either fails with invalid_argument or
//   unsupported, or returns a matrix that validate() accepts;
// - members written again with write_npz's layout (stored) parse back equal.
#include "fuzz_check.hpp"

#include <sluice/npy/npz.hpp>
#include <sluice/object_array/sparse.hpp>

#include <unistd.h>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto zip = sluice::fuzz::as_bytes(data, size);
  auto members = sluice::npy::parse_npz(zip, "input");
  if (!members) {
    const auto code = members.error().code;
    SLUICE_FUZZ_CHECK(code == sluice::errc::corrupt_data || code == sluice::errc::unsupported ||
                      code == sluice::errc::too_large || code == sluice::errc::integrity_mismatch);
    return 0;
  }
  auto sparse = sluice::object_array::from_npz(*members, "input");
  if (sparse && *sparse) SLUICE_FUZZ_CHECK(sluice::object_array::validate(**sparse, "input"));
  if (!sparse) {
    const auto code = sparse.error().code;
    SLUICE_FUZZ_CHECK(code == sluice::errc::invalid_argument || code == sluice::errc::unsupported ||
                      code == sluice::errc::corrupt_data);
  }
  // Round trip through a file (write_npz writes files).
  static const std::string path = "/tmp/sluice-fuzz-npz-" + std::to_string(::getpid()) + ".npz";
  if (sluice::npy::write_npz(path, *members)) {
    auto back = sluice::npy::read_npz(path);
    SLUICE_FUZZ_CHECK(back && back->size() == members->size());
    for (std::size_t i = 0; i < back->size(); ++i)
      SLUICE_FUZZ_CHECK((*back)[i].name == (*members)[i].name && (*back)[i].file == (*members)[i].file);
  }
  ::unlink(path.c_str());
  return 0;
}
