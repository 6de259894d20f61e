#include <sluice/object_array/chunked.hpp>

#include "npy/limits.hpp"

#include "object_array/errors.hpp"

#include <sluice/engine/runtime/concurrently.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>

namespace sluice::object_array {

namespace json = boost::json;
using boost::asio::awaitable;

namespace {

using detail::bad;

result<std::vector<std::uint64_t>> uint_list(const json::value& v, std::string_view what,
                                             std::string_view field) {
  if (!v.is_array()) return bad(what, "'" + std::string(field) + "' is not a list of sizes");
  std::vector<std::uint64_t> out;
  for (const auto& e : v.get_array()) {
    if (e.is_uint64())
      out.push_back(e.get_uint64());
    else if (e.is_int64() && e.get_int64() >= 0)
      out.push_back(static_cast<std::uint64_t>(e.get_int64()));
    else
      return bad(what, "'" + std::string(field) + "' holds something that is not a size");
  }
  return out;
}

std::string part_key(std::string_view name, std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/pt%04zu", i);
  return std::string(name) + buf;
}

// Copies the box `lo`..`lo + count` (per dimension) from `src` (C order, shape `src_shape`, the box at
// `src_at` in it) into `dst` (C order, shape `dst_shape`, at `dst_at`). Contiguous runs of the last
// dimension go in one memcpy.
void copy_box(const std::byte* src, std::span<const std::uint64_t> src_shape,
              std::span<const std::uint64_t> src_at, std::byte* dst, std::span<const std::uint64_t> dst_shape,
              std::span<const std::uint64_t> dst_at, std::span<const std::uint64_t> count, std::size_t item) {
  const std::size_t n = count.size();
  if (n == 0) {
    std::memcpy(dst, src, item);
    return;
  }
  for (auto c : count)
    if (c == 0) return;
  std::vector<std::uint64_t> idx(n, 0);
  const std::uint64_t run = count[n - 1] * item;
  for (;;) {
    std::uint64_t s = 0, d = 0;
    for (std::size_t k = 0; k < n; ++k) {
      s = s * src_shape[k] + src_at[k] + idx[k];
      d = d * dst_shape[k] + dst_at[k] + idx[k];
    }
    std::memcpy(dst + d * item, src + s * item, run);
    // Next index over every dimension but the last.
    std::size_t k = n - 1;
    for (;;) {
      if (k == 0) return;
      --k;
      if (++idx[k] < count[k]) break;
      idx[k] = 0;
    }
  }
}

}  // namespace

result<chunked_layout> parse_chunked_metadata(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return bad(what, "not a JSON object");
  const auto& o = v.get_object();
  auto field = [&](std::string_view k) -> const json::value* {
    auto it = o.find(k);
    return it == o.end() ? nullptr : &it->value();
  };
  const json::value* shape = field("shape");
  const json::value* dtype = field("dtype");
  const json::value* chunks = field("chunks");
  const json::value* dask = field("dask");
  if (!dask && field("type"))
    return bad(what, "a sparse matrix's metadata, not a chunked array's (read it into a .npz)");
  if (!shape || !dtype || !chunks || !dask)
    return bad(what, "not cottoncandy's chunked-array metadata (it has shape, dtype, chunks and dask)");
  chunked_layout l;
  SLUICE_TRY(l.shape, uint_list(*shape, what, "shape"));
  if (!dtype->is_string()) return bad(what, "'dtype' is not a string");
  l.dtype = std::string(dtype->get_string());
  SLUICE_TRY_VOID(npy::layout_of(l.dtype, false, {}, what));  // a dtype sluice reads
  if (!chunks->is_array() || chunks->get_array().size() != l.shape.size())
    return bad(what, "'chunks' does not have one list per dimension");
  std::uint64_t expected_parts = 1;
  for (std::size_t d = 0; d < l.shape.size(); ++d) {
    SLUICE_TRY(auto c, uint_list(chunks->get_array()[d], what, "chunks"));
    if (c.empty()) return bad(what, "dimension " + std::to_string(d) + " has no chunks");
    std::uint64_t sum = 0;
    for (auto v : c)
      if (__builtin_add_overflow(sum, v, &sum))
        return bad(what, "the chunks of dimension " + std::to_string(d) + " overflow");
    if (sum != l.shape[d])
      return bad(what, "the chunks of dimension " + std::to_string(d) + " add up to " + std::to_string(sum) +
                           ", the shape says " + std::to_string(l.shape[d]));
    if (expected_parts > (std::uint64_t{1} << 32) / c.size()) return bad(what, "too many parts");
    expected_parts *= c.size();
    l.chunks.push_back(std::move(c));
  }
  if (!dask->is_array()) return bad(what, "'dask' is not a list of parts");
  std::map<std::vector<std::uint64_t>, bool> seen;
  for (const auto& p : dask->get_array()) {
    if (!p.is_array() || p.get_array().size() != 2 || !p.get_array()[1].is_string())
      return bad(what, "a 'dask' entry is not [coordinates, key]");
    chunked_layout::part part;
    SLUICE_TRY(part.coord, uint_list(p.get_array()[0], what, "dask"));
    part.key = std::string(p.get_array()[1].get_string());
    if (part.coord.size() != l.shape.size())
      return bad(what, "a part's coordinates do not match the dimensions");
    for (std::size_t d = 0; d < part.coord.size(); ++d)
      if (part.coord[d] >= l.chunks[d].size())
        return bad(what, "part " + part.key + " lies outside the chunks");
    if (!seen.emplace(part.coord, true).second)
      return bad(what, "two parts for one chunk (" + part.key + ")");
    if (auto ok = store::validate_key(part.key); !ok) return bad(what, "a part's key is not valid");
    l.parts.push_back(std::move(part));
  }
  if (l.parts.size() != expected_parts)
    return bad(what, std::to_string(l.parts.size()) + " parts listed, the chunks make " +
                         std::to_string(expected_parts));
  return l;
}

std::string chunked_metadata_json(const chunked_layout& l) {
  json::object o;
  json::array shape, chunks, dask, sizes;
  for (auto d : l.shape) shape.push_back(d);
  for (const auto& c : l.chunks) {
    json::array a;
    for (auto v : c) a.push_back(v);
    chunks.push_back(std::move(a));
  }
  for (const auto& p : l.parts) {
    json::array coord, size;
    for (std::size_t d = 0; d < p.coord.size(); ++d) {
      coord.push_back(p.coord[d]);
      size.push_back(l.chunks[d][p.coord[d]]);
    }
    dask.push_back(json::array{coord, json::string(p.key)});
    sizes.push_back(std::move(size));
  }
  o["shape"] = std::move(shape);
  o["dtype"] = l.dtype;
  o["dask"] = std::move(dask);
  o["chunk_sizes"] = std::move(sizes);
  o["chunks"] = std::move(chunks);
  return json::serialize(o);
}

awaitable<result<chunked_layout>> put_chunked(store::store& st, std::string_view name, const npy::array& a,
                                              const chunked_put_options& opts) {
  const std::string what = st.describe(name);
  const auto ndim = static_cast<int>(a.shape.size());
  if (ndim == 0) co_return bad(what, "a 0-d array has no axis to split (store it as a raw array)");
  const int axis = opts.split_axis < 0 ? ndim + opts.split_axis : opts.split_axis;
  if (axis < 0 || axis >= ndim)
    co_return bad(what, "split axis " + std::to_string(opts.split_axis) + " is not one of the array's " +
                            std::to_string(ndim) + " axes");
  if (opts.part_bytes == 0) co_return bad(what, "a part size of 0 bytes");
  const std::size_t item = zarr::element_size(a.dtype);
  std::uint64_t outer = 1, inner = item;  // elements before the axis; bytes of one step along it
  for (int d = 0; d < axis; ++d) outer *= a.shape[d];
  for (int d = axis + 1; d < ndim; ++d) inner *= a.shape[d];
  const std::uint64_t along = a.shape[axis];
  // One step along the axis is outer * inner bytes (the item size times every other dimension).
  const std::uint64_t step = outer * inner;
  const std::uint64_t per = std::max<std::uint64_t>(1, opts.part_bytes / std::max<std::uint64_t>(step, 1));
  chunked_layout l;
  l.shape = a.shape;
  l.dtype = npy::descr_of(a.dtype);
  for (int d = 0; d < ndim; ++d) l.chunks.push_back({a.shape[d]});
  l.chunks[axis].clear();
  for (std::uint64_t at = 0; at < along; at += per) l.chunks[axis].push_back(std::min(per, along - at));
  if (l.chunks[axis].empty()) l.chunks[axis].push_back(0);
  for (std::size_t i = 0; i < l.chunks[axis].size(); ++i) {
    chunked_layout::part p;
    p.coord.assign(ndim, 0);
    p.coord[axis] = i;
    p.key = part_key(name, i);
    l.parts.push_back(std::move(p));
  }
  raw_put_options ro;
  ro.codec = opts.codec;
  ro.level = opts.level;
  std::vector<error> failures;
  std::size_t next = 0;
  std::uint64_t start_of_next = 0;
  auto worker = [&](unsigned) -> awaitable<void> {
    while (failures.empty() && next < l.parts.size()) {
      const std::size_t i = next++;
      const std::uint64_t start = start_of_next, len = l.chunks[axis][i];
      start_of_next += len;
      npy::array part;
      part.dtype = a.dtype;
      part.shape = a.shape;
      part.shape[axis] = len;
      part.data.resize(outer * len * inner);
      for (std::uint64_t o = 0; o < outer; ++o)
        std::memcpy(part.data.data() + o * len * inner, a.data.data() + (o * along + start) * inner,
                    len * inner);
      const std::string key = l.parts[i].key;
      auto g = co_await put_raw(st, key, part, ro);
      if (!g) failures.push_back(g.error());
    }
  };
  co_await run_concurrently(std::max(1u, opts.concurrency), worker);
  if (!failures.empty()) co_return failures.front();
  const std::string text = chunked_metadata_json(l);
  const std::string key = std::string(name) + "/metadata.json";
  store::write_options wo;
  wo.content_type = "application/json";
  SLUICE_CO_TRY_VOID(co_await st.write(key, std::as_bytes(std::span(text.data(), text.size())), wo));
  co_return l;
}

awaitable<result<std::optional<chunked_layout>>> read_chunked_layout(store::store& st,
                                                                     std::string_view name) {
  const std::string key = std::string(name) + "/metadata.json";
  SLUICE_CO_TRY(store::read_result r, co_await st.read(key, store::read_all));
  if (r.state != store::read_state::value) co_return std::optional<chunked_layout>{};
  const std::string text(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
  SLUICE_CO_TRY(chunked_layout l, parse_chunked_metadata(text, st.describe(key)));
  co_return std::optional<chunked_layout>(std::move(l));
}

awaitable<result<npy::array>> get_chunked(store::store& st, const chunked_layout& l,
                                          std::span<const std::pair<std::uint64_t, std::uint64_t>> box_in,
                                          unsigned concurrency, std::uint64_t* parts_read) {
  const std::size_t n = l.shape.size();
  // The array's name: its parts' common directory ("NAME/pt0000" -> "NAME").
  const std::string first = l.parts.empty() ? std::string() : l.parts.front().key;
  const std::string what =
      st.describe(first.substr(0, first.rfind('/') == std::string::npos ? first.size() : first.rfind('/')));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> box(box_in.begin(), box_in.end());
  if (box.empty())
    for (auto d : l.shape) box.emplace_back(0, d);
  if (box.size() != n)
    co_return bad(what, "a selection of " + std::to_string(box.size()) + " dimensions for an array of " +
                            std::to_string(n));
  for (std::size_t d = 0; d < n; ++d)
    if (box[d].first > box[d].second || box[d].second > l.shape[d])
      co_return bad(what, "the selection " + std::to_string(box[d].first) + ":" +
                              std::to_string(box[d].second) + " lies outside dimension " + std::to_string(d) +
                              " (" + std::to_string(l.shape[d]) + ")");
  SLUICE_CO_TRY(npy::header want, npy::layout_of(l.dtype, false, {}, what));
  const std::size_t item = zarr::element_size(want.dtype);
  npy::array out;
  out.dtype = want.dtype;
  std::uint64_t total = item;
  bool overflow = false;
  for (auto [lo, hi] : box) {
    out.shape.push_back(hi - lo);
    overflow = overflow || __builtin_mul_overflow(total, hi - lo, &total);
  }
  if (overflow || total > npy::detail::physical_memory())
    co_return fail(errc::too_large, what + ": the selection is larger than this machine's memory");
  out.data.resize(total);
  // Each dimension's chunk offsets.
  std::vector<std::vector<std::uint64_t>> offsets(n);
  for (std::size_t d = 0; d < n; ++d) {
    std::uint64_t at = 0;
    for (auto c : l.chunks[d]) {
      offsets[d].push_back(at);
      at += c;
    }
  }
  std::vector<const chunked_layout::part*> wanted;
  for (const auto& p : l.parts) {
    bool touches = true;
    for (std::size_t d = 0; d < n && touches; ++d) {
      const std::uint64_t lo = offsets[d][p.coord[d]], hi = lo + l.chunks[d][p.coord[d]];
      touches = lo < box[d].second && box[d].first < hi;
    }
    if (touches) wanted.push_back(&p);
  }
  std::vector<error> failures;
  std::size_t next = 0;
  std::uint64_t read = 0;
  auto worker = [&](unsigned) -> awaitable<void> {
    while (failures.empty() && next < wanted.size()) {
      const chunked_layout::part& p = *wanted[next++];
      const std::string key = p.key;
      auto got = co_await get_raw(st, key);
      if (!got) {
        failures.push_back(got.error());
        continue;
      }
      ++read;
      std::vector<std::uint64_t> part_shape(n), src_at(n), dst_at(n), count(n);
      for (std::size_t d = 0; d < n; ++d) part_shape[d] = l.chunks[d][p.coord[d]];
      if (got->dtype != want.dtype || got->shape != part_shape) {
        failures.push_back(error(errc::corrupt_data, st.describe(key) +
                                                         ": the part's dtype or shape is not what the "
                                                         "chunked array's metadata says"));
        continue;
      }
      for (std::size_t d = 0; d < n; ++d) {
        const std::uint64_t lo = offsets[d][p.coord[d]];
        const std::uint64_t from = std::max(lo, box[d].first),
                            to = std::min(lo + part_shape[d], box[d].second);
        src_at[d] = from - lo;
        dst_at[d] = from - box[d].first;
        count[d] = to - from;
      }
      copy_box(got->data.data(), part_shape, src_at, out.data.data(), out.shape, dst_at, count, item);
    }
  };
  co_await run_concurrently(std::max(1u, concurrency), worker);
  if (parts_read) *parts_read = read;
  if (!failures.empty()) co_return failures.front();
  co_return out;
}

}  // namespace sluice::object_array
