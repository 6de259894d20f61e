// Sparse matrices as objects, in cottoncandy's layout: each array of the
// matrix a raw array (raw.hpp) under NAME/, and a JSON object describing them:
//
//   NAME/data, NAME/indices, NAME/indptr   CSR and CSC
//   NAME/row, NAME/col, NAME/data          COO
//   NAME/metadata.json                     {"type": "csr", "attrs": [...], "shape": [m, n]}
//
// and SciPy's .npz (scipy.sparse.save_npz: the same arrays plus "format" and
// "shape" members) on the local side.
#pragma once

#include <sluice/npy/npy.hpp>
#include <sluice/npy/npz.hpp>
#include <sluice/object_array/raw.hpp>
#include <sluice/store/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::object_array {

struct sparse_matrix {
  std::string format;  // "csr", "csc" or "coo"
  std::uint64_t rows = 0, cols = 0;
  std::map<std::string, npy::array> arrays;  // by attribute name (data, indices, indptr / row, col, data)
};

// The attributes of a format, in cottoncandy's order; empty for formats
// sluice does not handle.
std::vector<std::string> sparse_attributes(std::string_view format);
// Checks the arrays against each other and the shape (lengths, indptr size and
// order, indices in range): invalid_argument naming `what` and the problem.
result<void> validate(const sparse_matrix& m, std::string_view what);

// From and to SciPy's .npz; from_npz is nullopt when the members are not a
// sparse matrix (no "format" member).
result<std::optional<sparse_matrix>> from_npz(const std::vector<npy::npz_member>& members,
                                              std::string_view what);
result<std::vector<npy::npz_member>> to_npz(const sparse_matrix& m);

boost::asio::awaitable<result<void>> put_sparse(store::store& st, std::string_view name,
                                                const sparse_matrix& m, const raw_put_options& opts);
// nullopt when NAME/metadata.json is not there or describes something else.
boost::asio::awaitable<result<std::optional<sparse_matrix>>> get_sparse(store::store& st,
                                                                        std::string_view name);

// Dictionaries of arrays (cottoncandy's dict2cloud / cloud2dict): each entry a
// raw array at NAME/<key>; nested dictionaries are deeper prefixes, so the
// keys here are paths ("a/b"). Nothing else is written.
boost::asio::awaitable<result<void>> put_dict(store::store& st, std::string_view name,
                                              const std::map<std::string, npy::array>& entries,
                                              const raw_put_options& opts, unsigned concurrency);
// Every raw array under NAME/ (a flat listing), keyed by its path below NAME/;
// an object there that is not a raw array is an error naming it.
boost::asio::awaitable<result<std::map<std::string, npy::array>>> get_dict(store::store& st,
                                                                           std::string_view name,
                                                                           unsigned concurrency);

}  // namespace sluice::object_array
