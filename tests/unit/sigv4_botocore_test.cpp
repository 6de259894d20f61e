// Differential test: sluice's SigV4 against botocore's on a few hundred
// randomized S3 requests (fixed seed, so a failure reproduces).
//
// The requests go to tests/interop/botocore_sigv4.py as JSON lines; botocore
// builds the path from the raw key itself (percent_encode(key, safe='/~'), as
// its S3 serializer does) and signs with S3SigV4Auth / S3SigV4QueryAuth at the
// same frozen time. Every signature must match.
//
// Not generated, because botocore handles them differently on purpose:
// a Date header (botocore then drops X-Amz-Date and rewrites Date), the
// headers botocore never signs (user-agent, expect, x-amzn-trace-id: sluice
// signs every header it is given), repeated query parameter names in presigned
// URLs (botocore keeps one value per name there).
#include <sluice/engine/s3/sigv4.hpp>
#include <sluice/engine/s3/uri.hpp>

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace sluice::s3;
namespace fs = std::filesystem;

constexpr int request_count = 300;
constexpr std::uint64_t seed = 0x51CE5EEDu;

const char* const python = "/usr/bin/python3";
const std::string script = std::string(SLUICE_SOURCE_DIR) + "/tests/interop/botocore_sigv4.py";

struct random_request {
  int id = 0;
  bool presign = false;
  std::string method;
  std::string host;
  std::string path_prefix;         // "" (virtual-hosted) or "/bucket" (path-style)
  std::optional<std::string> key;  // raw; none for bucket-level requests
  std::vector<query_param> params;
  std::vector<std::pair<std::string, std::string>> headers;  // without host
  std::string body;
  bool sign_payload = true;
  credentials creds;
  std::string region;
  std::int64_t epoch = 0;
  std::int64_t expires = 0;
};

class generator {
 public:
  explicit generator(std::uint64_t s) : rng_(s) {}

  random_request next(int id) {
    random_request r;
    r.id = id;
    r.presign = chance(25);
    r.method = pick(methods);
    r.host = pick(hosts);
    if (chance(50)) r.path_prefix = "/" + std::string(pick(buckets));
    if (chance(85)) r.key = random_key();
    r.params = random_params(r.presign);
    r.headers = random_headers(r.presign);
    r.sign_payload = !r.presign && chance(50);
    if (!r.presign) r.body = random_bytes(below(120));
    r.creds.access_key_id = "AKIA" + random_from(access_key_chars, 16);
    r.creds.secret_access_key = random_from(secret_chars, 40);
    if (chance(40)) r.creds.session_token = random_from(token_chars, 60 + below(200));
    r.region = pick(regions);
    r.epoch = 946684800 + static_cast<std::int64_t>(below(4102444799 - 946684800));
    r.expires = 1 + static_cast<std::int64_t>(below(604800));
    return r;
  }

 private:
  static constexpr std::array<std::string_view, 5> methods = {"GET", "PUT", "HEAD", "DELETE", "POST"};
  static constexpr std::array<std::string_view, 7> hosts = {"s3.amazonaws.com",
                                                            "examplebucket.s3.us-west-2.amazonaws.com",
                                                            "127.0.0.1:9000",
                                                            "[::1]:9000",
                                                            "localhost:4568",
                                                            "minio.internal",
                                                            "s3.eu-central-1.wasabisys.com"};
  static constexpr std::array<std::string_view, 4> buckets = {"bucket", "my.data-set", "b-123",
                                                              "sluice-test"};
  static constexpr std::array<std::string_view, 9> regions = {"us-east-1",      "us-west-2", "eu-west-3",
                                                              "ap-southeast-2", "sa-east-1", "us-gov-west-1",
                                                              "cn-north-1",     "auto",      "me-central-1"};
  // Pieces of keys and query values: everything that needs (or must not get) encoding.
  static constexpr std::array<std::string_view, 46> pieces = {"a",
                                                              "Z",
                                                              "09",
                                                              "dir/",
                                                              "//",
                                                              " ",
                                                              "  ",
                                                              "+",
                                                              "%",
                                                              "%20",
                                                              "=",
                                                              "~",
                                                              "$",
                                                              "&",
                                                              "?",
                                                              "#",
                                                              "*",
                                                              "'",
                                                              "(",
                                                              ")",
                                                              "!",
                                                              ",",
                                                              ";",
                                                              ":",
                                                              "@",
                                                              "[",
                                                              "]",
                                                              "-",
                                                              "_",
                                                              ".",
                                                              "..",
                                                              "/./",
                                                              "\\",
                                                              "^",
                                                              "`",
                                                              "{",
                                                              "}",
                                                              "\"",
                                                              "<",
                                                              ">",
                                                              "|",
                                                              "\xc3\xa9",
                                                              "\xe6\x97\xa5\xe6\x9c\xac",
                                                              "\xf0\x9f\x98\x80",
                                                              "\xc3\xbc",
                                                              "\t"};
  static constexpr std::array<std::string_view, 31> param_names = {"prefix",
                                                                   "delimiter",
                                                                   "list-type",
                                                                   "max-keys",
                                                                   "continuation-token",
                                                                   "uploadId",
                                                                   "partNumber",
                                                                   "versionId",
                                                                   "tagging",
                                                                   "acl",
                                                                   "uploads",
                                                                   "delete",
                                                                   "lifecycle",
                                                                   "x-id",
                                                                   "response-content-disposition",
                                                                   "encoding-type",
                                                                   "start-after",
                                                                   "a",
                                                                   "a-b",
                                                                   "a.b",
                                                                   "a_b",
                                                                   "A",
                                                                   "Z",
                                                                   "%weird name",
                                                                   "k=v",
                                                                   "\xc3\xa9",
                                                                   "~tilde",
                                                                   "x y",
                                                                   "a+b",
                                                                   "0",
                                                                   "response-content-type"};
  static constexpr std::string_view access_key_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  static constexpr std::string_view secret_chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
  static constexpr std::string_view token_chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=";
  static constexpr std::string_view word_chars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/=;,\"";

  // rng_() % n rather than std::uniform_int_distribution: its output differs
  // between standard libraries, and the sequence should not.
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }
  template <class A>
  std::string_view pick(const A& a) {
    return a[below(a.size())];
  }
  std::string random_from(std::string_view chars, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += chars[below(chars.size())];
    return s;
  }
  std::string random_bytes(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(below(256));
    return s;
  }
  std::string random_text(std::size_t max_pieces) {
    std::string s;
    const std::size_t n = 1 + below(max_pieces);
    for (std::size_t i = 0; i < n; ++i) s += pick(pieces);
    return s;
  }
  std::string random_key() {
    std::string k = random_text(10);
    if (chance(15)) k = "/" + k;  // a leading slash gives "//" after the prefix
    return k;
  }
  // Words separated (and surrounded) by runs of spaces and tabs.
  std::string odd_whitespace_value() {
    std::string v;
    const auto blanks = [&] {
      std::string b;
      const std::size_t n = below(4);
      for (std::size_t i = 0; i < n; ++i) b += chance(70) ? ' ' : '\t';
      return b;
    };
    v += blanks();
    const std::size_t words = below(4);
    for (std::size_t i = 0; i < words; ++i) {
      if (i > 0) v += chance(50) ? " " : blanks() + " ";
      v += random_from(word_chars, 1 + below(8));
    }
    v += blanks();
    return v;
  }

  std::vector<query_param> random_params(bool presign) {
    std::vector<query_param> ps;
    const std::size_t n = below(6);
    for (std::size_t i = 0; i < n; ++i) {
      query_param p;
      p.name = pick(param_names);
      if (presign && std::any_of(ps.begin(), ps.end(), [&](const auto& q) { return q.name == p.name; })) {
        continue;  // botocore's presigner keeps one value per name
      }
      const auto kind = below(10);
      if (kind < 2) {
        p.has_value = false;
      } else if (kind < 3) {
        p.value = "";
      } else if (kind < 5) {
        p.value = std::to_string(below(100000));
      } else {
        p.value = random_text(6);
      }
      ps.push_back(p);
      if (!presign && chance(20)) {  // the same name again, another value
        query_param again = p;
        again.has_value = true;
        again.value = random_text(3);
        ps.push_back(again);
      }
    }
    return ps;
  }

  std::vector<std::pair<std::string, std::string>> random_headers(bool presign) {
    std::vector<std::pair<std::string, std::string>> hs;
    const std::size_t n = presign ? (chance(30) ? 1 + below(2) : 0) : below(6);
    for (std::size_t i = 0; i < n; ++i) {
      switch (below(presign ? 3 : 12)) {
        case 0:
          hs.emplace_back(chance(50) ? "Content-Type" : "content-type",
                          std::string(pick(std::array<std::string_view, 4>{
                              "text/plain", "application/octet-stream", "application/json; charset=utf-8",
                              "  text/html  "})));
          break;
        case 1:
          hs.emplace_back("x-amz-meta-" + random_from("abcdefghij", 1 + below(6)), odd_whitespace_value());
          break;
        case 2:
          hs.emplace_back("X-Amz-Meta-Mixed-Case", odd_whitespace_value());
          break;
        case 3:
          hs.emplace_back("Range", chance(50) ? "bytes=0-99" : "bytes=" + std::to_string(below(1000)) + "-");
          break;
        case 4:
          hs.emplace_back("Content-MD5", random_from(token_chars, 22) + "==");
          break;
        case 5:
          hs.emplace_back("x-amz-storage-class", chance(50) ? "STANDARD_IA" : "REDUCED_REDUNDANCY");
          break;
        case 6:
          hs.emplace_back(chance(50) ? "If-Match" : "If-None-Match",
                          chance(50) ? "*" : "\"" + random_from("0123456789abcdef", 32) + "\"");
          break;
        case 7:
          hs.emplace_back("Cache-Control", "no-cache,  \t no-store ");
          break;
        case 8:
          hs.emplace_back("x-amz-acl", "bucket-owner-full-control");
          break;
        case 9:
          hs.emplace_back("Content-Length", std::to_string(below(1u << 30)));
          break;
        case 10:
          hs.emplace_back("x-amz-tagging", "a=b&c=d e");
          break;
        default:  // a repeated header, the repeats differently cased
          hs.emplace_back("x-amz-meta-rep", odd_whitespace_value());
          hs.emplace_back("X-Amz-Meta-Rep", odd_whitespace_value());
          break;
      }
    }
    return hs;
  }

  std::mt19937_64 rng_;
};

std::string request_path(const random_request& r) {
  if (r.key) return r.path_prefix + "/" + encode_path(*r.key);
  return r.path_prefix.empty() ? "/" : r.path_prefix;
}

signing_request to_signing_request(const random_request& r) {
  signing_request req;
  req.method = r.method;
  req.path = request_path(r);
  req.query = r.params;
  req.headers.emplace_back("host", r.host);
  for (const auto& h : r.headers) req.headers.push_back(h);
  req.payload_hash = r.sign_payload ? sha256_hex(r.body) : std::string(unsigned_payload);
  return req;
}

signing_scope to_scope(const random_request& r) {
  return {r.region, "s3", std::chrono::system_clock::from_time_t(static_cast<std::time_t>(r.epoch))};
}

// JSON string literal; UTF-8 passes through, control bytes become \u00XX.
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

std::string to_json(const random_request& r) {
  std::string j = "{\"id\":" + std::to_string(r.id);
  j += ",\"kind\":" + json_string(r.presign ? "presign" : "header");
  j += ",\"method\":" + json_string(r.method);
  j += ",\"host\":" + json_string(r.host);
  j += ",\"path_prefix\":" + json_string(r.path_prefix);
  j += ",\"key\":" + (r.key ? json_string(*r.key) : std::string("null"));
  j += ",\"params\":[";
  for (std::size_t i = 0; i < r.params.size(); ++i) {
    if (i) j += ',';
    j += "[" + json_string(r.params[i].name) + "," +
         json_string(r.params[i].has_value ? r.params[i].value : "") + "]";
  }
  j += "],\"headers\":[";
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    if (i) j += ',';
    j += "[" + json_string(r.headers[i].first) + "," + json_string(r.headers[i].second) + "]";
  }
  j += "],\"body_hex\":" + json_string(to_hex(r.body));
  j += ",\"sign_payload\":" + std::string(r.sign_payload ? "true" : "false");
  j += ",\"access_key\":" + json_string(r.creds.access_key_id);
  j += ",\"secret_key\":" + json_string(r.creds.secret_access_key);
  j += ",\"token\":" +
       (r.creds.session_token.empty() ? std::string("null") : json_string(r.creds.session_token));
  j += ",\"region\":" + json_string(r.region);
  j += ",\"epoch\":" + std::to_string(r.epoch);
  j += ",\"expires\":" + std::to_string(r.expires);
  return j + "}";
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

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Removes the scratch directory however the test ends.
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    path = fs::temp_directory_path() /
           ("sluice-sigv4-botocore-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct our_result {
  std::string path, signature, authorization, query, canonical_request;
};

our_result sign_with_sluice(const random_request& r) {
  signing_request req = to_signing_request(r);
  our_result out;
  out.path = req.path;
  if (r.presign) {
    out.query = presign(req, r.creds, to_scope(r), std::chrono::seconds{r.expires});
    out.signature = out.query.substr(out.query.rfind("&X-Amz-Signature=") + 17);
    out.canonical_request = canonical_request(req);
  } else {
    sign_request(req, r.creds, to_scope(r));
    out.authorization = req.headers.back().second;
    out.signature = out.authorization.substr(out.authorization.rfind("Signature=") + 10);
    req.headers.pop_back();  // the canonical request is over the headers without Authorization
    out.canonical_request = canonical_request(req);
  }
  return out;
}

TEST(BotocoreSigv4, randomized_requests_sign_exactly_like_botocore) {
  ASSERT_TRUE(fs::exists(python)) << python << " not found: run tools/install-deps.sh";
  ASSERT_TRUE(fs::exists(script)) << script << " not found";
  const std::string probe = shell_quote(python) + " -c 'import botocore.auth' >/dev/null 2>&1";
  ASSERT_EQ(std::system(probe.c_str()), 0)
      << "botocore is not importable by " << python
      << ": this test needs it (Debian package python3-botocore); run tools/install-deps.sh";

  scratch_dir dir;
  const fs::path in = dir.path / "requests.jsonl";
  const fs::path out = dir.path / "signatures.jsonl";
  const fs::path err = dir.path / "stderr.txt";

  generator gen(seed);
  std::vector<random_request> requests;
  std::vector<std::string> lines;
  {
    std::ofstream f(in, std::ios::binary);
    for (int i = 0; i < request_count; ++i) {
      requests.push_back(gen.next(i));
      if (requests.back().key) {
        ASSERT_TRUE(validate_key(*requests.back().key)) << "generator made a bad key";
      }
      lines.push_back(to_json(requests.back()));
      f << lines.back() << '\n';
    }
    ASSERT_TRUE(f.good()) << "cannot write " << in;
  }
  const auto presigned =
      std::count_if(requests.begin(), requests.end(), [](const auto& r) { return r.presign; });
  ASSERT_GT(presigned, 0);
  ASSERT_LT(presigned, request_count);

  const std::string cmd = shell_quote(python) + " " + shell_quote(script) + " " + shell_quote(in.string()) +
                          " > " + shell_quote(out.string()) + " 2> " + shell_quote(err.string());
  const int status = std::system(cmd.c_str());
  ASSERT_EQ(status, 0) << cmd << " failed (status " << status << "):\n" << read_file(err);

  std::istringstream results(read_file(out));
  simdjson::dom::parser parser;
  int compared = 0, mismatches = 0;
  std::string first_mismatch;
  for (std::string line; std::getline(results, line);) {
    ASSERT_LT(compared, request_count) << "botocore_sigv4.py printed more lines than requests";
    const random_request& r = requests[static_cast<std::size_t>(compared)];
    const std::string& request_json = lines[static_cast<std::size_t>(compared)];
    ++compared;
    const simdjson::padded_string padded(line);
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(padded).get(doc)) << "unparsable output line: " << line;
    int64_t id = -1;
    ASSERT_FALSE(doc["id"].get_int64().get(id)) << line;
    ASSERT_EQ(id, r.id) << "botocore_sigv4.py output is out of order";
    if (std::string_view e; !doc["error"].get_string().get(e)) {
      ADD_FAILURE() << "botocore could not sign request " << request_json << ": " << e;
      continue;
    }
    const auto field = [&](std::string_view name) {
      std::string_view v;
      if (doc[name].get_string().get(v)) ADD_FAILURE() << "no \"" << name << "\" in " << line;
      return std::string(v);
    };
    const our_result ours = sign_with_sluice(r);
    const std::string theirs_sig = field("signature");
    bool same = ours.signature == theirs_sig && ours.path == field("path");
    if (r.presign) {
      same = same && split_sorted(ours.query) == split_sorted(field("query"));
    } else {
      same = same && ours.authorization == field("authorization");
    }
    if (!same && mismatches++ == 0) {
      std::ostringstream s;
      s << "request " << r.id << ": " << request_json << "\n"
        << "path      sluice: " << ours.path << "\n          botocore: " << field("path") << "\n"
        << "signature sluice: " << ours.signature << "\n          botocore: " << theirs_sig << "\n";
      if (r.presign) {
        s << "query sluice:   " << ours.query << "\nquery botocore: " << field("query") << "\n";
      } else {
        s << "authorization sluice:   " << ours.authorization
          << "\nauthorization botocore: " << field("authorization") << "\n";
      }
      s << "--- canonical request, sluice:\n"
        << ours.canonical_request << "\n--- canonical request, botocore:\n"
        << field("canonical_request") << "\n---";
      first_mismatch = s.str();
    }
  }
  EXPECT_EQ(compared, request_count) << "botocore_sigv4.py stopped early:\n" << read_file(err);
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << compared << " requests signed differently; the first:\n"
                           << first_mismatch;
}

}  // namespace
