// NumPy's .npz: a zip archive whose members are .npy files ("NAME.npy").
// np.savez stores them, np.savez_compressed and SciPy's save_npz deflate
// them; read_npz reads both (zip64 sizes and offsets too) and checks each
// member's CRC-32. write_npz stores them (no compression), as np.savez does.
#pragma once

#include <sluice/npy/npy.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::npy {

struct npz_member {
  std::string name;             // without ".npy"
  std::vector<std::byte> file;  // the member's .npy bytes
};

// Errors: not_found / io_error for the file; corrupt_data for an archive that
// is not a zip sluice reads (names the member); unsupported for a compression
// other than stored and deflate; too_large for members larger than memory.
result<std::vector<npz_member>> read_npz(const std::string& path);
// The same over an archive's bytes; `what` names it in messages.
result<std::vector<npz_member>> parse_npz(std::span<const std::byte> zip, std::string_view what);
// Members of 4 GiB or more are too_large (zip64 is not written).
result<void> write_npz(const std::string& path, const std::vector<npz_member>& members);

// A 0-d array of bytes (dtype |S<n>), as SciPy's save_npz writes its "format"
// member; and reading one back (invalid_argument when the member is not one).
std::vector<std::byte> bytes_scalar_npy(std::string_view value);
result<std::string> read_bytes_scalar(std::span<const std::byte> npy_file, std::string_view what);

}  // namespace sluice::npy
