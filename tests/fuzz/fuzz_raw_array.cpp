// Raw arrays as objects (sluice/object_array/raw.hpp): user metadata and the
// object's bytes, both from whoever wrote the object. The input is lines
// "name=value" (the metadata), an empty line, then the object's bytes.
// Properties:
// - get_raw either fails with invalid_argument, unsupported, corrupt_data or
//   integrity_mismatch, or returns exactly element_size * product(shape)
//   bytes of the dtype and shape parse_raw_metadata gives;
// - it never allocates more than the stored bytes could decode to (a shape of
//   terabytes over a few bytes fails; libFuzzer's -rss_limit_mb catches the rest);
// - what it returns, stored again with put_raw (uncompressed), reads back equal.
#include "fuzz_check.hpp"

#include <sluice/engine/runtime/engine.hpp>
#include <sluice/object_array/raw.hpp>
#include <sluice/store/memory.hpp>

#include <map>
#include <string>

namespace {

namespace oa = sluice::object_array;
namespace st = sluice::store;

sluice::engine& the_engine() {
  static sluice::engine e{sluice::engine::options{1}};
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sluice::fuzz::as_text(data, size);
  std::map<std::string, std::string> metadata;
  while (!in.empty()) {
    const std::size_t nl = std::min(in.find('\n'), in.size());
    const std::string_view line = in.substr(0, nl);
    in.remove_prefix(std::min(nl + 1, in.size()));
    if (line.empty()) break;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    metadata[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  const auto body = sluice::fuzz::as_bytes(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
  sluice::engine& eng = the_engine();
  auto mem = st::make_memory_store();
  st::write_options w;
  w.metadata = metadata;
  SLUICE_FUZZ_CHECK(eng.run(mem->write("k", body, w)));
  auto layout = oa::parse_raw_metadata(metadata, "k");
  auto got = eng.run(oa::get_raw(*mem, "k"));
  if (!got) {
    const auto code = got.error().code;
    SLUICE_FUZZ_CHECK(code == sluice::errc::invalid_argument || code == sluice::errc::unsupported ||
                      code == sluice::errc::corrupt_data || code == sluice::errc::integrity_mismatch);
    return 0;
  }
  SLUICE_FUZZ_CHECK(layout);
  SLUICE_FUZZ_CHECK(got->dtype == layout->elements.dtype && got->shape == layout->elements.shape);
  SLUICE_FUZZ_CHECK(got->data.size() == layout->elements.data_size);
  SLUICE_FUZZ_CHECK(eng.run(oa::put_raw(*mem, "again", *got, {})));
  auto back = eng.run(oa::get_raw(*mem, "again"));
  SLUICE_FUZZ_CHECK(back && back->dtype == got->dtype && back->shape == got->shape &&
                    back->data == got->data);
  return 0;
}
