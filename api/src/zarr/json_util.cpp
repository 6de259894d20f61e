#include "zarr/json_util.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <vector>

namespace sluice::zarr::detail {
namespace {

error make(errc code, std::string_view path, std::string_view field, std::string_view problem) {
  std::string msg(path);
  if (!path.empty()) msg += ": ";
  if (!field.empty()) {
    msg += field;
    msg += ": ";
  }
  msg += problem;
  return error(code, std::move(msg));
}

}  // namespace

error invalid(std::string_view path, std::string_view field, std::string_view problem) {
  return make(errc::invalid_metadata, path, field, problem);
}

error unsupported(std::string_view path, std::string_view field, std::string_view problem) {
  return make(errc::unsupported, path, field, problem);
}

std::string_view type_words(simdjson::dom::element e) noexcept {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "an integer";
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a JSON value";
}

std::string in_quotes(std::string_view text) {
  constexpr std::size_t limit = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  out += "'";
  return out;
}

simdjson::dom::object object_of(simdjson::dom::element e) noexcept {
  simdjson::dom::object o;
  if (e.get(o)) return {};
  return o;
}

simdjson::dom::array array_of(simdjson::dom::element e) noexcept {
  simdjson::dom::array a;
  if (e.get(a)) return {};
  return a;
}

result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser, std::string_view json,
                                          std::string_view path) {
  simdjson::dom::element root;
  // parse() copies the text into padded memory when it has to (the
  // realloc_if_needed default), so any string_view will do.
  if (auto err = parser.parse(json.data(), json.size()).get(root))
    return invalid(path, "", std::string("not valid JSON (") + simdjson::error_message(err) + ")");
  return root;
}

result<boost::json::value> to_boost(simdjson::dom::element e, std::string_view path, std::string_view field) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::ARRAY: {
      boost::json::array out;
      for (simdjson::dom::element item : array_of(e)) {
        SLUICE_TRY(auto v, to_boost(item, path, field));
        out.push_back(std::move(v));
      }
      return boost::json::value(std::move(out));
    }
    case element_type::OBJECT: {
      boost::json::object out;
      for (auto member : object_of(e)) {
        if (out.contains(member.key))
          return invalid(path, field, "the key " + in_quotes(member.key) + " appears twice in one object");
        SLUICE_TRY(auto v, to_boost(member.value, path, field));
        out.emplace(member.key, std::move(v));
      }
      return boost::json::value(std::move(out));
    }
    case element_type::INT64:
      return boost::json::value(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return boost::json::value(e.get_uint64().value_unsafe());
    case element_type::DOUBLE:
      return boost::json::value(e.get_double().value_unsafe());
    case element_type::STRING:
      return boost::json::value(boost::json::string(e.get_string().value_unsafe()));
    case element_type::BOOL:
      return boost::json::value(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
      return boost::json::value(nullptr);
  }
  return invalid(path, field, "unexpected JSON element");
}

boost::json::value sorted(const boost::json::value& v) {
  if (const auto* a = v.if_array()) {
    boost::json::array out;
    out.reserve(a->size());
    for (const auto& item : *a) out.push_back(sorted(item));
    return out;
  }
  if (const auto* o = v.if_object()) {
    std::vector<const boost::json::key_value_pair*> members;
    members.reserve(o->size());
    for (const auto& kv : *o) members.push_back(&kv);
    std::sort(members.begin(), members.end(), [](auto* x, auto* y) { return x->key() < y->key(); });
    boost::json::object out;
    out.reserve(members.size());
    for (const auto* kv : members) out.emplace(kv->key(), sorted(kv->value()));
    return out;
  }
  return v;
}

}  // namespace sluice::zarr::detail
