#include <sluice/zarr/array.hpp>

#include "zarr/codec_chain.hpp"
#include "zarr/hierarchy.hpp"
#include "zarr/shard_index_cache.hpp"

#include <sluice/engine/codec/endian.hpp>
#include <sluice/engine/runtime/admission.hpp>
#include <sluice/engine/runtime/concurrently.hpp>
#include <sluice/engine/runtime/engine.hpp>
#include <sluice/engine/runtime/run_on.hpp>
#include <sluice/zarr/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>

namespace sluice::zarr {

namespace asio = boost::asio;

namespace {

using detail::join;

// A selection resolved against a shape: per dimension the first index, the
// count and the step.
struct resolved_dim {
  std::uint64_t start = 0, count = 0, step = 1;
};

result<std::vector<resolved_dim>> resolve(const selection& sel, std::span<const std::uint64_t> shape) {
  std::vector<resolved_dim> out(shape.size());
  if (sel.empty()) {
    for (std::size_t d = 0; d < shape.size(); ++d) out[d] = {0, shape[d], 1};
    return out;
  }
  if (sel.size() != shape.size())
    return fail(sluice::errc::invalid_argument, "a selection of " + std::to_string(sel.size()) +
                                                    " dimensions for an array of " +
                                                    std::to_string(shape.size()));
  for (std::size_t d = 0; d < shape.size(); ++d) {
    const slice& s = sel[d];
    const std::string dim = "dimension " + std::to_string(d);
    if (s.step == 0) return fail(sluice::errc::invalid_argument, dim + ": a step of 0");
    const std::uint64_t stop = s.stop.value_or(shape[d]);
    if (s.single && s.start >= shape[d])
      return fail(sluice::errc::invalid_argument,
                  dim + ": index " + std::to_string(s.start) + " is outside 0.." + std::to_string(shape[d]));
    if (stop > shape[d] || s.start > stop)
      return fail(sluice::errc::invalid_argument, dim + ": " + std::to_string(s.start) + ":" +
                                                      std::to_string(stop) +
                                                      " is outside 0:" + std::to_string(shape[d]));
    out[d] = {s.start, (stop - s.start + s.step - 1) / s.step, s.step};
  }
  return out;
}

// C-order strides in elements.
std::vector<std::uint64_t> strides_of(std::span<const std::uint64_t> shape) {
  std::vector<std::uint64_t> st(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) st[d - 1] = st[d] * shape[d];
  return st;
}

// What one chunk contributes: per dimension, the first selected position
// inside the chunk, how many, the step, and where they go in the selection.
struct chunk_part {
  std::vector<std::uint64_t> index;     // the chunk's grid index
  std::vector<std::uint64_t> in_chunk;  // first position inside the chunk
  std::vector<std::uint64_t> in_sel;    // first position in the selection
  std::vector<std::uint64_t> count;
  bool whole = false;  // covers every in-bounds element of the chunk
};

// Copies `count` elements per dimension between a chunk buffer (C order,
// `chunk_shape`) and a selection buffer (C order, `sel_shape`): chunk
// positions in_chunk + k*step, selection positions in_sel + k.
void copy_region(std::byte* chunk, std::span<const std::uint64_t> chunk_strides, std::byte* sel,
                 std::span<const std::uint64_t> sel_strides, const chunk_part& p,
                 std::span<const resolved_dim> dims, std::size_t esize, bool to_chunk) {
  const std::size_t rank = p.count.size();
  if (rank == 0) {
    if (to_chunk)
      std::memcpy(chunk, sel, esize);
    else
      std::memcpy(sel, chunk, esize);
    return;
  }
  std::vector<std::uint64_t> k(rank, 0);
  const std::size_t last = rank - 1;
  const bool contiguous = dims[last].step == 1;
  for (;;) {
    std::uint64_t c_off = 0, s_off = 0;
    for (std::size_t d = 0; d < last; ++d) {
      c_off += (p.in_chunk[d] + k[d] * dims[d].step) * chunk_strides[d];
      s_off += (p.in_sel[d] + k[d]) * sel_strides[d];
    }
    c_off += p.in_chunk[last];
    s_off += p.in_sel[last];
    if (contiguous) {
      const std::size_t n = static_cast<std::size_t>(p.count[last]) * esize;
      if (to_chunk)
        std::memcpy(chunk + c_off * esize, sel + s_off * esize, n);
      else
        std::memcpy(sel + s_off * esize, chunk + c_off * esize, n);
    } else {
      for (std::uint64_t j = 0; j < p.count[last]; ++j) {
        std::byte* c = chunk + (c_off + j * dims[last].step) * esize;
        std::byte* s = sel + (s_off + j) * esize;
        if (to_chunk)
          std::memcpy(c, s, esize);
        else
          std::memcpy(s, c, esize);
      }
    }
    std::size_t d = last;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++k[d] < p.count[d]) break;
      k[d] = 0;
    }
  }
}

// The chunks a selection touches and what each contributes.
std::vector<chunk_part> plan(const array_metadata& m, std::span<const std::uint64_t> cs,
                             std::span<const resolved_dim> dims) {
  const std::size_t rank = dims.size();
  std::vector<chunk_part> parts;
  for (const auto& d : dims)
    if (d.count == 0) return parts;
  // Per dimension, the chunks touched and each one's slice of the selection.
  struct span_in_dim {
    std::uint64_t chunk, in_chunk, in_sel, count;
    bool whole;
  };
  std::vector<std::vector<span_in_dim>> per_dim(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    const auto& r = dims[d];
    std::uint64_t k = 0;
    while (k < r.count) {
      const std::uint64_t pos = r.start + k * r.step;
      const std::uint64_t c = pos / cs[d];
      const std::uint64_t chunk_end = std::min((c + 1) * cs[d], m.shape[d]);
      const std::uint64_t n = std::min(r.count - k, (chunk_end - pos + r.step - 1) / r.step);
      const bool whole = r.step == 1 && pos == c * cs[d] && pos + n == chunk_end;
      per_dim[d].push_back({c, pos - c * cs[d], k, n, whole});
      k += n;
    }
  }
  std::vector<std::size_t> at(rank, 0);
  for (;;) {
    chunk_part p;
    p.whole = true;
    for (std::size_t d = 0; d < rank; ++d) {
      const auto& s = per_dim[d][at[d]];
      p.index.push_back(s.chunk);
      p.in_chunk.push_back(s.in_chunk);
      p.in_sel.push_back(s.in_sel);
      p.count.push_back(s.count);
      p.whole = p.whole && s.whole;
    }
    parts.push_back(std::move(p));
    std::size_t d = rank;
    for (;;) {
      if (d == 0) return parts;
      --d;
      if (++at[d] < per_dim[d].size()) break;
      at[d] = 0;
    }
  }
}

void fill_with(std::span<std::byte> buf, const fill_value& f) {
  const std::size_t n = f.size();
  bool zero = std::all_of(f.bytes().begin(), f.bytes().end(), [](std::byte b) { return b == std::byte{0}; });
  if (zero) {
    std::memset(buf.data(), 0, buf.size());
    return;
  }
  for (std::size_t i = 0; i + n <= buf.size(); i += n) std::memcpy(buf.data() + i, f.bytes().data(), n);
}

bool all_fill(std::span<const std::byte> buf, const fill_value& f) {
  const std::size_t n = f.size();
  for (std::size_t i = 0; i + n <= buf.size(); i += n)
    if (std::memcmp(buf.data() + i, f.bytes().data(), n) != 0) return false;
  return true;
}

// The fill value in native byte order (it is kept little-endian).
fill_value native_fill(const array_metadata& m) {
  if (codec::native_is_little || element_size(m.dtype) == 1) return m.fill;
  std::array<std::byte, 16> b{};
  std::memcpy(b.data(), m.fill.bytes().data(), m.fill.size());
  codec::swap_bytes(std::span<std::byte>(b.data(), m.fill.size()),
                    is_complex(m.dtype) ? m.fill.size() / 2 : m.fill.size());
  return *fill_value::from_bytes(m.dtype, std::span<const std::byte>(b.data(), m.fill.size()));
}

// What read and write share: the selection resolved, the chunks it touches,
// the strides of a chunk and of the caller's buffer (which must hold exactly
// the selection: `bytes`), and the fill value in native byte order.
struct prepared {
  std::vector<resolved_dim> dims;
  std::vector<chunk_part> parts;
  std::vector<std::uint64_t> chunk_strides, sel_strides;
  std::size_t esize = 0, chunk_bytes = 0;
  fill_value fill;
};

// `chunk_shape`: the grid the selection is cut along (the array's chunks, or
// the inner chunks of its shards).
result<prepared> prepare(const array_metadata& m, std::span<const std::uint64_t> chunk_shape,
                         const selection& sel, std::size_t bytes, std::string_view role) {
  prepared p;
  p.esize = element_size(m.dtype);
  SLUICE_TRY(p.dims, resolve(sel, m.shape));
  std::vector<std::uint64_t> sel_shape;
  std::uint64_t elements = 1;
  for (const auto& d : p.dims) {
    sel_shape.push_back(d.count);
    elements *= d.count;
  }
  if (bytes != elements * p.esize)
    return fail(sluice::errc::invalid_argument, "the selection holds " + std::to_string(elements * p.esize) +
                                                    " bytes; the " + std::string(role) + " " +
                                                    std::to_string(bytes));
  p.parts = plan(m, chunk_shape, p.dims);
  p.chunk_strides = strides_of(chunk_shape);
  p.sel_strides = strides_of(sel_shape);
  std::uint64_t chunk_elements = 1;
  for (auto n : chunk_shape) chunk_elements *= n;
  p.chunk_bytes = static_cast<std::size_t>(chunk_elements * p.esize);
  p.fill = native_fill(m);
  return p;
}

// Decodes stored chunk bytes on one of the store's engine threads when it has
// an engine (the S3 store), so that several chunks decode at once; else here.
// Every argument is borrowed until the awaitable completes (the caller awaits
// it at once).
asio::awaitable<result<void>> decode_task(const chunk_codecs& codecs, std::span<const std::byte> stored,
                                          std::span<std::byte> chunk, std::string_view where) {
  co_return codecs.decode(stored, chunk, where);
}

asio::awaitable<result<void>> decode_on(engine* eng, const chunk_codecs& codecs,
                                        std::span<const std::byte> stored, std::span<std::byte> chunk,
                                        std::string_view where) {
  if (eng == nullptr) co_return codecs.decode(stored, chunk, where);
  const asio::any_io_executor ex = eng->executor();
  co_return co_await run_on(ex, decode_task(codecs, stored, chunk, where));
}

// Encodes a chunk on one of the store's engine threads when it has one, so
// that several chunks (whole shards) encode at once; else here. Arguments
// borrowed as decode_on's.
asio::awaitable<result<std::vector<std::byte>>> encode_task(const chunk_codecs& codecs,
                                                            std::span<const std::byte> chunk,
                                                            std::string_view where) {
  co_return codecs.encode(chunk, where);
}

asio::awaitable<result<std::vector<std::byte>>> encode_on(engine* eng, const chunk_codecs& codecs,
                                                          std::span<const std::byte> chunk,
                                                          std::string_view where) {
  if (eng == nullptr) co_return codecs.encode(chunk, where);
  const asio::any_io_executor ex = eng->executor();
  co_return co_await run_on(ex, encode_task(codecs, chunk, where));
}

// Decoded shard indexes an array keeps (16 bytes per inner chunk: 16 MiB
// hold the indexes of a million inner chunks).
constexpr std::size_t shard_index_cache_bytes = std::size_t(16) << 20;

}  // namespace

std::string array::chunk_key(std::span<const std::uint64_t> chunk_index) const {
  return join(path_, meta_->chunk_key.key(chunk_index));
}

array array::assemble(std::shared_ptr<store::store> st, std::string path, array_metadata metadata,
                      std::shared_ptr<const chunk_codecs> codecs) {
  array a;
  a.store_ = std::move(st);
  a.path_ = std::move(path);
  a.meta_ = std::make_shared<const array_metadata>(std::move(metadata));
  a.codecs_ = std::move(codecs);
  a.indexes_ = std::make_shared<shard_index_cache>(shard_index_cache_bytes);
  return a;
}

asio::awaitable<result<array>> array::create(std::shared_ptr<store::store> st, std::string path,
                                             array_metadata metadata) {
  const std::string doc_key = join(path, "zarr.json");
  SLUICE_CO_TRY(std::string doc, write_metadata(metadata, doc_key));
  SLUICE_CO_TRY(auto codecs, chunk_codecs::make(metadata, doc_key));
  SLUICE_CO_TRY_VOID(co_await detail::ensure_parent_groups(st, path));
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(doc.data()), doc.size());
  SLUICE_CO_TRY_VOID(co_await st->write(doc_key, bytes));
  co_return assemble(std::move(st), std::move(path), std::move(metadata), std::move(codecs));
}

asio::awaitable<result<array>> array::open(std::shared_ptr<store::store> st, std::string path) {
  const std::string doc_key = join(path, "zarr.json");
  SLUICE_CO_TRY(store::read_result got, co_await st->read(doc_key));
  if (got.state != store::read_state::value)
    co_return fail(sluice::errc::not_found, st->describe(doc_key) + ": no array here (no zarr.json)");
  std::string_view text(reinterpret_cast<const char*>(got.bytes.data()), got.bytes.size());
  SLUICE_CO_TRY(array_metadata m, parse_array_metadata(text, st->describe(doc_key)));
  SLUICE_CO_TRY(auto codecs, chunk_codecs::make(m, st->describe(doc_key)));
  co_return assemble(std::move(st), std::move(path), std::move(m), std::move(codecs));
}

result<array> array::bind(std::shared_ptr<store::store> st, std::string path, array_metadata metadata) {
  const std::string where = st->describe(join(path, "zarr.json"));
  SLUICE_TRY_VOID(validate(metadata, where));
  SLUICE_TRY(auto codecs, chunk_codecs::make(metadata, where));
  return assemble(std::move(st), std::move(path), std::move(metadata), std::move(codecs));
}

asio::awaitable<result<void>> array::set_attributes(boost::json::object attributes) {
  array_metadata m = *meta_;
  m.attributes = std::move(attributes);
  const std::string doc_key = join(path_, "zarr.json");
  SLUICE_CO_TRY(std::string doc, write_metadata(m, store_->describe(doc_key)));
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(doc.data()), doc.size());
  SLUICE_CO_TRY_VOID(co_await store_->write(doc_key, bytes));
  meta_ = std::make_shared<const array_metadata>(std::move(m));
  co_return result<void>{};
}

asio::awaitable<result<void>> array::resize(std::vector<std::uint64_t> shape, unsigned concurrency) {
  const array_metadata& old = *meta_;
  const std::string doc_key = join(path_, "zarr.json");
  if (shape.size() != old.shape.size())
    co_return fail(sluice::errc::invalid_argument,
                   store_->describe(doc_key) + ": a shape of " + std::to_string(shape.size()) +
                       " dimensions for an array of " + std::to_string(old.shape.size()));
  array_metadata m = old;
  m.shape = shape;
  SLUICE_CO_TRY(std::string doc, write_metadata(m, store_->describe(doc_key)));
  bool shrinks = false;
  for (std::size_t d = 0; d < shape.size(); ++d) shrinks = shrinks || shape[d] < old.shape[d];
  if (shrinks) {
    // The stored chunks (listed, not guessed from the grid): those wholly
    // past the new shape go, those it cuts are rewritten.
    const auto& cs = old.chunk_grid.chunk_shape;
    std::vector<std::vector<std::uint64_t>> cut, gone;
    const std::string prefix = path_.empty() ? "" : path_ + "/";
    const store::list_callback collect = [&](store::list_page& page) -> result<bool> {
      for (const auto& e : page.entries) {
        auto index = old.chunk_key.parse(std::string_view(e.key).substr(prefix.size()), old.shape.size());
        if (!index) continue;
        bool outside = false, straddles = false;
        for (std::size_t d = 0; d < shape.size(); ++d) {
          const std::uint64_t first = (*index)[d] * cs[d], end = first + cs[d];
          outside = outside || first >= shape[d];
          straddles = straddles || (end > shape[d] && shape[d] < old.shape[d]);
        }
        if (outside)
          gone.push_back(std::move(*index));
        else if (straddles)
          cut.push_back(std::move(*index));
      }
      return true;
    };
    SLUICE_CO_TRY_VOID(co_await store_->list(prefix, store::list_all, collect));
    const fill_value fill = native_fill(old);
    const std::size_t esize = element_size(old.dtype);
    const std::vector<std::uint64_t> strides = strides_of(cs);
    std::size_t next = 0;
    std::optional<error> failed;
    co_await run_concurrently(
        std::max(1u, std::min<unsigned>(concurrency, static_cast<unsigned>(gone.size() + cut.size()))),
        [&](unsigned) -> asio::awaitable<void> {
          std::vector<std::byte> chunk(static_cast<std::size_t>(old.chunk_element_count() * esize));
          while (!failed && next < gone.size() + cut.size()) {
            const std::size_t i = next++;
            const bool remove = i < gone.size();
            const std::vector<std::uint64_t>& index = remove ? gone[i] : cut[i - gone.size()];
            const std::string key = chunk_key(index);
            if (indexes_) indexes_->forget(key);
            result<void> step{};
            if (remove) {
              step = co_await store_->remove(key);
            } else if (step = co_await load_chunk(key, chunk, fill); step) {
              // Every element at or past the new shape becomes the fill value.
              for (std::uint64_t e = 0; e < old.chunk_element_count(); ++e) {
                bool past = false;
                for (std::size_t d = 0; d < cs.size() && !past; ++d)
                  past = index[d] * cs[d] + (e / strides[d]) % cs[d] >= shape[d];
                if (past) std::memcpy(chunk.data() + e * esize, fill.bytes().data(), esize);
              }
              if (all_fill(chunk, fill)) {
                step = co_await store_->remove(key);
              } else if (auto encoded = codecs_->encode(chunk, store_->describe(key)); !encoded) {
                step = encoded.error();
              } else if (auto w = co_await store_->write(key, *encoded); !w) {
                step = w.error();
              }
            }
            if (!step && !failed) failed = step.error();
          }
        });
    if (failed) co_return *failed;
  }
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(doc.data()), doc.size());
  SLUICE_CO_TRY_VOID(co_await store_->write(doc_key, bytes));
  meta_ = std::make_shared<const array_metadata>(std::move(m));
  co_return result<void>{};
}

asio::awaitable<result<void>> array::for_each_chunk(const selection& sel, const chunk_visitor& visit,
                                                    unsigned concurrency) const {
  const chunk_codecs::sharding* sh = codecs_->ranged_sharding();
  const std::vector<std::uint64_t>& grid = sh ? sh->inner_shape : meta_->chunk_grid.chunk_shape;
  SLUICE_CO_TRY(const auto dims, resolve(sel, meta_->shape));
  const std::vector<chunk_part> parts = plan(*meta_, grid, dims);
  const std::size_t esize = element_size(meta_->dtype);
  std::size_t next = 0;
  bool stop = false;
  std::optional<error> failed;
  co_await run_concurrently(
      std::max(1u, std::min<unsigned>(concurrency, static_cast<unsigned>(parts.size()))),
      [&](unsigned) -> asio::awaitable<void> {
        std::vector<std::byte> data;
        while (!failed && !stop && next < parts.size()) {
          const chunk_part& p = parts[next++];
          selection part(dims.size());
          std::uint64_t elements = 1;
          for (std::size_t d = 0; d < dims.size(); ++d) {
            const std::uint64_t first = p.index[d] * grid[d] + p.in_chunk[d];
            if (!sel.empty() && sel[d].single)
              part[d] = slice::at(first);
            else
              part[d] = slice::range(first, first + (p.count[d] - 1) * dims[d].step + 1, dims[d].step);
            elements *= p.count[d];
          }
          data.resize(static_cast<std::size_t>(elements * esize));
          auto got = co_await read(part, data, 1);
          if (!got) {
            if (!failed) failed = got.error();
            continue;
          }
          if (failed || stop) break;
          auto more = visit(part, data);
          if (!more) {
            if (!failed) failed = more.error();
          } else if (!*more) {
            stop = true;
          }
        }
      });
  if (failed) co_return *failed;
  co_return result<void>{};
}

result<std::vector<std::uint64_t>> array::shape_of(const selection& sel) const {
  SLUICE_TRY(auto dims, resolve(sel, meta_->shape));
  std::vector<std::uint64_t> shape;
  for (std::size_t d = 0; d < dims.size(); ++d)
    if (sel.empty() || !sel[d].single) shape.push_back(dims[d].count);
  return shape;
}

asio::awaitable<result<void>> array::load_chunk(std::string key, std::span<std::byte> chunk,
                                                const fill_value& fill) const {
  SLUICE_CO_TRY(store::read_result got, co_await store_->read(key));
  if (got.state != store::read_state::value) {
    fill_with(chunk, fill);
    co_return result<void>{};
  }
  const std::string where = store_->describe(key);
  co_return co_await decode_on(store_->compute_engine(), *codecs_, got.bytes.span(), chunk, where);
}

asio::awaitable<result<void>> array::read(const selection& sel, std::span<std::byte> out,
                                          unsigned concurrency) const {
  if (codecs_->ranged_sharding()) co_return co_await read_inner_chunks(sel, out, concurrency);
  SLUICE_CO_TRY(const prepared job,
                prepare(*meta_, meta_->chunk_grid.chunk_shape, sel, out.size(), "destination"));
  std::size_t next = 0;
  std::optional<error> failed;
  co_await run_concurrently(
      std::max(1u, std::min<unsigned>(concurrency, static_cast<unsigned>(job.parts.size()))),
      [&](unsigned) -> asio::awaitable<void> {
        std::vector<std::byte> chunk(job.chunk_bytes);
        while (!failed && next < job.parts.size()) {
          const chunk_part& p = job.parts[next++];
          if (auto loaded = co_await load_chunk(chunk_key(p.index), chunk, job.fill); !loaded) {
            if (!failed) failed = loaded.error();
            continue;
          }
          copy_region(chunk.data(), job.chunk_strides, out.data(), job.sel_strides, p, job.dims, job.esize,
                      false);
        }
      });
  if (failed) co_return *failed;
  co_return result<void>{};
}

asio::awaitable<result<void>> array::write(const selection& sel, std::span<const std::byte> in,
                                           unsigned concurrency) {
  SLUICE_CO_TRY(const prepared job, prepare(*meta_, meta_->chunk_grid.chunk_shape, sel, in.size(), "source"));
  std::size_t next = 0;
  std::optional<error> failed;
  auto* src = const_cast<std::byte*>(in.data());  // only read from (copy_region to_chunk)
  co_await run_concurrently(
      std::max(1u, std::min<unsigned>(concurrency, static_cast<unsigned>(job.parts.size()))),
      [&](unsigned) -> asio::awaitable<void> {
        std::vector<std::byte> chunk(job.chunk_bytes);
        while (!failed && next < job.parts.size()) {
          const chunk_part& p = job.parts[next++];
          const std::string key = chunk_key(p.index);
          result<void> step{};
          if (p.whole) {
            // Only a chunk that overhangs the array's edge has elements the
            // selection does not set: those are the fill value.
            bool overhangs = false;
            for (std::size_t d = 0; d < p.index.size(); ++d)
              overhangs = overhangs || (p.index[d] + 1) * meta_->chunk_grid.chunk_shape[d] > meta_->shape[d];
            if (overhangs) fill_with(chunk, job.fill);
          } else
            step = co_await load_chunk(key, chunk, job.fill);
          if (step) {
            copy_region(chunk.data(), job.chunk_strides, src, job.sel_strides, p, job.dims, job.esize, true);
            if (indexes_) indexes_->forget(key);  // the shard's cached index goes stale
            if (all_fill(chunk, job.fill)) {
              auto r = co_await store_->remove(key);
              if (!r) step = r.error();
            } else {
              const std::string where = store_->describe(key);
              auto encoded = co_await encode_on(store_->compute_engine(), *codecs_, chunk, where);
              if (!encoded) {
                step = encoded.error();
              } else {
                auto w = co_await store_->write(key, *encoded);
                if (!w) step = w.error();
              }
            }
          }
          if (!step && !failed) failed = step.error();
        }
      });
  if (failed) co_return *failed;
  co_return result<void>{};
}

asio::awaitable<result<void>> array::read_inner_chunks(const selection& sel, std::span<std::byte> out,
                                                       unsigned concurrency) const {
  const chunk_codecs::sharding& sh = *codecs_->ranged_sharding();
  SLUICE_CO_TRY(const prepared job, prepare(*meta_, sh.inner_shape, sel, out.size(), "destination"));
  if (job.parts.empty()) co_return result<void>{};  // an empty selection
  // The inner chunks the selection touches, grouped by shard: (inner chunk's
  // index within its shard, C order; the part it contributes).
  struct shard_work {
    std::vector<std::uint64_t> index;
    std::vector<std::pair<std::uint64_t, std::size_t>> inner;
  };
  std::vector<shard_work> shards;
  {
    std::map<std::vector<std::uint64_t>, std::size_t> at;
    for (std::size_t i = 0; i < job.parts.size(); ++i) {
      const chunk_part& p = job.parts[i];
      std::vector<std::uint64_t> shard(p.index.size());
      std::uint64_t within = 0;
      for (std::size_t d = 0; d < p.index.size(); ++d) {
        shard[d] = p.index[d] / sh.per_shard[d];
        within = within * sh.per_shard[d] + p.index[d] % sh.per_shard[d];
      }
      auto [it, added] = at.try_emplace(shard, shards.size());
      if (added) shards.push_back({shard, {}});
      shards[it->second].inner.emplace_back(within, i);
    }
  }
  const std::size_t index_bytes = sh.index_bytes();
  std::vector<std::byte> fill;  // the fill value's chunk, made on first use
  auto copy_out = [&](std::span<const std::byte> from, std::size_t part) {
    copy_region(const_cast<std::byte*>(from.data()), job.chunk_strides, out.data(), job.sel_strides,
                job.parts[part], job.dims, job.esize, false);
  };
  auto copy_fill = [&](std::size_t part) {
    if (fill.empty()) {
      fill.resize(job.chunk_bytes);
      fill_with(fill, job.fill);
    }
    copy_out(fill, part);
  };
  // A shard's stored inner chunks the selection needs, as fetched: the
  // parts (indexes into job.parts) and their bytes, in the same order.
  struct fetched {
    std::vector<std::size_t> parts;
    store::ranges_result got;
  };
  // How the index cache fetches a shard's index when it has not got it.
  auto index_fetcher = [&](const std::string& key, const std::string& where) -> shard_index_cache::fetch_fn {
    return [st = store_, key, where, &sh,
            index_bytes]() -> asio::awaitable<result<std::shared_ptr<const shard_index>>> {
      store::read_options o;
      o.range =
          sh.index_at_start ? store::byte_range::at(0, index_bytes) : store::byte_range::last(index_bytes);
      SLUICE_CO_TRY(store::read_result got, co_await st->read(key, o));
      if (got.state != store::read_state::value) co_return std::shared_ptr<const shard_index>();
      auto idx = std::make_shared<shard_index>();
      idx->gen = got.gen;
      idx->shard_size = got.size;
      if (got.bytes.size() != index_bytes)
        co_return fail(sluice::errc::corrupt_data, where + ": the shard is " + std::to_string(got.size) +
                                                       " bytes, shorter than its index (" +
                                                       std::to_string(index_bytes) + ")");
      SLUICE_CO_TRY(idx->where, sh.decode_index(got.bytes.span(), got.size, where));
      co_return std::shared_ptr<const shard_index>(std::move(idx));
    };
  };
  // Index (cached) and then the needed inner chunks, all of one generation;
  // inner chunks not stored are copied out as the fill value here. A shard
  // rewritten between its index and its chunks is read again.
  auto fetch = [&](const shard_work& w, const std::string& key,
                   const std::string& where) -> asio::awaitable<result<fetched>> {
    const shard_index_cache::fetch_fn get_index = index_fetcher(key, where);
    for (int attempt = 0; attempt < 4; ++attempt) {
      SLUICE_CO_TRY(std::shared_ptr<const shard_index> idx, co_await indexes_->get(key, get_index));
      if (!idx) {  // not stored: every inner chunk is the fill value
        for (const auto& [within, part] : w.inner) copy_fill(part);
        co_return fetched{};
      }
      std::vector<store::byte_range> ranges;
      fetched f;
      for (const auto& [within, part] : w.inner) {
        const auto& loc = idx->where[static_cast<std::size_t>(within)];
        if (!loc.stored()) {
          copy_fill(part);
        } else {
          ranges.push_back(store::byte_range::at(loc.offset, loc.nbytes));
          f.parts.push_back(part);
        }
      }
      if (ranges.empty()) co_return fetched{};
      store::read_options same;
      same.if_equal = idx->gen;
      auto got = co_await store_->read_ranges(key, ranges, same);
      const bool stale = (!got && got.error().code == condition::precondition_failed) ||
                         (got && got->state != store::read_state::value);
      if (stale) {
        indexes_->forget(key, idx->gen);
        continue;
      }
      if (!got) co_return got.error();
      f.got = std::move(*got);
      co_return f;
    }
    co_return fail(sluice::errc::precondition_failed, where + ": the shard kept changing while it was read");
  };
  // Decodes a fetched shard's inner chunks and copies them out: on every
  // thread of the store's engine at once when it has one (each thread takes
  // every n-th chunk; the regions of `out` they write are disjoint), else here.
  engine* eng = store_->compute_engine();
  unsigned decode_turn = 0;
  auto decode = [&](const fetched& f, const std::string& where) -> asio::awaitable<result<void>> {
    const std::size_t n = f.parts.size();
    if (eng == nullptr || n == 1) {
      std::vector<std::byte> inner(job.chunk_bytes);
      for (std::size_t j = 0; j < n; ++j) {
        SLUICE_CO_TRY_VOID(co_await decode_on(eng, *sh.inner, f.got.ranges[j].span(), inner, where));
        copy_out(inner, f.parts[j]);
      }
      co_return result<void>{};
    }
    const unsigned tasks = static_cast<unsigned>(std::min<std::size_t>(eng->thread_count(), n));
    std::vector<result<void>> outcome(tasks);
    const unsigned first = decode_turn++ % eng->thread_count();  // small units spread over the threads
    co_await run_on_contexts(*eng, first, tasks, [&](unsigned t) -> asio::awaitable<void> {
      std::vector<std::byte> inner(job.chunk_bytes);
      for (std::size_t j = t; j < n && outcome[t]; j += tasks) {
        outcome[t] = sh.inner->decode(f.got.ranges[j].span(), inner, where);
        if (outcome[t]) copy_out(inner, f.parts[j]);
      }
      co_return;
    });
    for (auto& o : outcome)
      if (!o) co_return o.error();
    co_return result<void>{};
  };
  // The units fetched and decoded: a shard's inner chunks, or where the
  // store fetches ranges far apart by separate requests anyway (S3), each run
  // of them it would fetch by one request: a selection that cuts shards then
  // decodes a run as soon as it arrives, while the shard's next runs are
  // fetched, at no extra request. Runs of one shard may come from different
  // generations of it when a writer replaces it meanwhile (as parts of one
  // read from different shards may); each inner chunk comes whole from one.
  const std::uint64_t gap = store_->read_ranges_gap();
  std::deque<shard_work> ready;
  auto split = [&](const shard_work& w, const std::string& key,
                   const std::string& where) -> asio::awaitable<result<void>> {
    if (gap == 0) {
      ready.push_back(w);
      co_return result<void>{};
    }
    const shard_index_cache::fetch_fn get_index = index_fetcher(key, where);
    SLUICE_CO_TRY(std::shared_ptr<const shard_index> idx, co_await indexes_->get(key, get_index));
    if (!idx) {  // not stored: every inner chunk is the fill value
      for (const auto& [within, part] : w.inner) copy_fill(part);
      co_return result<void>{};
    }
    std::vector<std::pair<std::uint64_t, std::size_t>> stored;  // (offset, position in w.inner)
    for (std::size_t i = 0; i < w.inner.size(); ++i) {
      const auto& loc = idx->where[static_cast<std::size_t>(w.inner[i].first)];
      if (loc.stored())
        stored.emplace_back(loc.offset, i);
      else
        copy_fill(w.inner[i].second);
    }
    std::sort(stored.begin(), stored.end());
    std::uint64_t end = 0;
    for (const auto& [offset, i] : stored) {
      if (ready.empty() || ready.back().index != w.index || offset > end + gap)
        ready.push_back({w.index, {}});
      ready.back().inner.push_back(w.inner[i]);
      const auto& loc = idx->where[static_cast<std::size_t>(w.inner[i].first)];
      end = std::max(end, offset + loc.nbytes);
    }
    co_return result<void>{};
  };
  // Twice as many workers as units fetched at once: a worker gives its
  // fetch place up while it decodes, so the next unit's bytes arrive while
  // this one decodes (workers do not fall into step, all fetching and then
  // all decoding with the network idle). Memory: at most 2 x concurrency
  // units' needed bytes (and the store's budget bounds the fetches).
  const std::size_t most_units = gap == 0 ? shards.size() : job.parts.size();
  const unsigned fetchers = static_cast<unsigned>(std::clamp<std::size_t>(concurrency, 1, most_units));
  const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(2 * fetchers, most_units));
  admission_limit fetch_places(fetchers);
  std::size_t next = 0;
  std::optional<error> failed;
  // A worker with nothing to take while shards are still being split waits
  // for their units rather than leaving (else a read of few shards would
  // lose its decode overlap): `split_done` is cancelled when a split ends.
  unsigned splitting = 0;
  asio::steady_timer split_done(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  co_await run_concurrently(workers, [&](unsigned) -> asio::awaitable<void> {
    while (!failed) {
      if (ready.empty() && next >= shards.size()) {
        if (splitting == 0) break;
        co_await split_done.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto place = co_await fetch_places.enter();
      if (!place) {
        if (!failed) failed = place.error();
        break;
      }
      if (failed) break;
      if (ready.empty()) {
        if (next >= shards.size()) continue;  // taken meanwhile: wait above, without the place
        const shard_work& w = shards[next++];
        const std::string key = chunk_key(w.index);
        const std::string where = store_->describe(key);
        // Waiters are woken however the split ends (an exception only from a bug).
        struct split_scope {
          unsigned& n;
          asio::steady_timer& done;
          ~split_scope() {
            --n;
            done.cancel();
          }
        };
        ++splitting;
        const split_scope scope{splitting, split_done};
        auto planned = co_await split(w, key, where);
        if (!planned) {
          if (!failed) failed = planned.error();
          break;
        }
        if (ready.empty()) continue;  // nothing stored to fetch
      }
      const shard_work unit = std::move(ready.front());
      ready.pop_front();
      const std::string key = chunk_key(unit.index);
      const std::string where = store_->describe(key);
      auto got = co_await fetch(unit, key, where);
      place->release();
      if (!got) {
        if (!failed) failed = got.error();
        continue;
      }
      auto done = co_await decode(*got, where);
      if (!done && !failed) failed = done.error();
    }
  });
  if (failed) co_return *failed;
  co_return result<void>{};
}

}  // namespace sluice::zarr
