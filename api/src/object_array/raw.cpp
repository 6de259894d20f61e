#include <sluice/object_array/raw.hpp>

#include "npy/limits.hpp"
#include "object_array/errors.hpp"

#include <sluice/engine/codec/gzip.hpp>
#include <sluice/engine/codec/zstd.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <unistd.h>

namespace sluice::object_array {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

using detail::bad;

// The codec for a compression; none for compression::none.
result<std::unique_ptr<codec::bytes_codec>> codec_for(compression c, int level) {
  switch (c) {
    case compression::gzip:
      return codec::make_gzip_codec({level == 0 ? 5 : level});
    case compression::zstd:
      return codec::make_zstd_codec({level, false});
    case compression::none:
      break;
  }
  return std::unique_ptr<codec::bytes_codec>();
}

// "100,600,1000" (or "" for 0-d): the dimensions; cottoncandy writes them
// with ','.join(map(str, shape)), so spaces are tolerated, nothing else.
result<std::vector<std::uint64_t>> parse_shape(std::string_view text, std::string_view what) {
  std::vector<std::uint64_t> shape;
  const auto blank = [](char c) { return c == ' '; };
  if (std::all_of(text.begin(), text.end(), blank)) return shape;
  std::size_t at = 0;
  for (;;) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    std::string_view item = text.substr(at, comma - at);
    while (!item.empty() && blank(item.front())) item.remove_prefix(1);
    while (!item.empty() && blank(item.back())) item.remove_suffix(1);
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size())
      return bad(what, "the 'shape' metadata '" + std::string(text) +
                           "' is not a list of dimensions (e.g. 100,600,1000)");
    shape.push_back(n);
    if (comma == text.size()) return shape;
    at = comma + 1;
  }
}

// At most how many times larger than its input a stream of the codec
// decodes to: deflate 1032:1; zstd, a 3-byte RLE block per 128 KiB.
std::uint64_t max_expansion(compression c) {
  return c == compression::gzip ? 1032 : c == compression::zstd ? (std::uint64_t(128) << 10) / 3 + 1 : 1;
}

}  // namespace

std::optional<compression> parse_compression(std::string_view text) {
  const std::string t = lower(text);
  if (t == "none" || t == "false") return compression::none;
  if (t == "gzip") return compression::gzip;
  if (t == "zstd") return compression::zstd;
  return std::nullopt;
}

std::string_view compression_name(compression c) noexcept {
  switch (c) {
    case compression::gzip:
      return "gzip";
    case compression::zstd:
      return "Zstd";
    case compression::none:
      break;
  }
  return "False";
}

std::map<std::string, std::string> raw_metadata(const npy::array& a, compression codec) {
  std::string shape;
  for (std::size_t d = 0; d < a.shape.size(); ++d) shape += (d ? "," : "") + std::to_string(a.shape[d]);
  return {{"dtype", npy::descr_of(a.dtype)},
          {"shape", shape},
          {"compression", std::string(compression_name(codec))},
          {"order", "C"}};
}

result<raw_layout> parse_raw_metadata(const std::map<std::string, std::string>& metadata,
                                      std::string_view what) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = metadata.find(name);
    return it == metadata.end() ? nullptr : &it->second;
  };
  const std::string* dtype = get("dtype");
  const std::string* shape_text = get("shape");
  if (dtype == nullptr || shape_text == nullptr)
    return bad(what, std::string("not a raw array: its metadata has no '") +
                         (dtype == nullptr ? "dtype" : "shape") +
                         "' (cottoncandy's raw arrays carry dtype, shape, compression and order)");
  raw_layout out;
  if (const std::string* c = get("compression")) {
    auto parsed = parse_compression(*c);
    if (!parsed) {
      const std::string l = lower(*c);
      if (l == "lz4" || l == "zlib" || l == "bz2" || l == "true")
        return fail(errc::unsupported, std::string(what) + ": compression '" + *c +
                                           "' is not supported (sluice reads False, gzip and Zstd)");
      return bad(what, "the 'compression' metadata '" + *c + "' is not a compression (False, gzip, Zstd)");
    }
    out.codec = *parsed;
  } else if (const std::string* g = get("gzip")) {  // older cottoncandy
    const std::string l = lower(*g);
    if (l != "true" && l != "false")
      return bad(what, "the 'gzip' metadata '" + *g + "' is not True or False");
    out.codec = l == "true" ? compression::gzip : compression::none;
  }
  bool fortran = false;
  if (const std::string* o = get("order")) {
    if (*o != "C" && *o != "F") return bad(what, "the 'order' metadata '" + *o + "' is not C or F");
    fortran = *o == "F";
  }
  SLUICE_TRY(std::vector<std::uint64_t> shape, parse_shape(*shape_text, what));
  SLUICE_TRY(out.elements, npy::layout_of(*dtype, fortran, std::move(shape), what));
  return out;
}

boost::asio::awaitable<result<store::generation>> put_raw(store::store& st, std::string_view key,
                                                          const npy::array& a, const raw_put_options& opts) {
  const std::string what = st.describe(key);
  if (!st.features().user_metadata)
    co_return fail(
        errc::unsupported,
        what + ": this store keeps no user metadata, which a raw array needs for its dtype and shape");
  std::uint64_t expected = zarr::element_size(a.dtype);
  for (auto d : a.shape) expected *= d;
  if (a.data.size() != expected)
    co_return bad(what, std::to_string(a.data.size()) + " bytes of elements, the shape needs " +
                            std::to_string(expected));
  store::write_options w;
  w.content_type = "application/octet-stream";
  w.metadata = opts.metadata;
  for (auto& [name, value] : raw_metadata(a, opts.codec)) w.metadata[name] = value;
  SLUICE_CO_TRY(std::unique_ptr<codec::bytes_codec> c, codec_for(opts.codec, opts.level));
  if (!c) co_return co_await st.write(key, a.data, w);
  std::vector<std::byte> packed(c->max_encoded_size(a.data.size()));
  SLUICE_CO_TRY(std::size_t n, c->encode(a.data, packed, what));
  packed.resize(n);
  co_return co_await st.write(key, packed, w);
}

boost::asio::awaitable<result<npy::array>> get_raw(store::store& st, std::string_view key) {
  const std::string what = st.describe(key);
  SLUICE_CO_TRY(store::read_result got, co_await st.read(key));
  if (got.state != store::read_state::value) co_return fail(errc::not_found, what + ": no such key");
  SLUICE_CO_TRY(raw_layout layout, parse_raw_metadata(got.metadata, what));
  const npy::header& h = layout.elements;
  SLUICE_CO_TRY(std::unique_ptr<codec::bytes_codec> c, codec_for(layout.codec, 0));
  const auto stored = got.bytes.span();
  if (!c) {
    if (stored.size() != h.data_size)
      co_return fail(errc::corrupt_data, what + ": " + std::to_string(stored.size()) +
                                             " bytes stored, but dtype and shape make " +
                                             std::to_string(h.data_size));
    co_return npy::to_native(h, std::vector<std::byte>(stored.begin(), stored.end()), what);
  }
  // The size dtype and shape give comes from metadata: bound it by what the
  // stored bytes could decode to before allocating it (a shape of terabytes
  // over a few bytes is corrupt_data, not an allocation). zstd frames may
  // record their decoded size; gzip's trailer holds it modulo 2^32, and of the
  // last member only, so it decides nothing.
  const std::optional<std::size_t> recorded =
      layout.codec == compression::zstd ? c->decoded_size(stored, what) : std::nullopt;
  const std::uint64_t most = max_expansion(layout.codec) * stored.size() + (std::uint64_t(1) << 20);
  if ((recorded && *recorded != h.data_size) || h.data_size > most)
    co_return fail(errc::corrupt_data, what + ": " + std::to_string(stored.size()) + " stored bytes (" +
                                           std::string(compression_name(layout.codec)) +
                                           ") cannot decode to the " + std::to_string(h.data_size) +
                                           " bytes dtype and shape give");
  if (h.data_size > npy::detail::physical_memory())
    co_return fail(errc::too_large, what + ": dtype and shape make " + std::to_string(h.data_size) +
                                        " bytes, more than this machine's memory (" +
                                        std::to_string(npy::detail::physical_memory()) + " bytes)");
  std::vector<std::byte> data(static_cast<std::size_t>(h.data_size));
  if (auto decoded = c->decode(stored, data, what); !decoded) co_return decoded.error();
  co_return npy::to_native(h, std::move(data), what);
}

}  // namespace sluice::object_array
