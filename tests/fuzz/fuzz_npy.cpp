// NumPy .npy files (sluice/npy/npy.hpp): the header dict and the data.
// Properties:
// - a header that parses lies within the file and announces exactly
//   element_size * product(shape) bytes;
// - a file that parses holds exactly that many bytes of data, and each element
//   is the file's element at the same index (Fortran order and big-endian
//   files converted to C order and native bytes);
// - format() of a parsed array parses back to the same array, is C order and
//   little-endian, and its data starts at a multiple of 64 bytes;
// - a failure is invalid_argument or unsupported.
#include "fuzz_check.hpp"

#include <sluice/engine/codec/endian.hpp>
#include <sluice/npy/npy.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

namespace npy = sluice::npy;
namespace zarr = sluice::zarr;

void check_error_kind(const sluice::error& e) {
  SLUICE_FUZZ_CHECK(e.code == sluice::errc::invalid_argument || e.code == sluice::errc::unsupported);
}

// Compares each element of `a` with the file's, found at its C or Fortran
// position and byte-swapped as the file says (arrays of at most 4096 elements).
void check_elements(const npy::header& h, const npy::array& a, std::span<const std::byte> file) {
  const std::size_t esize = zarr::element_size(a.dtype);
  const std::size_t count = a.data.size() / esize;
  if (count > 4096) return;
  const std::size_t scalar = zarr::is_complex(a.dtype) ? esize / 2 : esize;
  const bool swap = h.big_endian == sluice::codec::native_is_little && scalar > 1;
  const std::size_t rank = h.shape.size();
  std::vector<std::uint64_t> at(rank, 0);
  for (std::size_t i = 0; i < count; ++i) {
    // `at` is the C-order index of element i; its position in the file:
    std::uint64_t pos = 0;
    if (h.fortran_order) {
      for (std::size_t d = rank; d-- > 0;) pos = pos * h.shape[d] + at[d];
    } else {
      for (std::size_t d = 0; d < rank; ++d) pos = pos * h.shape[d] + at[d];
    }
    std::byte want[16];
    std::memcpy(want, file.data() + h.data_offset + pos * esize, esize);
    if (swap) {
      for (std::size_t s = 0; s < esize; s += scalar) std::reverse(want + s, want + s + scalar);
    }
    SLUICE_FUZZ_CHECK(std::memcmp(want, a.data.data() + i * esize, esize) == 0);
    for (std::size_t d = rank; d-- > 0;) {
      if (++at[d] < h.shape[d]) break;
      at[d] = 0;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = sluice::fuzz::as_bytes(data, size);
  auto h = npy::parse_header(file, "fuzz.npy");
  auto a = npy::parse(file, "fuzz.npy");
  if (!h) {
    check_error_kind(h.error());
    SLUICE_FUZZ_CHECK(!a);
    return 0;
  }
  SLUICE_FUZZ_CHECK(h->data_offset <= file.size());
  unsigned __int128 bytes = zarr::element_size(h->dtype);
  for (auto d : h->shape) bytes *= d;  // it can only wrap before a 0 dimension, which makes it 0 anyway
  SLUICE_FUZZ_CHECK(h->data_size == bytes);
  if (!a) {
    check_error_kind(a.error());
    SLUICE_FUZZ_CHECK(file.size() - h->data_offset != h->data_size);
    return 0;
  }
  SLUICE_FUZZ_CHECK(file.size() - h->data_offset == h->data_size);
  SLUICE_FUZZ_CHECK(a->data.size() == h->data_size && a->shape == h->shape && a->dtype == h->dtype);
  check_elements(*h, *a, file);

  auto written = npy::format(a->dtype, a->shape, a->data);
  SLUICE_FUZZ_CHECK(written);
  auto wh = npy::parse_header(*written, "written.npy");
  SLUICE_FUZZ_CHECK(wh && wh->data_offset % 64 == 0 && !wh->fortran_order && !wh->big_endian);
  auto back = npy::parse(*written, "written.npy");
  SLUICE_FUZZ_CHECK(back && back->shape == a->shape && back->dtype == a->dtype && back->data == a->data);
  return 0;
}
