// SigV4 for S3: the published AWS examples (tests/data/sigv4_s3_examples.json,
// every example in the file is checked) and the rules behind them.
#include <sluice/engine/s3/sigv4.hpp>
#include <sluice/engine/s3/uri.hpp>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace sluice::s3;
using namespace std::chrono_literals;

// "20130524T000000Z" -> time point; nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  const auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2), se = num(13, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
         std::chrono::seconds{se};
}

// "a=1&b&c=x%20y" -> decoded params ("b" without a value).
std::vector<query_param> parse_query(std::string_view q) {
  std::vector<query_param> out;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    query_param p;
    auto name = uri_decode(pair.substr(0, eq));
    EXPECT_TRUE(name) << pair;
    if (name) p.name = *name;
    if (eq == std::string_view::npos) {
      p.has_value = false;
    } else {
      auto value = uri_decode(pair.substr(eq + 1));
      EXPECT_TRUE(value) << pair;
      if (value) p.value = *value;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> split_sorted(std::string_view q) {
  std::vector<std::string> parts;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    parts.emplace_back(q.substr(0, amp));
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
  }
  std::sort(parts.begin(), parts.end());
  return parts;
}

std::string header(const signing_request& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (n == name) return v;
  }
  return {};
}

// Line `index` (0-based) of a canonical request.
std::string line(std::string_view text, int index) {
  for (int i = 0; i < index; ++i) text = text.substr(text.find('\n') + 1);
  return std::string(text.substr(0, text.find('\n')));
}

struct example {
  std::string name, method, path, query, payload_sha256, signed_headers, canonical_request_sha256, signature;
  std::optional<std::string> body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct example_file {
  credentials creds;
  signing_scope scope;
  std::string host;
  std::vector<example> examples;
};

const std::string examples_path = std::string(SLUICE_TESTDATA_DIR) + "/sigv4_s3_examples.json";

std::string get_string(simdjson::dom::element e, std::string_view field, bool required = true) {
  std::string_view v;
  if (auto err = e[field].get_string().get(v); err) {
    if (required)
      ADD_FAILURE() << examples_path << ": field \"" << field << "\": " << simdjson::error_message(err);
    return {};
  }
  return std::string(v);
}

// Loads the file; records a test failure (and returns what it could read) on any error.
example_file load_examples(simdjson::dom::parser& parser) {
  example_file f;
  simdjson::dom::element doc;
  if (auto err = parser.load(examples_path).get(doc); err) {
    ADD_FAILURE() << "cannot read " << examples_path << ": " << simdjson::error_message(err);
    return f;
  }
  f.creds.access_key_id = get_string(doc, "access_key_id");
  f.creds.secret_access_key = get_string(doc, "secret_access_key");
  f.scope.region = get_string(doc, "region");
  f.scope.service = get_string(doc, "service");
  f.host = get_string(doc, "host");
  const std::string date = get_string(doc, "amz_date");
  if (auto t = parse_amz_date(date)) {
    f.scope.time = *t;
  } else {
    ADD_FAILURE() << examples_path << ": bad amz_date \"" << date << "\"";
  }
  simdjson::dom::array list;
  if (auto err = doc["examples"].get_array().get(list); err) {
    ADD_FAILURE() << examples_path << ": \"examples\": " << simdjson::error_message(err);
    return f;
  }
  for (simdjson::dom::element e : list) {
    example ex;
    ex.name = get_string(e, "name");
    ex.method = get_string(e, "method");
    ex.path = get_string(e, "path");
    ex.query = get_string(e, "query");
    ex.payload_sha256 = get_string(e, "payload_sha256");
    ex.signed_headers = get_string(e, "signed_headers");
    ex.signature = get_string(e, "signature");
    ex.canonical_request_sha256 = get_string(e, "canonical_request_sha256", false);
    if (std::string_view body; !e["body"].get_string().get(body)) ex.body = std::string(body);
    simdjson::dom::object hs;
    if (auto err = e["headers"].get_object().get(hs); err) {
      ADD_FAILURE() << ex.name << ": \"headers\": " << simdjson::error_message(err);
    } else {
      for (auto [k, v] : hs) {
        std::string_view value;
        if (v.get_string().get(value)) {
          ADD_FAILURE() << ex.name << ": header " << k << " is not a string";
          continue;
        }
        ex.headers.emplace_back(std::string(k), std::string(value));
      }
    }
    f.examples.push_back(std::move(ex));
  }
  return f;
}

bool is_presigned(const example& ex) {
  return ex.query.find("X-Amz-Algorithm=") != std::string::npos;
}

void check_header_example(const example_file& f, const example& ex) {
  if (ex.body) {
    EXPECT_EQ(sha256_hex(*ex.body), ex.payload_sha256) << "body hash";
  }

  // The complete request as it goes on the wire.
  signing_request req;
  req.method = ex.method;
  req.path = ex.path;
  req.query = parse_query(ex.query);
  req.headers.emplace_back("host", f.host);
  for (const auto& h : ex.headers) req.headers.push_back(h);
  req.headers.emplace_back("x-amz-date", amz_date(f.scope.time));
  req.headers.emplace_back("x-amz-content-sha256", ex.payload_sha256);
  req.payload_hash = ex.payload_sha256;

  const std::string cr = canonical_request(req);
  if (!ex.canonical_request_sha256.empty()) {
    EXPECT_EQ(sha256_hex(cr), ex.canonical_request_sha256) << "canonical request:\n" << cr;
  }
  EXPECT_EQ(signed_header_names(req), ex.signed_headers);
  EXPECT_EQ(signature(req, f.creds, f.scope), ex.signature) << "canonical request:\n" << cr;

  // The same through sign_request, which adds the date and payload headers itself.
  signing_request to_sign;
  to_sign.method = ex.method;
  to_sign.path = ex.path;
  to_sign.query = parse_query(ex.query);
  to_sign.headers.emplace_back("host", f.host);
  for (const auto& h : ex.headers) to_sign.headers.push_back(h);
  to_sign.payload_hash = ex.payload_sha256;
  sign_request(to_sign, f.creds, f.scope);
  EXPECT_EQ(header(to_sign, "authorization"),
            "AWS4-HMAC-SHA256 Credential=" + f.creds.access_key_id + "/" + amz_day(f.scope.time) + "/" +
                f.scope.region + "/" + f.scope.service + "/aws4_request, SignedHeaders=" + ex.signed_headers +
                ", Signature=" + ex.signature);
}

void check_presigned_example(const example_file& f, const example& ex) {
  EXPECT_EQ(ex.payload_sha256, unsigned_payload);
  // The signature of the request as given, query parameters included.
  signing_request req;
  req.method = ex.method;
  req.path = ex.path;
  req.query = parse_query(ex.query);
  req.headers.emplace_back("host", f.host);
  for (const auto& h : ex.headers) req.headers.push_back(h);
  req.payload_hash = ex.payload_sha256;
  EXPECT_EQ(signed_header_names(req), ex.signed_headers);
  EXPECT_EQ(signature(req, f.creds, f.scope), ex.signature) << "canonical request:\n"
                                                            << canonical_request(req);

  // presign() must produce the same query from the operation's own parameters.
  signing_request op;
  op.method = ex.method;
  op.path = ex.path;
  op.headers.emplace_back("host", f.host);
  for (const auto& h : ex.headers) op.headers.push_back(h);
  std::optional<long> expires;
  for (const auto& p : parse_query(ex.query)) {
    if (p.name == "X-Amz-Expires") {
      expires = std::stol(p.value);
    } else if (!p.name.starts_with("X-Amz-")) {
      op.query.push_back(p);
    }
  }
  ASSERT_TRUE(expires) << "presigned example without X-Amz-Expires";
  const std::string got = presign(op, f.creds, f.scope, std::chrono::seconds{*expires});
  EXPECT_EQ(split_sorted(got), split_sorted(ex.query + "&X-Amz-Signature=" + ex.signature)) << got;
  EXPECT_TRUE(got.ends_with("&X-Amz-Signature=" + ex.signature)) << got;
}

TEST(Sigv4Examples, every_published_example_is_reproduced) {
  simdjson::dom::parser parser;
  const example_file f = load_examples(parser);
  ASSERT_FALSE(f.examples.empty()) << "no examples found in " << examples_path;
  for (const example& ex : f.examples) {
    SCOPED_TRACE("example \"" + ex.name + "\"");
    if (is_presigned(ex)) {
      check_presigned_example(f, ex);
    } else {
      check_header_example(f, ex);
    }
  }
}

TEST(Sigv4Hash, sha256_hex_matches_known_digests) {
  EXPECT_EQ(sha256_hex(""), empty_payload_sha256);
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("\0", 1)),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(Sigv4Date, formats_utc_date_and_day) {
  using std::chrono::system_clock;
  EXPECT_EQ(amz_date(system_clock::time_point{}), "19700101T000000Z");
  EXPECT_EQ(amz_date(system_clock::from_time_t(1369353600)), "20130524T000000Z");
  EXPECT_EQ(amz_date(system_clock::from_time_t(1709251199)), "20240229T235959Z");
  EXPECT_EQ(amz_day(system_clock::from_time_t(1709251199)), "20240229");
  // Sub-second parts are dropped, never rounded up into the next second.
  EXPECT_EQ(amz_date(system_clock::from_time_t(1709251199) + 999ms), "20240229T235959Z");
}

TEST(Sigv4Date, does_not_depend_on_the_tz_environment) {
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  const auto t = std::chrono::system_clock::from_time_t(1709251199);
  for (const char* tz : {"Asia/Kolkata", "America/St_Johns", "UTC-14", "Pacific/Kiritimati"}) {
    ::setenv("TZ", tz, 1);
    ::tzset();
    EXPECT_EQ(amz_date(t), "20240229T235959Z") << tz;
    EXPECT_EQ(amz_day(t), "20240229") << tz;
  }
  if (old) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
}

credentials test_creds(std::string token = {}) {
  return {"AKIDEXAMPLE0000000", "s3cr3t/Key+With=Chars0000000000000000000", std::move(token)};
}

signing_scope test_scope() {
  return {"eu-west-3", "s3", std::chrono::system_clock::from_time_t(1700000000)};
}

signing_request basic_request() {
  signing_request req;
  req.method = "GET";
  req.path = "/bucket/key";
  req.headers = {{"host", "s3.eu-west-3.amazonaws.com"}};
  req.payload_hash = std::string(empty_payload_sha256);
  return req;
}

TEST(Sigv4SignRequest, adds_date_payload_hash_and_authorization) {
  signing_request req = basic_request();
  sign_request(req, test_creds(), test_scope());
  EXPECT_EQ(header(req, "x-amz-date"), "20231114T221320Z");
  EXPECT_EQ(header(req, "x-amz-content-sha256"), empty_payload_sha256);
  EXPECT_EQ(header(req, "x-amz-security-token"), "");
  const std::string auth = header(req, "authorization");
  EXPECT_TRUE(
      auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE0000000/20231114/eu-west-3/s3/"
                       "aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="))
      << auth;
}

TEST(Sigv4SignRequest, session_token_is_sent_and_signed) {
  const std::string token = "FwoGZXIvYXdzEJr//////////wEaDAbc+def=";
  signing_request req = basic_request();
  sign_request(req, test_creds(token), test_scope());
  EXPECT_EQ(header(req, "x-amz-security-token"), token);
  const std::string auth = header(req, "authorization");
  EXPECT_NE(auth.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos)
      << auth;

  // The Authorization signature is the signature of the request as sent (without Authorization).
  signing_request sent = req;
  std::erase_if(sent.headers, [](const auto& h) { return h.first == "authorization"; });
  EXPECT_NE(canonical_request(sent).find("\nx-amz-security-token:" + token + "\n"), std::string::npos);
  EXPECT_TRUE(auth.ends_with("Signature=" + signature(sent, test_creds(token), test_scope()))) << auth;
}

TEST(Sigv4SignRequest, signing_again_replaces_earlier_signing_headers) {
  signing_request req = basic_request();
  sign_request(req, test_creds("token-1"), test_scope());
  const auto first = req.headers;
  sign_request(req, test_creds("token-1"), test_scope());
  EXPECT_EQ(req.headers, first);
  signing_scope later = test_scope();
  later.time += 5min;
  sign_request(req, test_creds(), later);
  EXPECT_EQ(header(req, "x-amz-date"), "20231114T221820Z");
  EXPECT_EQ(header(req, "x-amz-security-token"), "");
  EXPECT_EQ(std::count_if(req.headers.begin(), req.headers.end(),
                          [](const auto& h) { return h.first == "x-amz-date"; }),
            1);
}

TEST(Sigv4CanonicalRequest, has_the_documented_layout) {
  signing_request req = basic_request();
  req.method = "PUT";
  req.query = {{"partNumber", "1"}, {"uploadId", "abc"}};
  req.headers.emplace_back("Content-Type", "text/plain");
  EXPECT_EQ(canonical_request(req),
            "PUT\n/bucket/key\npartNumber=1&uploadId=abc\ncontent-type:text/"
            "plain\nhost:s3.eu-west-3.amazonaws.com\n"
            "\ncontent-type;host\n" +
                std::string(empty_payload_sha256));
}

TEST(Sigv4CanonicalRequest, path_is_signed_as_given_without_double_encoding) {
  signing_request req = basic_request();
  req.path = "/bucket/a%20b//c~d/%2B%25";
  EXPECT_EQ(line(canonical_request(req), 1), "/bucket/a%20b//c~d/%2B%25");
  req.path = "/bucket/./x/../y";  // S3 does not normalize dot segments either
  EXPECT_EQ(line(canonical_request(req), 1), "/bucket/./x/../y");
}

TEST(Sigv4CanonicalRequest, repeated_query_params_sort_by_name_then_value) {
  signing_request req = basic_request();
  req.query = {{"b", "2"}, {"a", "z"}, {"a", "y"}, {"a-b", "1"}, {"a", "Y"}, {"A", "1"}};
  // "a" sorts before "a-b" although "a=" > "a-" byte-wise: names compare first.
  EXPECT_EQ(line(canonical_request(req), 2), "A=1&a=Y&a=y&a=z&a-b=1&b=2");
}

TEST(Sigv4CanonicalRequest, query_params_are_encoded_before_sorting) {
  signing_request req = basic_request();
  req.query = {{"prefix", "a b/c+d=e~"}, {"~x", "1"}, {"%", "%"}, {"\xc3\xa9", "\xe6\x97\xa5"}};
  EXPECT_EQ(line(canonical_request(req), 2), "%25=%25&%C3%A9=%E6%97%A5&prefix=a%20b%2Fc%2Bd%3De~&~x=1");
}

TEST(Sigv4CanonicalRequest, params_without_value_are_signed_with_an_empty_value) {
  signing_request req = basic_request();
  req.query = {{"uploads", "", false}, {"acl", "", false}, {"tagging", ""}};
  EXPECT_EQ(line(canonical_request(req), 2), "acl=&tagging=&uploads=");
}

TEST(Sigv4CanonicalRequest, header_values_are_trimmed_and_inner_blanks_collapsed) {
  signing_request req = basic_request();
  req.headers.emplace_back("X-Amz-Meta-Note", "  a   b \t c  ");
  req.headers.emplace_back("x-amz-meta-blank", " \t ");
  req.headers.emplace_back("Range", "bytes=0-9");
  const std::string cr = canonical_request(req);
  EXPECT_EQ(line(cr, 3), "host:s3.eu-west-3.amazonaws.com");
  EXPECT_EQ(line(cr, 4), "range:bytes=0-9");
  EXPECT_EQ(line(cr, 5), "x-amz-meta-blank:");
  EXPECT_EQ(line(cr, 6), "x-amz-meta-note:a b c");
  EXPECT_EQ(signed_header_names(req), "host;range;x-amz-meta-blank;x-amz-meta-note");
}

TEST(Sigv4CanonicalRequest, repeated_headers_are_joined_in_order_with_commas) {
  signing_request req = basic_request();
  req.headers.emplace_back("x-amz-meta-r", "one");
  req.headers.emplace_back("X-Amz-Meta-R", "  two  ");
  req.headers.emplace_back("x-amz-meta-r", "a  b");
  const std::string cr = canonical_request(req);
  EXPECT_EQ(line(cr, 4), "x-amz-meta-r:one,two,a b");
  EXPECT_EQ(signed_header_names(req), "host;x-amz-meta-r");
}

TEST(Sigv4Secrets, secret_key_never_appears_in_any_output) {
  const credentials creds = test_creds("session-token-value");
  signing_request req = basic_request();
  sign_request(req, creds, test_scope());
  EXPECT_EQ(canonical_request(req).find(creds.secret_access_key), std::string::npos);
  for (const auto& [name, value] : req.headers) {
    EXPECT_EQ(value.find(creds.secret_access_key), std::string::npos) << name;
    EXPECT_EQ(value.find("s3cr3t"), std::string::npos) << name;
  }
  signing_request pre = basic_request();
  const std::string query = presign(pre, creds, test_scope(), 900s);
  EXPECT_EQ(query.find("s3cr3t"), std::string::npos) << query;
  EXPECT_EQ(canonical_request(pre).find("s3cr3t"), std::string::npos);
}

TEST(Sigv4Presign, carries_the_auth_params_and_the_session_token) {
  const credentials creds = test_creds("tok/en+=");
  signing_request req = basic_request();
  req.query = {{"versionId", "v 1"}, {"response-content-type", "text/plain"}};
  const std::string query = presign(req, creds, test_scope(), 3600s);
  EXPECT_EQ(req.payload_hash, unsigned_payload);
  const std::string prefix =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE0000000%2F20231114%2Feu-west-3%2Fs3%2F"
      "aws4_request&X-Amz-Date=20231114T221320Z&X-Amz-Expires=3600&X-Amz-Security-Token=tok%2Fen%2B%3D"
      "&X-Amz-SignedHeaders=host&response-content-type=text%2Fplain&versionId=v%201&X-Amz-Signature=";
  ASSERT_TRUE(query.starts_with(prefix)) << query;
  const std::string sig = query.substr(prefix.size());
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_EQ(sig, signature(req, creds, test_scope()));
}

TEST(Sigv4Presign, presigning_again_replaces_the_earlier_auth_params) {
  signing_request req = basic_request();
  const std::string first = presign(req, test_creds(), test_scope(), 60s);
  const std::string again = presign(req, test_creds(), test_scope(), 60s);
  EXPECT_EQ(first, again);
  EXPECT_EQ(req.query.size(), 5u);
}

TEST(Sigv4Presign, signs_every_header_given) {
  signing_request req = basic_request();
  req.method = "PUT";
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  const std::string query = presign(req, test_creds(), test_scope(), 60s);
  EXPECT_NE(query.find("&X-Amz-SignedHeaders=content-type%3Bhost&"), std::string::npos) << query;
}

}  // namespace

// Each thread caches its last signing key. A signature computed after other
// secrets, days, regions and services were signed on this thread must equal
// one computed on a fresh thread (an empty cache).
TEST(Sigv4SigningKeyCache, follows_the_secret_the_day_the_region_and_the_service) {
  const credentials a = test_creds();
  credentials b = a;
  b.secret_access_key.back() = '1';  // differs in the last byte only
  signing_scope day1 = test_scope();
  signing_scope day2 = day1;
  day2.time += std::chrono::hours(24);
  signing_scope region2 = day1;
  region2.region = "eu-west-1";
  signing_scope service2 = day1;
  service2.service = "s3-object-lambda";
  const signing_request req = basic_request();
  auto fresh = [&](const credentials& c, const signing_scope& s) {
    std::string out;
    std::thread([&] { out = signature(req, c, s); }).join();
    return out;
  };
  const std::vector<std::pair<const credentials*, const signing_scope*>> order = {
      {&a, &day1}, {&a, &day1},    {&a, &day2},     {&a, &day1}, {&b, &day1},
      {&a, &day1}, {&a, &region2}, {&a, &service2}, {&b, &day2}, {&a, &day1}};
  std::set<std::string> distinct;
  for (std::size_t i = 0; i < order.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    const std::string here = signature(req, *order[i].first, *order[i].second);
    EXPECT_EQ(here, fresh(*order[i].first, *order[i].second));
    distinct.insert(here);
  }
  EXPECT_EQ(distinct.size(), 6u);  // (a,day1) (a,day2) (b,day1) (a,region2) (a,service2) (b,day2)
}
