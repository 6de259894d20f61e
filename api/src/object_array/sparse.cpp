#include <sluice/object_array/sparse.hpp>

#include "object_array/errors.hpp"

#include <sluice/engine/runtime/concurrently.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstring>
#include <optional>

namespace sluice::object_array {

namespace json = boost::json;
using boost::asio::awaitable;

namespace {

using detail::bad;

// Element k of an integer array (native byte order), as a signed 64-bit value (uint64 above
// INT64_MAX reads as negative: out of every range checked here).
std::int64_t element(const npy::array& a, std::size_t k) {
  using zarr::data_type;
  const std::byte* p = a.data.data() + k * zarr::element_size(a.dtype);
  auto get = [&]<class T>(T) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return static_cast<std::int64_t>(v);
  };
  switch (a.dtype) {
    case data_type::int8:
      return get(std::int8_t{});
    case data_type::int16:
      return get(std::int16_t{});
    case data_type::int32:
      return get(std::int32_t{});
    case data_type::int64:
      return get(std::int64_t{});
    case data_type::uint8:
      return get(std::uint8_t{});
    case data_type::uint16:
      return get(std::uint16_t{});
    case data_type::uint32:
      return get(std::uint32_t{});
    default:
      return get(std::uint64_t{});
  }
}

std::uint64_t length(const npy::array& a) {
  return a.shape.size() == 1 ? a.shape[0] : 0;
}

}  // namespace

std::vector<std::string> sparse_attributes(std::string_view format) {
  if (format == "csr" || format == "csc") return {"data", "indices", "indptr"};
  if (format == "coo") return {"row", "col", "data"};
  return {};
}

result<void> validate(const sparse_matrix& m, std::string_view what) {
  const auto attrs = sparse_attributes(m.format);
  if (attrs.empty())
    return fail(errc::unsupported,
                std::string(what) + ": sparse format '" + m.format + "' (sluice handles csr, csc and coo)");
  for (const auto& a : attrs) {
    auto it = m.arrays.find(a);
    if (it == m.arrays.end()) return bad(what, "the " + m.format + " matrix has no '" + a + "' array");
    if (it->second.shape.size() != 1) return bad(what, "'" + a + "' is not one-dimensional");
    if (a != "data" && !zarr::is_integer(it->second.dtype))
      return bad(what, "'" + a + "' is not of an integer type");
  }
  if (m.rows > (std::uint64_t{1} << 62) || m.cols > (std::uint64_t{1} << 62))
    return bad(
        what, "a shape of " + std::to_string(m.rows) + " x " + std::to_string(m.cols) + " is not a matrix's");
  const npy::array& data = m.arrays.at("data");
  if (m.format == "coo") {
    const npy::array& row = m.arrays.at("row");
    const npy::array& col = m.arrays.at("col");
    if (length(row) != length(data) || length(col) != length(data))
      return bad(what, "row, col and data differ in length");
    for (std::size_t k = 0; k < length(data); ++k) {
      const auto r = element(row, k), c = element(col, k);
      if (r < 0 || static_cast<std::uint64_t>(r) >= m.rows || c < 0 ||
          static_cast<std::uint64_t>(c) >= m.cols)
        return bad(what, "entry " + std::to_string(k) + " lies outside the " + std::to_string(m.rows) +
                             " x " + std::to_string(m.cols) + " shape");
    }
    return {};
  }
  const bool csr = m.format == "csr";
  const std::uint64_t major = csr ? m.rows : m.cols, minor = csr ? m.cols : m.rows;
  const npy::array& indptr = m.arrays.at("indptr");
  const npy::array& indices = m.arrays.at("indices");
  if (length(indptr) != major + 1)
    return bad(what, "indptr has " + std::to_string(length(indptr)) + " entries, the shape needs " +
                         std::to_string(major + 1));
  if (length(indices) != length(data)) return bad(what, "indices and data differ in length");
  if (element(indptr, 0) != 0) return bad(what, "indptr does not start at 0");
  for (std::size_t k = 1; k <= major; ++k)
    if (element(indptr, k) < element(indptr, k - 1))
      return bad(what, "indptr decreases at " + std::to_string(k));
  if (static_cast<std::uint64_t>(element(indptr, major)) != length(data))
    return bad(what, "indptr ends at " + std::to_string(element(indptr, major)) + ", data has " +
                         std::to_string(length(data)) + " entries");
  for (std::size_t k = 0; k < length(indices); ++k) {
    const auto i = element(indices, k);
    if (i < 0 || static_cast<std::uint64_t>(i) >= minor)
      return bad(what, "index " + std::to_string(i) + " at " + std::to_string(k) + " lies outside the shape");
  }
  return {};
}

result<std::optional<sparse_matrix>> from_npz(const std::vector<npy::npz_member>& members,
                                              std::string_view what) {
  const npy::npz_member* format = nullptr;
  for (const auto& m : members)
    if (m.name == "format") format = &m;
  if (!format) return std::optional<sparse_matrix>{};
  sparse_matrix out;
  SLUICE_TRY(out.format, npy::read_bytes_scalar(format->file, std::string(what) + " (member format)"));
  bool have_shape = false;
  for (const auto& m : members) {
    if (m.name == "format") continue;
    const std::string where = std::string(what) + " (member " + m.name + ")";
    SLUICE_TRY(npy::array a, npy::parse(m.file, where));
    if (m.name == "shape") {
      if (a.shape.size() != 1 || a.shape[0] != 2 || !zarr::is_integer(a.dtype) || element(a, 0) < 0 ||
          element(a, 1) < 0)
        return bad(where, "not two sizes");
      out.rows = static_cast<std::uint64_t>(element(a, 0));
      out.cols = static_cast<std::uint64_t>(element(a, 1));
      have_shape = true;
    } else {
      out.arrays.emplace(m.name, std::move(a));
    }
  }
  if (!have_shape) return bad(what, "a sparse matrix without a 'shape' member");
  SLUICE_TRY_VOID(validate(out, what));
  return std::optional<sparse_matrix>(std::move(out));
}

result<std::vector<npy::npz_member>> to_npz(const sparse_matrix& m) {
  SLUICE_TRY_VOID(validate(m, "the sparse matrix"));
  std::vector<npy::npz_member> out;
  for (const auto& a : sparse_attributes(m.format)) {
    const npy::array& arr = m.arrays.at(a);
    SLUICE_TRY(std::vector<std::byte> file, npy::format(arr.dtype, arr.shape, arr.data));
    out.push_back({a, std::move(file)});
  }
  out.push_back({"format", npy::bytes_scalar_npy(m.format)});
  const std::int64_t shape[2] = {static_cast<std::int64_t>(m.rows), static_cast<std::int64_t>(m.cols)};
  const std::uint64_t dims[1] = {2};
  SLUICE_TRY(std::vector<std::byte> file,
             npy::format(zarr::data_type::int64, dims, std::as_bytes(std::span(shape))));
  out.push_back({"shape", std::move(file)});
  return out;
}

awaitable<result<void>> put_sparse(store::store& st, std::string_view name, const sparse_matrix& m,
                                   const raw_put_options& opts) {
  const std::string what = st.describe(name);
  SLUICE_CO_TRY_VOID(validate(m, what));
  const auto attrs = sparse_attributes(m.format);
  for (const auto& a : attrs) {
    const std::string key = std::string(name) + "/" + a;
    SLUICE_CO_TRY_VOID(co_await put_raw(st, key, m.arrays.at(a), opts));
  }
  json::object o;
  o["type"] = m.format;
  json::array names, shape;
  for (const auto& a : attrs) names.emplace_back(a);
  shape.push_back(m.rows);
  shape.push_back(m.cols);
  o["attrs"] = std::move(names);
  o["shape"] = std::move(shape);
  const std::string text = json::serialize(o);
  const std::string key = std::string(name) + "/metadata.json";
  store::write_options wo;
  wo.content_type = "application/json";
  SLUICE_CO_TRY_VOID(co_await st.write(key, std::as_bytes(std::span(text.data(), text.size())), wo));
  co_return result<void>{};
}

awaitable<result<std::optional<sparse_matrix>>> get_sparse(store::store& st, std::string_view name) {
  const std::string key = std::string(name) + "/metadata.json";
  const std::string what = st.describe(key);
  SLUICE_CO_TRY(store::read_result r, co_await st.read(key, store::read_all));
  if (r.state != store::read_state::value) co_return std::optional<sparse_matrix>{};
  boost::system::error_code ec;
  json::value v =
      json::parse(std::string_view(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size()), ec);
  if (ec || !v.is_object()) co_return bad(what, "not a JSON object");
  const auto& o = v.get_object();
  auto type = o.find("type");
  if (type == o.end()) co_return std::optional<sparse_matrix>{};  // not a sparse matrix's
  sparse_matrix m;
  if (!type->value().is_string()) co_return bad(what, "'type' is not a string");
  m.format = std::string(type->value().get_string());
  if (sparse_attributes(m.format).empty())
    co_return fail(errc::unsupported,
                   what + ": sparse format '" + m.format + "' (sluice handles csr, csc and coo)");
  auto shape = o.find("shape");
  auto size_of = [](const json::value& v) -> std::optional<std::uint64_t> {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    return std::nullopt;
  };
  if (shape == o.end() || !shape->value().is_array() || shape->value().get_array().size() != 2 ||
      !size_of(shape->value().get_array()[0]) || !size_of(shape->value().get_array()[1]))
    co_return bad(what, "'shape' is not two sizes");
  m.rows = *size_of(shape->value().get_array()[0]);
  m.cols = *size_of(shape->value().get_array()[1]);
  for (const auto& a : sparse_attributes(m.format)) {
    const std::string part = std::string(name) + "/" + a;
    SLUICE_CO_TRY(npy::array arr, co_await get_raw(st, part));
    m.arrays.emplace(a, std::move(arr));
  }
  SLUICE_CO_TRY_VOID(validate(m, st.describe(name)));
  co_return std::optional<sparse_matrix>(std::move(m));
}

awaitable<result<void>> put_dict(store::store& st, std::string_view name,
                                 const std::map<std::string, npy::array>& entries,
                                 const raw_put_options& opts, unsigned concurrency) {
  for (const auto& [k, a] : entries) {
    (void)a;
    const std::string key = std::string(name) + "/" + k;
    if (k.empty() || k.front() == '/' || k.back() == '/' || k.find("//") != std::string::npos || k == ".." ||
        k.starts_with("../") || k.find("/../") != std::string::npos || k.ends_with("/.."))
      co_return bad(st.describe(key), "an entry name that is not a plain path");
    SLUICE_CO_TRY_VOID(store::validate_key(key));
  }
  std::vector<const std::pair<const std::string, npy::array>*> list;
  for (const auto& e : entries) list.push_back(&e);
  std::vector<error> failures;
  std::size_t next = 0;
  auto worker = [&](unsigned) -> awaitable<void> {
    while (failures.empty() && next < list.size()) {
      const auto& [k, a] = *list[next++];
      const std::string key = std::string(name) + "/" + k;
      auto g = co_await put_raw(st, key, a, opts);
      if (!g) failures.push_back(g.error());
    }
  };
  co_await run_concurrently(std::max(1u, concurrency), worker);
  if (!failures.empty()) co_return failures.front();
  co_return result<void>{};
}

awaitable<result<std::map<std::string, npy::array>>> get_dict(store::store& st, std::string_view name,
                                                              unsigned concurrency) {
  const std::string prefix = std::string(name) + "/";
  std::vector<std::string> keys;
  const store::list_callback on_page = [&](store::list_page& page) -> result<bool> {
    for (const auto& e : page.entries) keys.push_back(e.key);
    return true;
  };
  SLUICE_CO_TRY_VOID(co_await st.list(prefix, store::list_all, on_page));
  std::map<std::string, npy::array> out;
  std::vector<error> failures;
  std::size_t next = 0;
  auto worker = [&](unsigned) -> awaitable<void> {
    while (failures.empty() && next < keys.size()) {
      const std::string key = keys[next++];
      if (key.ends_with("/")) continue;  // a folder marker
      auto a = co_await get_raw(st, key);
      if (!a) {
        failures.push_back(a.error());
        continue;
      }
      out.emplace(key.substr(prefix.size()), std::move(*a));
    }
  };
  co_await run_concurrently(std::max(1u, concurrency), worker);
  if (!failures.empty()) co_return failures.front();
  if (out.empty()) co_return fail(errc::not_found, st.describe(prefix) + ": nothing there");
  co_return out;
}

}  // namespace sluice::object_array
