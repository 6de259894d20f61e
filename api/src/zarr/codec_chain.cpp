#include "zarr/codec_chain.hpp"

#include <sluice/engine/codec/blosc.hpp>
#include <sluice/engine/codec/crc32c.hpp>
#include <sluice/engine/codec/endian.hpp>
#include <sluice/engine/codec/gzip.hpp>
#include <sluice/engine/codec/transpose.hpp>
#include <sluice/engine/codec/zstd.hpp>
#include <sluice/zarr/error.hpp>

#include <algorithm>

namespace sluice::zarr {

namespace json = boost::json;

// One codec's configuration, read with messages naming where it sits.
class detail::config_reader {
 public:
  config_reader(const codec_spec& spec, std::string_view path, std::size_t index)
      : spec_(spec),
        where_(std::string(path) + ": codecs[" + std::to_string(index) + "] (" + spec.name + ")") {}

  error bad(const std::string& why) const { return fail(errc::invalid_metadata, where_ + ": " + why); }
  const std::string& where() const { return where_; }

  result<std::optional<std::int64_t>> integer(std::string_view name) const {
    const json::value* v = spec_.configuration.if_contains(name);
    if (!v) return std::optional<std::int64_t>{};
    if (v->is_int64()) return std::optional<std::int64_t>{v->as_int64()};
    if (v->is_uint64() && v->as_uint64() <= uint64_t(INT64_MAX))
      return std::optional<std::int64_t>{static_cast<std::int64_t>(v->as_uint64())};
    return bad("\"" + std::string(name) + "\" must be an integer");
  }
  result<std::optional<std::string>> text(std::string_view name) const {
    const json::value* v = spec_.configuration.if_contains(name);
    if (!v) return std::optional<std::string>{};
    if (!v->is_string()) return bad("\"" + std::string(name) + "\" must be a string");
    return std::optional<std::string>{std::string(v->as_string())};
  }
  result<std::optional<bool>> flag(std::string_view name) const {
    const json::value* v = spec_.configuration.if_contains(name);
    if (!v) return std::optional<bool>{};
    if (!v->is_bool()) return bad("\"" + std::string(name) + "\" must be true or false");
    return std::optional<bool>{v->as_bool()};
  }
  const json::value* raw(std::string_view name) const { return spec_.configuration.if_contains(name); }

 private:
  const codec_spec& spec_;
  std::string where_;
};

namespace {

using detail::config_reader;

result<std::unique_ptr<codec::bytes_codec>> make_bytes_to_bytes(const codec_spec& spec,
                                                                const config_reader& r,
                                                                std::size_t element_size) {
  if (spec.name == "zstd") {
    codec::zstd_options o;
    SLUICE_TRY(auto level, r.integer("level"));
    SLUICE_TRY(auto checksum, r.flag("checksum"));
    if (level) o.level = static_cast<int>(*level);
    if (checksum) o.checksum = *checksum;
    return codec::make_zstd_codec(o);
  }
  if (spec.name == "gzip") {
    codec::gzip_options o;
    SLUICE_TRY(auto level, r.integer("level"));
    if (level) o.level = static_cast<int>(*level);
    return codec::make_gzip_codec(o);
  }
  if (spec.name == "blosc") {
    codec::blosc_options o;
    SLUICE_TRY(auto cname, r.text("cname"));
    SLUICE_TRY(auto clevel, r.integer("clevel"));
    SLUICE_TRY(auto shuffle, r.text("shuffle"));
    SLUICE_TRY(auto typesize, r.integer("typesize"));
    SLUICE_TRY(auto blocksize, r.integer("blocksize"));
    if (cname) o.cname = *cname;
    if (clevel) o.clevel = static_cast<int>(*clevel);
    if (shuffle) {
      if (*shuffle == "noshuffle")
        o.shuffle = codec::blosc_shuffle::noshuffle;
      else if (*shuffle == "shuffle")
        o.shuffle = codec::blosc_shuffle::shuffle;
      else if (*shuffle == "bitshuffle")
        o.shuffle = codec::blosc_shuffle::bitshuffle;
      else
        return r.bad("\"shuffle\" must be \"noshuffle\", \"shuffle\" or \"bitshuffle\", not \"" + *shuffle +
                     "\"");
    }
    if (typesize && *typesize < 1) return r.bad("\"typesize\" must be at least 1");
    if (blocksize && *blocksize < 0) return r.bad("\"blocksize\" must not be negative");
    o.typesize = typesize ? static_cast<std::size_t>(*typesize) : element_size;
    if (blocksize) o.blocksize = static_cast<std::size_t>(*blocksize);
    return codec::make_blosc_codec(o);
  }
  if (spec.name == "crc32c") return codec::make_crc32c_codec();
  return fail(errc::unsupported, r.where() + ": sluice does not implement this codec");
}

// A codecs list inside a configuration (sharding's "codecs" and
// "index_codecs"): names, or {"name", "configuration"} objects.
result<std::vector<codec_spec>> codec_list(const json::value* v, const config_reader& r,
                                           std::string_view field) {
  if (!v || !v->is_array()) return r.bad("\"" + std::string(field) + "\" must be a list of codecs");
  std::vector<codec_spec> out;
  for (const auto& e : v->as_array()) {
    codec_spec c;
    if (e.is_string()) {
      c.name = std::string(e.as_string());
    } else if (e.is_object() && e.as_object().if_contains("name") && e.as_object().at("name").is_string()) {
      c.name = std::string(e.as_object().at("name").as_string());
      if (const auto* cfg = e.as_object().if_contains("configuration")) {
        if (!cfg->is_object())
          return r.bad("\"" + std::string(field) + "\": a configuration must be an object");
        c.configuration = cfg->as_object();
      }
    } else {
      return r.bad("\"" + std::string(field) + "\": each codec is a name or an object with a \"name\"");
    }
    if (!known_codec_kind(c.name))
      return fail(errc::unsupported,
                  r.where() + ": " + std::string(field) + ": unknown codec \"" + c.name + "\"");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

// sharding_indexed: the inner chunk shape must divide the shard's shape; the
// index codecs must be "bytes" (little-endian), optionally with "crc32c".
result<chunk_codecs::sharding> chunk_codecs::make_sharding(const array_metadata& m,
                                                           const std::vector<std::uint64_t>& shard_shape,
                                                           const detail::config_reader& r) {
  sharding s;
  const json::value* shape = r.raw("chunk_shape");
  if (!shape || !shape->is_array() || shape->as_array().size() != shard_shape.size())
    return r.bad("\"chunk_shape\" must list one inner chunk size per dimension");
  for (std::size_t d = 0; d < shard_shape.size(); ++d) {
    const auto& v = shape->as_array()[d];
    if (!v.is_int64() || v.as_int64() < 1) return r.bad("\"chunk_shape\" entries must be integers >= 1");
    const auto n = static_cast<std::uint64_t>(v.as_int64());
    if (shard_shape[d] % n != 0)
      return r.bad("the inner chunk shape must divide the shard shape (dimension " + std::to_string(d) +
                   ": " + std::to_string(n) + " does not divide " + std::to_string(shard_shape[d]) + ")");
    s.inner_shape.push_back(n);
    s.per_shard.push_back(shard_shape[d] / n);
  }
  s.inner_count = 1;
  for (auto n : s.per_shard) s.inner_count *= n;
  SLUICE_TRY(auto location, r.text("index_location"));
  if (location && *location != "end" && *location != "start")
    return r.bad("\"index_location\" must be \"start\" or \"end\"");
  s.index_at_start = location && *location == "start";
  SLUICE_TRY(auto index_codecs, codec_list(r.raw("index_codecs"), r, "index_codecs"));
  for (const auto& c : index_codecs) {
    if (c.name == "crc32c") {
      s.index_crc = true;
    } else if (c.name == "bytes") {
      const auto* e = c.configuration.if_contains("endian");
      if (e && !(e->is_string() && e->as_string() == "little"))
        return fail(errc::unsupported, r.where() + ": index_codecs: only a little-endian index is supported");
    } else {
      return fail(errc::unsupported, r.where() + ": index_codecs: \"" + c.name + "\" is not supported");
    }
  }
  array_metadata inner = m;
  inner.chunk_grid.chunk_shape = s.inner_shape;
  SLUICE_TRY(inner.codecs, codec_list(r.raw("codecs"), r, "codecs"));
  SLUICE_TRY(s.inner, chunk_codecs::make(inner, r.where() + ": codecs"));
  if (s.inner->shard_) return fail(errc::unsupported, r.where() + ": nested sharding is not supported");
  const fill_value f = m.fill;
  s.fill.assign(f.bytes().begin(), f.bytes().end());
  if (!codec::native_is_little && s.fill.size() > 1)
    codec::swap_bytes(s.fill, is_complex(m.dtype) ? s.fill.size() / 2 : s.fill.size());
  return s;
}

result<std::shared_ptr<const chunk_codecs>> chunk_codecs::make(const array_metadata& m,
                                                               std::string_view path) {
  auto c = std::make_shared<chunk_codecs>();
  c->element_size_ = element_size(m.dtype);
  c->swap_unit_ = is_complex(m.dtype) ? c->element_size_ / 2 : c->element_size_;
  c->chunk_bytes_ = m.chunk_element_count() * c->element_size_;
  std::vector<std::uint64_t> shape = m.chunk_grid.chunk_shape;
  bool seen_array_to_bytes = false;
  for (std::size_t i = 0; i < m.codecs.size(); ++i) {
    const codec_spec& spec = m.codecs[i];
    config_reader r(spec, path, i);
    const auto kind = known_codec_kind(spec.name);
    if (!kind) continue;  // unknown and must_understand: false (the parser refused the others)
    if (*kind == codec_kind::array_to_array) {
      const json::value* ord = r.raw("order");
      if (!ord || !ord->is_array()) return r.bad("\"order\" must be a list of dimension indices");
      transpose_step t;
      for (const auto& v : ord->as_array()) {
        if (!v.is_int64() || v.as_int64() < 0 || static_cast<std::uint64_t>(v.as_int64()) >= shape.size())
          return r.bad("\"order\" must hold each dimension index (0.." + std::to_string(shape.size()) +
                       ") once");
        t.order.push_back(static_cast<unsigned>(v.as_int64()));
      }
      std::vector<unsigned> sorted = t.order;
      std::sort(sorted.begin(), sorted.end());
      for (unsigned d = 0; d < sorted.size(); ++d)
        if (sorted[d] != d || sorted.size() != shape.size())
          return r.bad("\"order\" must be a permutation of the " + std::to_string(shape.size()) +
                       " dimensions");
      t.in_shape = shape;
      std::vector<std::uint64_t> out(shape.size());
      for (std::size_t d = 0; d < shape.size(); ++d) out[d] = shape[t.order[d]];
      shape = std::move(out);
      c->transposes_.push_back(std::move(t));
    } else if (*kind == codec_kind::array_to_bytes) {
      c->chunk_shape_ = shape;
      if (spec.name == "sharding_indexed") {
        SLUICE_TRY(c->shard_, make_sharding(m, shape, r));
        seen_array_to_bytes = true;
        continue;
      }
      SLUICE_TRY(auto endian, r.text("endian"));
      const bool big = endian && *endian == "big";
      if (endian && *endian != "big" && *endian != "little")
        return r.bad("\"endian\" must be \"little\" or \"big\", not \"" + *endian + "\"");
      c->swap_ = c->element_size_ > 1 && (big == codec::native_is_little);
      seen_array_to_bytes = true;
    } else {
      auto made = make_bytes_to_bytes(spec, r, c->element_size_);
      // A codec library refusing its options (a blosc cname it does not know,
      // a level out of range) is the metadata's error: say so, and where.
      if (!made && made.error().code == sluice::errc::invalid_argument) return r.bad(made.error().message);
      if (!made && made.error().code == sluice::errc::unsupported)
        return fail(errc::unsupported, r.where() + ": " + made.error().message);
      if (!made) return made.error();
      c->bytes_.push_back(std::move(*made));
    }
  }
  if (!seen_array_to_bytes)
    return fail(errc::invalid_metadata, std::string(path) + ": codecs: no \"bytes\" codec");
  return std::shared_ptr<const chunk_codecs>(std::move(c));
}

namespace {

// Scratch memory that is not zeroed when it grows: every codec overwrites
// what it is given, and zero-filling a 64 MiB shard costs as much as copying it.
class scratch {
 public:
  std::span<std::byte> take(std::size_t n) {
    if (n > capacity_) {
      data_.reset(new std::byte[n]);
      capacity_ = n;
    }
    return {data_.get(), n};
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t capacity_ = 0;
};

// Two scratch buffers used in turn: each stage reads the one the previous
// stage wrote and writes the other.
struct ping_pong {
  scratch a, b;
  bool next_is_a = true;
  std::span<std::byte> take(std::size_t n) {
    scratch& s = next_is_a ? a : b;
    next_is_a = !next_is_a;
    return s.take(n);
  }
};

}  // namespace

result<std::vector<std::byte>> chunk_codecs::encode(std::span<const std::byte> chunk,
                                                    std::string_view key) const {
  ping_pong buf;
  std::span<const std::byte> cur = chunk;
  for (const auto& t : transposes_) {
    std::span<std::byte> out = buf.take(cur.size());
    SLUICE_TRY_VOID(codec::transpose(cur, out, t.in_shape, t.order, element_size_, key));
    cur = out;
  }
  std::vector<std::byte> shard;
  if (shard_) {
    SLUICE_TRY(shard, encode_shard(cur, key));
    cur = shard;
  } else if (swap_) {
    std::span<std::byte> out = buf.take(cur.size());
    std::memcpy(out.data(), cur.data(), cur.size());
    codec::swap_bytes(out, swap_unit_);
    cur = out;
  }
  for (const auto& b : bytes_) {
    std::span<std::byte> out = buf.take(b->max_encoded_size(cur.size()));
    SLUICE_TRY(std::size_t n, b->encode(cur, out, key));
    cur = out.first(n);
  }
  if (cur.data() == shard.data()) return shard;
  return std::vector<std::byte>(cur.begin(), cur.end());
}

std::uint64_t chunk_codecs::max_array_to_bytes() const noexcept {
  if (!shard_) return chunk_bytes_;
  return shard_->index_bytes() + shard_->inner_count * shard_->inner->max_stored_bytes();
}

std::uint64_t chunk_codecs::max_stored_bytes() const noexcept {
  std::uint64_t n = max_array_to_bytes();
  for (const auto& b : bytes_) n = b->max_encoded_size(static_cast<std::size_t>(n));
  return n;
}

result<void> chunk_codecs::decode(std::span<const std::byte> stored, std::span<std::byte> chunk,
                                  std::string_view key) const {
  // Each stage writes into scratch memory, except the last, which writes into
  // `chunk`: without transposes the innermost bytes codec (or the shard)
  // decodes straight into it.
  ping_pong buf;
  const bool direct = transposes_.empty();
  std::span<const std::byte> cur = stored;
  // bound[i]: the most bytes codec i can have been given when encoding.
  std::vector<std::uint64_t> bound(bytes_.size());
  for (std::size_t i = 0; i < bytes_.size(); ++i)
    bound[i] = i == 0 ? max_array_to_bytes()
                      : bytes_[i - 1]->max_encoded_size(static_cast<std::size_t>(bound[i - 1]));
  for (std::size_t i = bytes_.size(); i-- > 0;) {
    const auto& b = bytes_[i];
    // The innermost bytes codec decodes to the chunk's size; an outer one must say.
    const bool innermost = i == 0 && !shard_;
    std::optional<std::size_t> size =
        innermost ? std::optional<std::size_t>(chunk_bytes_) : b->decoded_size(cur, key);
    if (!size)
      return fail(errc::unsupported, std::string(key) + ": " + std::string(b->name()) +
                                         ": cannot tell the decoded size of an inner codec's output");
    // A size read from the stored bytes is untrusted: never allocate past
    // what the codecs inside could have produced.
    if (*size > bound[i])
      return fail(sluice::errc::corrupt_data,
                  std::string(key) + ": " + std::string(b->name()) + ": declares " + std::to_string(*size) +
                      " decoded bytes, more than the " + std::to_string(bound[i]) + " its chunk can take");
    std::span<std::byte> out = innermost && direct ? chunk.first(*size) : buf.take(*size);
    SLUICE_TRY(std::size_t n, b->decode(cur, out, key));
    cur = out.first(n);
  }
  std::span<std::byte> whole;  // the chunk after the array -> bytes codec (transposed order)
  if (shard_) {
    whole = direct ? chunk : buf.take(static_cast<std::size_t>(chunk_bytes_));
    SLUICE_TRY_VOID(decode_shard(cur, whole, key));
  } else {
    if (cur.size() != chunk_bytes_)
      return fail(sluice::errc::corrupt_data, std::string(key) + ": the chunk holds " +
                                                  std::to_string(cur.size()) + " bytes, not the " +
                                                  std::to_string(chunk_bytes_) + " of its shape");
    if (cur.data() == chunk.data()) {
      whole = chunk;
    } else {
      whole = direct ? chunk : buf.take(cur.size());
      std::memcpy(whole.data(), cur.data(), cur.size());
    }
    if (swap_) codec::swap_bytes(whole, swap_unit_);
  }
  for (std::size_t i = transposes_.size(); i-- > 0;) {
    const auto& t = transposes_[i];
    std::span<std::byte> out = i == 0 ? chunk : buf.take(whole.size());
    SLUICE_TRY_VOID(codec::inverse_transpose(whole, out, t.in_shape, t.order, element_size_, key));
    whole = out;
  }
  return {};
}

namespace {

constexpr std::uint64_t not_stored = ~std::uint64_t{0};

void put_u64(std::byte* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint64_t get_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(std::to_integer<unsigned>(p[i])) << (8 * i);
  return v;
}

// Visits the inner chunks of a shard in C order: fn(inner linear index, element
// offset of the inner chunk's first element in the shard).
template <class Fn>
void each_inner(std::span<const std::uint64_t> shard_shape, std::span<const std::uint64_t> inner_shape,
                std::span<const std::uint64_t> per_shard, Fn&& fn) {
  const std::size_t rank = shard_shape.size();
  std::vector<std::uint64_t> at(rank, 0), strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * shard_shape[d];
  for (std::uint64_t i = 0;; ++i) {
    std::uint64_t off = 0;
    for (std::size_t d = 0; d < rank; ++d) off += at[d] * inner_shape[d] * strides[d];
    fn(i, off);
    std::size_t d = rank;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++at[d] < per_shard[d]) break;
      at[d] = 0;
    }
  }
}

// Copies one inner chunk between the shard buffer and a contiguous inner buffer.
void copy_inner(std::byte* shard, std::byte* inner, std::uint64_t first,
                std::span<const std::uint64_t> shard_shape, std::span<const std::uint64_t> inner_shape,
                std::size_t esize, bool to_shard) {
  const std::size_t rank = shard_shape.size();
  if (rank == 0) {
    to_shard ? std::memcpy(shard, inner, esize) : std::memcpy(inner, shard, esize);
    return;
  }
  std::vector<std::uint64_t> strides(rank, 1);
  for (std::size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * shard_shape[d];
  std::vector<std::uint64_t> k(rank, 0);
  const std::size_t row = static_cast<std::size_t>(inner_shape[rank - 1]) * esize;
  std::size_t done = 0;
  for (;;) {
    std::uint64_t off = first;
    for (std::size_t d = 0; d + 1 < rank; ++d) off += k[d] * strides[d];
    std::byte* s = shard + off * esize;
    to_shard ? std::memcpy(s, inner + done, row) : std::memcpy(inner + done, s, row);
    done += row;
    std::size_t d = rank - 1;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++k[d] < inner_shape[d]) break;
      k[d] = 0;
    }
  }
}

}  // namespace

result<std::vector<std::byte>> chunk_codecs::encode_shard(std::span<const std::byte> chunk,
                                                          std::string_view key) const {
  const sharding& s = *shard_;
  const auto& shard_shape = chunk_shape_;
  const std::size_t index_bytes = s.index_bytes();
  std::vector<std::byte> index(index_bytes), body;
  std::vector<std::byte> inner(static_cast<std::size_t>(s.inner->chunk_bytes_));
  auto* shard = const_cast<std::byte*>(chunk.data());  // only read from (to_shard = false)
  std::optional<error> failed;
  const std::uint64_t base = s.index_at_start ? index_bytes : 0;
  each_inner(shard_shape, s.inner_shape, s.per_shard, [&](std::uint64_t i, std::uint64_t first) {
    if (failed) return;
    copy_inner(shard, inner.data(), first, shard_shape, s.inner_shape, element_size_, false);
    bool empty = true;
    for (std::size_t at = 0; empty && at + s.fill.size() <= inner.size(); at += s.fill.size())
      empty = std::memcmp(inner.data() + at, s.fill.data(), s.fill.size()) == 0;
    if (empty) {
      put_u64(index.data() + i * 16, not_stored);
      put_u64(index.data() + i * 16 + 8, not_stored);
      return;
    }
    auto enc = s.inner->encode(inner, key);
    if (!enc) {
      failed = enc.error();
      return;
    }
    put_u64(index.data() + i * 16, base + body.size());
    put_u64(index.data() + i * 16 + 8, enc->size());
    body.insert(body.end(), enc->begin(), enc->end());
  });
  if (failed) return *failed;
  if (s.index_crc) {
    const std::uint32_t crc = codec::crc32c(std::span<const std::byte>(index).first(index_bytes - 4));
    for (int b = 0; b < 4; ++b) index[index_bytes - 4 + b] = static_cast<std::byte>(crc >> (8 * b));
  }
  if (s.index_at_start) {
    index.insert(index.end(), body.begin(), body.end());
    return index;
  }
  body.insert(body.end(), index.begin(), index.end());
  return body;
}

result<std::vector<chunk_codecs::inner_location>> chunk_codecs::sharding::decode_index(
    std::span<const std::byte> index, std::uint64_t shard_size, std::string_view key) const {
  const std::size_t n = index_bytes();
  if (index.size() != n)
    return fail(sluice::errc::corrupt_data, std::string(key) + ": the shard index is " +
                                                std::to_string(index.size()) + " bytes, not " +
                                                std::to_string(n) + " (is the shard truncated?)");
  if (index_crc) {
    std::uint32_t want = 0;
    for (int b = 0; b < 4; ++b) want |= std::uint32_t(std::to_integer<unsigned>(index[n - 4 + b])) << (8 * b);
    if (codec::crc32c(index.first(n - 4)) != want)
      return fail(sluice::errc::integrity_mismatch, std::string(key) + ": the shard index fails its CRC-32C");
  }
  std::vector<inner_location> out(static_cast<std::size_t>(inner_count));
  for (std::size_t i = 0; i < out.size(); ++i) {
    inner_location& at = out[i];
    at.offset = get_u64(index.data() + i * 16);
    at.nbytes = get_u64(index.data() + i * 16 + 8);
    if (!at.stored()) continue;
    if (at.offset > shard_size || at.nbytes > shard_size - at.offset)
      return fail(sluice::errc::corrupt_data,
                  std::string(key) + ": inner chunk " + std::to_string(i) +
                      " lies outside the shard (bytes " + std::to_string(at.offset) + "+" +
                      std::to_string(at.nbytes) + " of " + std::to_string(shard_size) + ")");
  }
  return out;
}

result<void> chunk_codecs::decode_shard(std::span<const std::byte> stored, std::span<std::byte> chunk,
                                        std::string_view key) const {
  const sharding& s = *shard_;
  const auto& shard_shape = chunk_shape_;
  const std::size_t index_bytes = s.index_bytes();
  if (stored.size() < index_bytes)
    return fail(sluice::errc::corrupt_data,
                std::string(key) + ": the shard is " + std::to_string(stored.size()) +
                    " bytes, shorter than its index (" + std::to_string(index_bytes) + ")");
  SLUICE_TRY(const auto where,
             s.decode_index(s.index_at_start ? stored.first(index_bytes) : stored.last(index_bytes),
                            stored.size(), key));
  std::vector<std::byte> inner(static_cast<std::size_t>(s.inner->chunk_bytes_));
  std::optional<error> failed;
  each_inner(shard_shape, s.inner_shape, s.per_shard, [&](std::uint64_t i, std::uint64_t first) {
    if (failed) return;
    const inner_location& at = where[static_cast<std::size_t>(i)];
    if (!at.stored()) {
      for (std::size_t b = 0; b + s.fill.size() <= inner.size(); b += s.fill.size())
        std::memcpy(inner.data() + b, s.fill.data(), s.fill.size());
    } else if (auto d = s.inner->decode(
                   stored.subspan(static_cast<std::size_t>(at.offset), static_cast<std::size_t>(at.nbytes)),
                   inner, key);
               !d) {
      failed = d.error();
      return;
    }
    copy_inner(chunk.data(), inner.data(), first, shard_shape, s.inner_shape, element_size_, true);
  });
  if (failed) return *failed;
  return {};
}

}  // namespace sluice::zarr
