// S3 XML answers through pugixml. Everything here treats its input as hostile:
// lengths are explicit, numbers are parsed strictly, a missing field is an
// error rather than a silent zero, and nothing throws except std::bad_alloc.
#include <sluice/engine/s3/xml.hpp>

#include <sluice/engine/s3/error.hpp>

#include <pugixml.hpp>

#include <charconv>
#include <string>
#include <utility>

namespace sluice::s3 {
namespace {

// parse_ws_pcdata keeps whitespace-only text, so a key " " survives. Entities
// are decoded; a DOCTYPE is skipped without expanding anything.
constexpr unsigned parse_options = pugi::parse_default | pugi::parse_ws_pcdata | pugi::parse_fragment;

constexpr std::string_view s3_namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// S3 documents carry xmlns="http://s3.amazonaws.com/doc/2006-03-01/"; a few
// servers use a prefix instead. Elements are matched by their local name.
std::string_view local_name(pugi::xml_node node) {
  std::string_view name = node.name();
  auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(pugi::xml_node parent, std::string_view name) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c) == name) return c;
  }
  return {};
}

template <class F>
void for_each_child(pugi::xml_node parent, std::string_view name, F&& f) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c) == name) f(c);
  }
}

// All character data directly inside an element (text and CDATA pieces).
std::string text_of(pugi::xml_node node) {
  std::string out;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  }
  return out;
}

std::string_view trim_xml_space(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  auto begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

error malformed(std::string message) {
  return error(sluice::errc::malformed_response, std::move(message));
}

// A decimal unsigned 64-bit number, nothing else: no sign, no fraction, no
// overflow. Whitespace around the digits is XML layout and ignored.
std::optional<uint64_t> parse_u64(std::string_view text) {
  text = trim_xml_space(text);
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  text = trim_xml_space(text);
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return std::nullopt;
}

std::string strip_quotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') return etag.substr(1, etag.size() - 2);
  return etag;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// encoding-type=url answers are form-encoded: %XX for bytes, '+' for a space
// (a literal '+' arrives as %2B).
std::optional<std::string> form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Parses `xml` and returns its single root element, whatever its name.
result<pugi::xml_node> load(pugi::xml_document& doc, std::string_view xml, std::string_view what) {
  if (trim_xml_space(xml).empty()) return malformed("empty " + std::string(what) + " document");
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size(), parse_options, pugi::encoding_auto);
  if (!parsed) {
    return malformed("invalid XML in " + std::string(what) + " document: " + parsed.description() +
                     " at offset " + std::to_string(parsed.offset));
  }
  pugi::xml_node root;
  for (pugi::xml_node c = doc.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      if (root)
        return malformed("invalid XML in " + std::string(what) + " document: more than one root element");
      root = c;
    } else if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
      if (!trim_xml_space(c.value()).empty()) {
        return malformed("invalid XML in " + std::string(what) + " document: text outside the root element");
      }
    }
  }
  if (!root) return malformed("invalid XML in " + std::string(what) + " document: no root element");
  return root;
}

error wrong_root(pugi::xml_node root, std::string_view expected) {
  return malformed("expected <" + std::string(expected) + "> document, got <" +
                   std::string(local_name(root)) + ">");
}

// Loads a document whose root must be `expected`.
result<pugi::xml_node> load_expecting(pugi::xml_document& doc, std::string_view xml,
                                      std::string_view expected) {
  SLUICE_TRY(pugi::xml_node root, load(doc, xml, expected));
  if (local_name(root) != expected) return wrong_root(root, expected);
  return root;
}

error missing(std::string_view parent, std::string_view field) {
  return malformed("<" + std::string(parent) + "> without <" + std::string(field) + ">");
}

// Required text of a direct child; `allow_empty` for fields that may be "".
result<std::string> required_text(pugi::xml_node parent, std::string_view field, bool allow_empty = false) {
  pugi::xml_node node = child(parent, field);
  if (!node) return missing(local_name(parent), field);
  std::string text = text_of(node);
  if (!allow_empty && text.empty()) {
    return malformed("<" + std::string(local_name(parent)) + "> with an empty <" + std::string(field) + ">");
  }
  return text;
}

error_body read_error_body(pugi::xml_node err) {
  error_body body;
  body.code = text_of(child(err, "Code"));
  body.message = text_of(child(err, "Message"));
  body.request_id = text_of(child(err, "RequestId"));
  if (pugi::xml_node resource = child(err, "Resource")) {
    body.resource = text_of(resource);
  } else {
    body.resource = text_of(child(err, "Key"));
  }
  return body;
}

// <Error> or, from some S3-compatible servers, <ErrorResponse><Error>..</Error><RequestId>.
result<error_body> error_body_from_root(pugi::xml_node root) {
  pugi::xml_node err = root;
  if (local_name(root) == "ErrorResponse") {
    err = child(root, "Error");
    if (!err) return missing("ErrorResponse", "Error");
  } else if (local_name(root) != "Error") {
    return wrong_root(root, "Error");
  }
  error_body body = read_error_body(err);
  if (body.code.empty()) return malformed("<Error> document without <Code>");
  if (body.request_id.empty() && err != root) body.request_id = text_of(child(root, "RequestId"));
  return body;
}

// An <Error> document in a 200 answer, typed like any S3 error.
error error_in_200(const error_body& body, std::string_view operation) {
  std::string message = std::string(operation) + " failed: " + body.code;
  if (!body.message.empty()) message += ": " + body.message;
  error e(errc_from_code(body.code, 200), std::move(message));
  e.request_id = body.request_id;
  return e;
}

bool is_error_root(pugi::xml_node root) {
  return local_name(root) == "Error" || local_name(root) == "ErrorResponse";
}

// The ETag of a 200 answer that may instead be an <Error> document.
// `allow_empty_etag`: radosgw answers CompleteMultipartUpload with <ETag></ETag>.
result<std::string> etag_or_error(std::string_view xml, std::string_view operation,
                                  std::initializer_list<std::string_view> roots,
                                  bool allow_empty_etag = false) {
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load(doc, xml, *roots.begin()));
  if (is_error_root(root)) {
    SLUICE_TRY(error_body body, error_body_from_root(root));
    return error_in_200(body, operation);
  }
  bool known = false;
  for (std::string_view name : roots) known = known || local_name(root) == name;
  if (!known) return wrong_root(root, *roots.begin());
  return required_text(root, "ETag", allow_empty_etag);
}

void append_escaped_element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  out += xml_escape(text);
  out += "</";
  out += name;
  out += '>';
}

}  // namespace

result<void> check_complete_document(std::string_view xml) {
  auto cut = [](std::string why) { return fail(sluice::errc::truncated_response, "the XML answer " + why); };
  std::string_view s = trim_xml_space(xml);
  if (s.starts_with("\xEF\xBB\xBF")) s = trim_xml_space(s.substr(3));  // a UTF-8 byte order mark
  // Past the prolog: the declaration, comments, processing instructions and a DOCTYPE.
  while (s.starts_with("<?") || s.starts_with("<!")) {
    const std::string_view end = s.starts_with("<!--") ? "-->" : s.starts_with("<?") ? "?>" : ">";
    const auto at = s.find(end);
    if (at == std::string_view::npos) return cut("ends inside its prolog (cut short)");
    s = trim_xml_space(s.substr(at + end.size()));
  }
  if (s.empty()) return cut("holds no document");
  if (s.front() != '<') return {};  // not XML at all: the parser says what is wrong
  std::size_t n = 1;
  while (n < s.size() && s[n] != '>' && s[n] != '/' && s[n] != ' ' && s[n] != '\t' && s[n] != '\r' &&
         s[n] != '\n')
    ++n;
  if (n == s.size()) return cut("ends inside its root element's tag (cut short)");
  const std::string_view root = s.substr(1, n - 1);
  if (root.empty()) return {};
  const auto open_end = s.find('>');
  if (open_end == std::string_view::npos) return cut("ends inside its root element's tag (cut short)");
  if (open_end == s.size() - 1 && s[open_end - 1] == '/') return {};  // <Root/> and nothing after it
  // The end: "</Root>", allowing whitespace before the '>'.
  if (s.ends_with('>') && trim_xml_space(s.substr(0, s.size() - 1)).ends_with("</" + std::string(root)))
    return {};
  return cut("ends before its root element <" + std::string(root) + "> closes (cut short)");
}

result<error_body> parse_error(std::string_view xml) {
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load(doc, xml, "Error"));
  return error_body_from_root(root);
}

result<list_page> parse_list_objects_v2(std::string_view xml, bool url_encoded) {
  constexpr std::string_view root_name = "ListBucketResult";
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load_expecting(doc, xml, root_name));
  // Decode only what the server says it encoded: some servers (s3rver)
  // ignore encoding-type=url and send keys as they are.
  const bool encoded = url_encoded && text_of(child(root, "EncodingType")) == "url";

  auto decode = [&](std::string text, std::string_view field) -> result<std::string> {
    if (!encoded) return text;
    auto decoded = form_decode(text);
    if (!decoded)
      return malformed("ListBucketResult: <" + std::string(field) + "> is not valid URL encoding");
    return std::move(*decoded);
  };

  list_page page;
  std::optional<error> failure;
  for_each_child(root, "Contents", [&](pugi::xml_node contents) {
    if (failure) return;
    object_summary object;
    auto key = required_text(contents, "Key");
    if (!key) return void(failure = key.error());
    auto decoded = decode(std::move(*key), "Key");
    if (!decoded) return void(failure = decoded.error());
    object.key = std::move(*decoded);
    pugi::xml_node size = child(contents, "Size");
    if (!size) return void(failure = missing("Contents", "Size"));
    auto value = parse_u64(text_of(size));
    if (!value) return void(failure = malformed("ListBucketResult: <Size> is not an unsigned 64-bit number"));
    object.size = *value;
    object.etag = strip_quotes(text_of(child(contents, "ETag")));
    object.last_modified = text_of(child(contents, "LastModified"));
    page.objects.push_back(std::move(object));
  });
  if (failure) return *failure;

  for_each_child(root, "CommonPrefixes", [&](pugi::xml_node prefixes) {
    if (failure) return;
    bool any = false;
    for_each_child(prefixes, "Prefix", [&](pugi::xml_node prefix) {
      if (failure) return;
      any = true;
      auto decoded = decode(text_of(prefix), "Prefix");
      if (!decoded) return void(failure = decoded.error());
      page.common_prefixes.push_back(std::move(*decoded));
    });
    if (!any && !failure) failure = missing("CommonPrefixes", "Prefix");
  });
  if (failure) return *failure;

  if (pugi::xml_node truncated = child(root, "IsTruncated")) {
    auto value = parse_bool(text_of(truncated));
    if (!value) return malformed("ListBucketResult: <IsTruncated> is not a boolean");
    page.truncated = *value;
  }
  page.next_continuation_token = text_of(child(root, "NextContinuationToken"));
  if (page.truncated && page.next_continuation_token.empty()) {
    // Going on without a token would restart the listing; stopping would drop keys.
    return malformed("ListBucketResult: truncated listing without <NextContinuationToken>");
  }
  if (pugi::xml_node key_count = child(root, "KeyCount")) {
    auto value = parse_u64(text_of(key_count));
    if (!value) return malformed("ListBucketResult: <KeyCount> is not an unsigned 64-bit number");
    page.key_count = *value;
  } else {
    page.key_count = page.objects.size() + page.common_prefixes.size();
  }
  return page;
}

result<multipart_uploads_page> parse_list_multipart_uploads(std::string_view xml, bool url_encoded) {
  constexpr std::string_view root_name = "ListMultipartUploadsResult";
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load_expecting(doc, xml, root_name));
  const bool encoded = url_encoded && text_of(child(root, "EncodingType")) == "url";
  auto decode = [&](std::string text, std::string_view field) -> result<std::string> {
    if (!encoded) return text;
    auto decoded = form_decode(text);
    if (!decoded)
      return malformed("ListMultipartUploadsResult: <" + std::string(field) + "> is not valid URL encoding");
    return std::move(*decoded);
  };
  multipart_uploads_page page;
  std::optional<error> failure;
  for_each_child(root, "Upload", [&](pugi::xml_node upload) {
    if (failure) return;
    multipart_upload_entry entry;
    auto key = required_text(upload, "Key");
    if (!key) return void(failure = key.error());
    auto decoded = decode(std::move(*key), "Key");
    if (!decoded) return void(failure = decoded.error());
    entry.key = std::move(*decoded);
    auto id = required_text(upload, "UploadId");
    if (!id) return void(failure = id.error());
    entry.upload_id = std::move(*id);
    entry.initiated = text_of(child(upload, "Initiated"));
    page.uploads.push_back(std::move(entry));
  });
  if (failure) return *failure;
  if (pugi::xml_node truncated = child(root, "IsTruncated")) {
    auto value = parse_bool(text_of(truncated));
    if (!value) return malformed("ListMultipartUploadsResult: <IsTruncated> is not a boolean");
    page.truncated = *value;
  }
  SLUICE_TRY(page.next_key_marker, decode(text_of(child(root, "NextKeyMarker")), "NextKeyMarker"));
  page.next_upload_id_marker = text_of(child(root, "NextUploadIdMarker"));
  if (page.truncated && page.next_key_marker.empty())
    return malformed("ListMultipartUploadsResult: truncated listing without <NextKeyMarker>");
  return page;
}

result<parts_page> parse_list_parts(std::string_view xml) {
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load_expecting(doc, xml, "ListPartsResult"));
  parts_page page;
  std::optional<error> failure;
  for_each_child(root, "Part", [&](pugi::xml_node part) {
    if (failure) return;
    uploaded_part p;
    auto number = required_text(part, "PartNumber");
    if (!number) return void(failure = number.error());
    auto n = parse_u64(*number);
    if (!n || *n < 1 || *n > 10000)
      return void(failure = malformed("ListPartsResult: <PartNumber> is not a number from 1 to 10000"));
    p.part_number = static_cast<int>(*n);
    auto size = required_text(part, "Size");
    if (!size) return void(failure = size.error());
    auto sz = parse_u64(*size);
    if (!sz) return void(failure = malformed("ListPartsResult: <Size> is not an unsigned 64-bit number"));
    p.size = *sz;
    auto etag = required_text(part, "ETag");
    if (!etag) return void(failure = etag.error());
    p.etag = strip_quotes(std::move(*etag));
    page.parts.push_back(std::move(p));
  });
  if (failure) return *failure;
  if (pugi::xml_node truncated = child(root, "IsTruncated")) {
    auto value = parse_bool(text_of(truncated));
    if (!value) return malformed("ListPartsResult: <IsTruncated> is not a boolean");
    page.truncated = *value;
  }
  if (page.truncated) {
    auto next = parse_u64(text_of(child(root, "NextPartNumberMarker")));
    if (!next || *next < 1 || *next > 10000)
      return malformed("ListPartsResult: truncated listing without a usable <NextPartNumberMarker>");
    page.next_part_number_marker = static_cast<int>(*next);
  }
  return page;
}

std::optional<int64_t> parse_s3_time(std::string_view text) {
  text = trim_xml_space(text);
  // YYYY-MM-DDTHH:MM:SS, then optional fraction, then Z.
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z')
    return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !se || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *se > 60)
    return std::nullopt;
  std::string_view frac = text.substr(19, text.size() - 20);
  if (!frac.empty()) {
    if (frac.front() != '.' || frac.size() < 2) return std::nullopt;
    for (char c : frac.substr(1))
      if (c < '0' || c > '9') return std::nullopt;
  }
  // Days from the civil date (Howard Hinnant's algorithm).
  const int yy = *y - (*mo <= 2 ? 1 : 0);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t(era) * 146097 + doe - 719468;
  return days * 86400 + *h * 3600 + *mi * 60 + *se;
}

result<std::vector<bucket_entry>> parse_list_buckets(std::string_view xml) {
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load_expecting(doc, xml, "ListAllMyBucketsResult"));
  std::vector<bucket_entry> buckets;
  std::optional<error> failure;
  // <Buckets> is absent or empty when the account has none.
  for_each_child(child(root, "Buckets"), "Bucket", [&](pugi::xml_node bucket) {
    if (failure) return;
    auto name = required_text(bucket, "Name");
    if (!name) return void(failure = name.error());
    buckets.push_back({std::move(*name), text_of(child(bucket, "CreationDate"))});
  });
  if (failure) return *failure;
  return buckets;
}

result<std::string> parse_initiate_multipart(std::string_view xml) {
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load_expecting(doc, xml, "InitiateMultipartUploadResult"));
  return required_text(root, "UploadId");
}

std::string build_complete_multipart(const std::vector<completed_part>& parts) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload xmlns=\"";
  out += s3_namespace;
  out += "\">";
  for (const completed_part& part : parts) {
    out += "<Part>";
    append_escaped_element(out, "PartNumber", std::to_string(part.part_number));
    append_escaped_element(out, "ETag", part.etag);
    out += "</Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

result<std::string> parse_complete_multipart(std::string_view xml) {
  return etag_or_error(xml, "CompleteMultipartUpload", {"CompleteMultipartUploadResult"}, true);
}

result<std::string> parse_copy_object(std::string_view xml) {
  // UploadPartCopy answers the same way with <CopyPartResult>.
  return etag_or_error(xml, "CopyObject", {"CopyObjectResult", "CopyPartResult"});
}

std::string build_delete_objects(const std::vector<std::string>& keys, bool quiet) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"";
  out += s3_namespace;
  out += "\">";
  if (quiet) out += "<Quiet>true</Quiet>";
  for (const std::string& key : keys) {
    out += "<Object>";
    append_escaped_element(out, "Key", key);
    out += "</Object>";
  }
  out += "</Delete>";
  return out;
}

result<delete_result> parse_delete_objects(std::string_view xml) {
  pugi::xml_document doc;
  SLUICE_TRY(pugi::xml_node root, load_expecting(doc, xml, "DeleteResult"));
  delete_result out;
  std::optional<error> failure;
  for_each_child(root, "Deleted", [&](pugi::xml_node deleted) {
    if (failure) return;
    auto key = required_text(deleted, "Key");
    if (!key) return void(failure = key.error());
    out.deleted.push_back(std::move(*key));
  });
  for_each_child(root, "Error", [&](pugi::xml_node err) {
    if (failure) return;
    auto key = required_text(err, "Key");
    if (!key) return void(failure = key.error());
    auto code = required_text(err, "Code");
    if (!code) return void(failure = code.error());
    out.errors.push_back({std::move(*key), std::move(*code), text_of(child(err, "Message"))});
  });
  if (failure) return *failure;
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        // A literal CR would be normalised away by the reader (XML end-of-line
        // handling), turning key "a\r\nb" into "a\nb".
        out += "&#13;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace sluice::s3
