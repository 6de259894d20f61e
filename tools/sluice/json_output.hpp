// --json: one JSON document on standard output per run, written by Boost.JSON, always valid UTF-8.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::cli {

// The length of the well-formed UTF-8 sequence (RFC 3629) starting at text[i], 1 to 4, or 0 when the
// byte there starts none. `i` < text.size().
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept;

// `text` as valid UTF-8: every byte that does not belong to a well-formed
// UTF-8 sequence (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF) becomes U+FFFD. `replaced`, when given, says whether any did.
std::string valid_utf8(std::string_view text, bool* replaced = nullptr);

// o[name] = `text` made valid UTF-8; when it was not, o[name + "_hex"] holds
// its exact bytes in lowercase hex as well (a key "a\xff" gives "key": "a\uFFFD"
// and "key_hex": "61ff"), so a script can still name the object.
void put_text(boost::json::object& o, std::string_view name, std::string_view text);

// Writes `v` and a newline on standard output and flushes: the run's one
// document (an error after it adds none to standard output).
void print_json(const boost::json::value& v);
bool json_printed() noexcept;

// {"error": {"message", "code", "category", "value", "context", "exit_status"[, "http_status",
// "request_id"]}}: `code` is the condition the error is equivalent to (not_found, permission_denied,
// invalid_argument, ... see sluice::condition) or "error" when none is.
boost::json::object error_json(const error& e, std::string_view context, int exit_status);

}  // namespace sluice::cli
