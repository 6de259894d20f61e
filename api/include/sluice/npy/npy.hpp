// NumPy .npy files (numpy.lib.format): one array, a header and its raw bytes.
//
// File layout: "\x93NUMPY", major and minor version bytes, the header's length
// (2 bytes little-endian in format 1.0; 4 bytes in 2.0 and 3.0), then the
// header, a Python dict literal such as
//   {'descr': '<i4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ending in '\n', then the elements.
//
// Read: formats 1.0, 2.0 and 3.0 (3.0 only differs in allowing UTF-8 in the
// header, which the core dtypes never need). The descr must be a core Zarr
// data type: '|b1' (bool), 'i1'..'i8', 'u1'..'u8', 'f2' 'f4' 'f8', 'c8' 'c16',
// with byte order '<', '>', '=' or '|' (the last only for one-byte types).
// The data is returned in C order and native byte order: Fortran-order files
// are transposed, big-endian files swapped. Writing always gives C order and
// little-endian, format 1.0, or 2.0 when the header does not fit 1.0's 65535
// bytes, padded so that the data starts at a multiple of 64 bytes (as numpy).
//
// Errors are values, never exceptions; every message starts with `what` (the
// file's name): invalid_argument for input that is not a well-formed .npy
// (wrong magic, malformed header dict, a shape whose byte size overflows, a
// file shorter or longer than its header says), unsupported for valid .npy
// sluice does not read (an unknown format version; object, string, datetime
// or structured descr). Pure functions, safe from any thread.
#pragma once

#include <sluice/engine/runtime/result.hpp>
#include <sluice/zarr/data_type.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::npy {

// What the header says about the data that follows it.
struct header {
  int major = 1, minor = 0;  // format version
  zarr::data_type dtype = zarr::data_type::float64;
  bool big_endian = false;           // as stored (false for one-byte types)
  bool fortran_order = false;        // as stored
  std::vector<std::uint64_t> shape;  // empty: a 0-d array (one element)
  std::size_t data_offset = 0;       // where the elements start in the file
  std::uint64_t data_size = 0;       // bytes of elements the header announces
};

// An array in memory: C order, native byte order.
struct array {
  std::vector<std::uint64_t> shape;
  zarr::data_type dtype = zarr::data_type::float64;
  std::vector<std::byte> data;  // exactly element_size(dtype) * product(shape) bytes
};

// The header of a .npy held (at least up to the end of its header) in `file`.
result<header> parse_header(std::span<const std::byte> file, std::string_view what);

// A whole .npy file in memory: its header, and data that must be exactly the
// size the header announces, converted to C order and native byte order.
result<array> parse(std::span<const std::byte> file, std::string_view what);

// Elements laid out as `h` says (its dtype, byte order, order and shape;
// exactly h.data_size bytes, else invalid_argument) in C order and native
// byte order: what parse() does with a file's data.
result<array> to_native(const header& h, std::vector<std::byte> data, std::string_view what);

// The layout of elements described as numpy describes them elsewhere (object
// metadata): `descr` is numpy's dtype.str ('<f8', '|b1', '>i4'); data_offset
// is 0. Errors as parse_header's for the descr and the shape.
result<header> layout_of(std::string_view descr, bool fortran_order, std::vector<std::uint64_t> shape,
                         std::string_view what);

// The .npy bytes of `data` (C order, native byte order; exactly the shape's
// byte size, else invalid_argument).
result<std::vector<std::byte>> format(zarr::data_type dtype, std::span<const std::uint64_t> shape,
                                      std::span<const std::byte> data);

// The same, for files: read_file names the file in messages; write_file
// writes to a temporary file beside `path`, then renames it into place.
// File system failures are io_error (and not_found for a missing file).
result<array> read_file(const std::string& path);
result<void> write_file(const std::string& path, zarr::data_type dtype, std::span<const std::uint64_t> shape,
                        std::span<const std::byte> data);

// A whole file's bytes; and bytes written to a temporary file beside `path`,
// then renamed into place.
result<std::vector<std::byte>> read_bytes(const std::string& path);
// A whole file's bytes into the front of `into`, which grows as needed and
// never shrinks (a buffer reused across files is zeroed only when it grows);
// returns how many bytes the file held. A file of more than `limit` bytes is
// too_large, found before it is read when its size says so.
result<std::size_t> read_bytes_into(const std::string& path, std::vector<std::byte>& into,
                                    std::size_t limit = SIZE_MAX);
result<void> write_bytes(const std::string& path, std::span<const std::byte> bytes);

// The descr of a data type as written: '|b1', '|i1', '<i2', ..., '<c16'.
std::string descr_of(zarr::data_type dtype);

}  // namespace sluice::npy
