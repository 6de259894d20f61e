// Private helpers of the zarr metadata sources: simdjson's DOM in, Boost.JSON
// out, and the "<path>: <field>: <problem>" errors. Never leaves api/src/zarr.
#pragma once

#include <sluice/zarr/data_type.hpp>
#include <sluice/zarr/error.hpp>

#include <simdjson.h>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace sluice::zarr::detail {

// "<path>: <field>: <problem>" (a part left out when empty).
error invalid(std::string_view path, std::string_view field, std::string_view problem);
error unsupported(std::string_view path, std::string_view field, std::string_view problem);

// The JSON type of an element in words, for messages: "a string", "an object".
std::string_view type_words(simdjson::dom::element e) noexcept;

// A field name or value quoted for a message, control characters escaped and long
// text cut, so a hostile document cannot forge a multi-line report.
std::string in_quotes(std::string_view text);

// An element the caller has seen to be an object (an array) as one: the
// simdjson_result route (value_unsafe) trips GCC 12's -Wmaybe-uninitialized.
simdjson::dom::object object_of(simdjson::dom::element e) noexcept;
simdjson::dom::array array_of(simdjson::dom::element e) noexcept;

// Parses a whole JSON text into `parser`'s DOM. Refuses text that is not JSON
// (naming simdjson's reason), including numbers beyond uint64/int64 and double.
result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser, std::string_view json,
                                          std::string_view path);

// The element as a Boost.JSON value: integers stay int64/uint64, other numbers
// double. A key repeated within one object is refused (invalid_metadata at
// `path`: `field`), since readers would disagree on which one counts.
result<boost::json::value> to_boost(simdjson::dom::element e, std::string_view path, std::string_view field);

// A copy with the members of every object (at any depth) sorted by key: the
// canonical order of written documents.
boost::json::value sorted(const boost::json::value& v);

// The fill value an element denotes for `t` (parse_fill_value's rules).
result<fill_value> fill_from_json(data_type t, simdjson::dom::element e, std::string_view path,
                                  std::string_view field);
// The canonical JSON form of a fill value of element_size(t) bytes.
boost::json::value fill_to_json(data_type t, const fill_value& v);

}  // namespace sluice::zarr::detail
