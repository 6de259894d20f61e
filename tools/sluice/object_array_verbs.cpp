// object put-array | get-array: NumPy arrays as single S3 objects in
// cottoncandy's raw layout (api/include/sluice/object_array/raw.hpp), from and
// to .npy files.
#include "cli.hpp"
#include "json_output.hpp"

#include <sluice/npy/npy.hpp>
#include <sluice/object_array/raw.hpp>
#include <sluice/objects/objects.hpp>

#include <boost/json.hpp>

#include <cstdio>

namespace sluice::cli {

namespace {

int usage(const object_options& o, const std::string& message) {
  std::fprintf(stderr, "sluice: object %s: %s\n", o.verb.c_str(), printable(message).c_str());
  return 2;
}

boost::json::array shape_json(const std::vector<std::uint64_t>& shape) {
  boost::json::array out;
  for (auto d : shape) out.push_back(d);
  return out;
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) out += (d ? ", " : "") + std::to_string(shape[d]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

int cmd_object(const global_options& g, const object_options& o) {
  const std::string context = "object " + o.verb;
  const std::string& url = o.url;
  auto loc = objects::parse_location(url);
  if (!loc) return usage_error(context, loc.error());
  if (!loc->remote || loc->bucket.empty() || loc->key.empty() || loc->key.back() == '/')
    return usage(o, "'" + url + "' is not an s3://bucket/key URL naming one object");
  object_array::raw_put_options put;
  if (o.verb == "put-array") {
    auto c = object_array::parse_compression(o.compression);
    if (!c) return usage(o, "--compression '" + o.compression + "' is not one of zstd, gzip, none");
    put.codec = *c;
    put.level = o.level;
    if (*c == object_array::compression::gzip && (o.level < 0 || o.level > 9))
      return usage(o, "--level " + std::to_string(o.level) + " is not a gzip level (1-9; 0: the default, 5)");
    if (*c == object_array::compression::none && o.level != 0)
      return usage(o, "--level needs --compression zstd or gzip");
  }
  auto s = open_session(g, transfer::options{}, 0);
  if (!s) return report(context, s.error());
  auto bucket = bucket_store(*s, loc->bucket);
  if (!bucket) return report(context, bucket.error());
  if (o.verb == "put-array") {
    auto a = npy::read_file(o.file);
    if (!a) return report(context, a.error());
    auto gen = s->eng->run(object_array::put_raw(**bucket, loc->key, *a, put));
    if (!gen) return report(context + " " + url, gen.error());
    if (g.json) {
      boost::json::object out{{"verb", "object put-array"},
                              {"dtype", npy::descr_of(a->dtype)},
                              {"shape", shape_json(a->shape)},
                              {"bytes", a->data.size()},
                              {"compression", std::string(object_array::compression_name(put.codec))}};
      put_text(out, "file", o.file);
      put_text(out, "url", url);
      print_json(out);
    } else if (!g.quiet) {
      std::printf("stored %s -> %s (%s %s, %zu bytes, compression %s)\n", printable(o.file).c_str(),
                  printable(url).c_str(), npy::descr_of(a->dtype).c_str(), shape_text(a->shape).c_str(),
                  a->data.size(), std::string(object_array::compression_name(put.codec)).c_str());
    }
    return 0;
  }
  auto a = s->eng->run(object_array::get_raw(**bucket, loc->key));
  if (!a) return report(context + " " + url, a.error());
  auto written = npy::write_file(o.output, a->dtype, a->shape, a->data);
  if (!written) return report(context, written.error());
  if (g.json) {
    boost::json::object out{{"verb", "object get-array"},
                            {"dtype", npy::descr_of(a->dtype)},
                            {"shape", shape_json(a->shape)},
                            {"bytes", a->data.size()}};
    put_text(out, "url", url);
    put_text(out, "file", o.output);
    print_json(out);
  } else if (!g.quiet) {
    std::printf("read %s -> %s (%s %s, %zu bytes)\n", printable(url).c_str(), printable(o.output).c_str(),
                npy::descr_of(a->dtype).c_str(), shape_text(a->shape).c_str(), a->data.size());
  }
  return 0;
}

}  // namespace sluice::cli
