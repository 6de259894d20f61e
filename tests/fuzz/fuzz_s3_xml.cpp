// S3 XML answers (engine/s3/xml.hpp): every parser on arbitrary bytes.
// Properties:
// - a parser returns a value or an error, never throws; the error is
//   malformed_response, or an S3 error (an <Error> document in a 200 answer);
// - what a parser returns obeys its contract (a truncated listing has a
//   continuation token; required fields are not empty);
// - what a parser returns, written back as the document S3 would send (text
//   escaped with xml_escape, listing keys URL-encoded), parses to the same value;
// - ListMultipartUploads and ListParts pages obey their contracts (markers
//   on truncated pages, part numbers 1..10000) and uploads read back;
// - a valid object key survives xml_escape and build_delete_objects exactly.
#include "fuzz_check.hpp"

#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/s3/uri.hpp>
#include <sluice/engine/s3/xml.hpp>

#include <string>
#include <vector>

namespace {

namespace s3 = sluice::s3;

std::string element(std::string_view name, std::string_view text) {
  return "<" + std::string(name) + ">" + s3::xml_escape(text) + "</" + std::string(name) + ">";
}

// XML cannot carry NUL, not even as a character reference.
bool representable(std::string_view s) {
  return s.find('\0') == std::string_view::npos;
}

template <class T>
void check_error_kind(const sluice::result<T>& r, bool s3_error_allowed) {
  if (r) return;
  const std::error_code& code = r.error().code;
  SLUICE_FUZZ_CHECK(code == sluice::errc::malformed_response ||
                    (s3_error_allowed && code.category() == s3::s3_category()));
}

void check_error(std::string_view xml) {
  auto body = s3::parse_error(xml);
  check_error_kind(body, false);
  if (!body) return;
  SLUICE_FUZZ_CHECK(!body->code.empty());
  if (!representable(body->code + body->message + body->request_id + body->resource)) return;
  const std::string again = "<Error>" + element("Code", body->code) + element("Message", body->message) +
                            element("RequestId", body->request_id) + element("Resource", body->resource) +
                            "</Error>";
  auto reparsed = s3::parse_error(again);
  SLUICE_FUZZ_CHECK(reparsed);
  SLUICE_FUZZ_CHECK(reparsed->code == body->code && reparsed->message == body->message &&
                    reparsed->request_id == body->request_id && reparsed->resource == body->resource);
}

// The page as a server answering encoding-type=url writes it.
std::string write_list_page(const s3::list_page& page) {
  std::string out = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  out += element("EncodingType", "url");
  for (const auto& o : page.objects) {
    out += "<Contents>" + element("Key", s3::encode_query_component(o.key)) +
           element("Size", std::to_string(o.size)) + element("ETag", "\"" + o.etag + "\"") +
           element("LastModified", o.last_modified) + "</Contents>";
  }
  for (const auto& p : page.common_prefixes) {
    out += "<CommonPrefixes>" + element("Prefix", s3::encode_query_component(p)) + "</CommonPrefixes>";
  }
  out += element("IsTruncated", page.truncated ? "true" : "false");
  out += element("NextContinuationToken", page.next_continuation_token);
  out += element("KeyCount", std::to_string(page.key_count));
  return out + "</ListBucketResult>";
}

void check_list_objects(std::string_view xml, bool url_encoded) {
  auto page = s3::parse_list_objects_v2(xml, url_encoded);
  check_error_kind(page, false);
  if (!page) return;
  SLUICE_FUZZ_CHECK(!page->truncated || !page->next_continuation_token.empty());
  std::string fields = page->next_continuation_token;
  for (const auto& o : page->objects) {
    SLUICE_FUZZ_CHECK(!o.key.empty());
    fields += o.etag + o.last_modified;
  }
  if (!representable(fields)) return;
  auto reparsed = s3::parse_list_objects_v2(write_list_page(*page), true);
  SLUICE_FUZZ_CHECK(reparsed);
  SLUICE_FUZZ_CHECK(reparsed->objects.size() == page->objects.size());
  for (std::size_t i = 0; i < page->objects.size(); ++i) {
    const auto &a = page->objects[i], &b = reparsed->objects[i];
    SLUICE_FUZZ_CHECK(a.key == b.key && a.size == b.size && a.etag == b.etag &&
                      a.last_modified == b.last_modified);
  }
  SLUICE_FUZZ_CHECK(reparsed->common_prefixes == page->common_prefixes);
  SLUICE_FUZZ_CHECK(reparsed->truncated == page->truncated);
  SLUICE_FUZZ_CHECK(reparsed->next_continuation_token == page->next_continuation_token);
  SLUICE_FUZZ_CHECK(reparsed->key_count == page->key_count);
}

void check_list_buckets(std::string_view xml) {
  auto buckets = s3::parse_list_buckets(xml);
  check_error_kind(buckets, false);
  if (!buckets) return;
  std::string again = "<ListAllMyBucketsResult><Buckets>";
  std::string fields;
  for (const auto& b : *buckets) {
    SLUICE_FUZZ_CHECK(!b.name.empty());
    again += "<Bucket>" + element("Name", b.name) + element("CreationDate", b.creation_date) + "</Bucket>";
    fields += b.name + b.creation_date;
  }
  again += "</Buckets></ListAllMyBucketsResult>";
  if (!representable(fields)) return;
  auto reparsed = s3::parse_list_buckets(again);
  SLUICE_FUZZ_CHECK(reparsed && reparsed->size() == buckets->size());
  for (std::size_t i = 0; i < buckets->size(); ++i) {
    SLUICE_FUZZ_CHECK((*reparsed)[i].name == (*buckets)[i].name &&
                      (*reparsed)[i].creation_date == (*buckets)[i].creation_date);
  }
}

void check_multipart_and_copy(std::string_view xml) {
  auto upload_id = s3::parse_initiate_multipart(xml);
  check_error_kind(upload_id, false);
  if (upload_id) {
    SLUICE_FUZZ_CHECK(!upload_id->empty());
    if (representable(*upload_id)) {
      auto again =
          s3::parse_initiate_multipart("<InitiateMultipartUploadResult>" + element("UploadId", *upload_id) +
                                       "</InitiateMultipartUploadResult>");
      SLUICE_FUZZ_CHECK(again && *again == *upload_id);
    }
  }
  auto completed = s3::parse_complete_multipart(xml);
  check_error_kind(completed, true);
  if (completed && representable(*completed)) {
    auto again = s3::parse_complete_multipart(
        "<CompleteMultipartUploadResult>" + element("ETag", *completed) + "</CompleteMultipartUploadResult>");
    SLUICE_FUZZ_CHECK(again && *again == *completed);
  }
  auto copied = s3::parse_copy_object(xml);
  check_error_kind(copied, true);
  if (copied) {
    SLUICE_FUZZ_CHECK(!copied->empty());
    if (representable(*copied)) {
      auto again =
          s3::parse_copy_object("<CopyObjectResult>" + element("ETag", *copied) + "</CopyObjectResult>");
      SLUICE_FUZZ_CHECK(again && *again == *copied);
    }
  }
}

void check_delete_objects(std::string_view xml) {
  auto result = s3::parse_delete_objects(xml);
  check_error_kind(result, false);
  if (!result) return;
  std::string again = "<DeleteResult>";
  std::string fields;
  for (const auto& k : *&result->deleted) {
    SLUICE_FUZZ_CHECK(!k.empty());
    again += "<Deleted>" + element("Key", k) + "</Deleted>";
    fields += k;
  }
  for (const auto& e : result->errors) {
    SLUICE_FUZZ_CHECK(!e.key.empty() && !e.code.empty());
    again += "<Error>" + element("Key", e.key) + element("Code", e.code) + element("Message", e.message) +
             "</Error>";
    fields += e.key + e.code + e.message;
  }
  again += "</DeleteResult>";
  if (!representable(fields)) return;
  auto reparsed = s3::parse_delete_objects(again);
  SLUICE_FUZZ_CHECK(reparsed && reparsed->deleted == result->deleted &&
                    reparsed->errors.size() == result->errors.size());
  for (std::size_t i = 0; i < result->errors.size(); ++i) {
    const auto &a = result->errors[i], &b = reparsed->errors[i];
    SLUICE_FUZZ_CHECK(a.key == b.key && a.code == b.code && a.message == b.message);
  }
}

// Keys S3 accepts reach the server, and come back, unchanged.
void check_keys_survive_escaping(const std::vector<std::string>& keys) {
  // The DeleteObjects request body, read back by the DeleteResult parser: its
  // <Object> elements renamed to <Deleted> (key text is escaped, so no '<' in it).
  std::string body = s3::build_delete_objects(keys, true);
  const auto rename = [&](std::string_view from, std::string_view to) {
    for (auto at = body.find(from); at != std::string::npos; at = body.find(from, at + to.size()))
      body.replace(at, from.size(), to);
  };
  rename("<Delete ", "<DeleteResult ");
  rename("</Delete>", "</DeleteResult>");
  rename("<Object>", "<Deleted>");
  rename("</Object>", "</Deleted>");
  auto back = s3::parse_delete_objects(body);
  SLUICE_FUZZ_CHECK(back && back->deleted == keys);
  // A listing without encoding-type=url carries the keys escaped.
  std::string listing = "<ListBucketResult>";
  for (const auto& k : keys) listing += "<Contents>" + element("Key", k) + "<Size>0</Size></Contents>";
  listing += "</ListBucketResult>";
  auto page = s3::parse_list_objects_v2(listing, true);
  SLUICE_FUZZ_CHECK(page && page->objects.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) SLUICE_FUZZ_CHECK(page->objects[i].key == keys[i]);
}

}  // namespace

// ListMultipartUploads and ListParts: contracts, then written back and parsed again.
void check_upload_listings(std::string_view xml) {
  for (bool encoded : {false, true}) {
    auto page = s3::parse_list_multipart_uploads(xml, encoded);
    check_error_kind(page, false);
    if (!page) continue;
    SLUICE_FUZZ_CHECK(!page->truncated || !page->next_key_marker.empty());
    std::string again = "<ListMultipartUploadsResult>" + element("EncodingType", "url");
    bool ok = representable(page->next_key_marker + page->next_upload_id_marker);
    for (const auto& u : page->uploads) {
      SLUICE_FUZZ_CHECK(!u.key.empty() && !u.upload_id.empty());
      ok = ok && representable(u.key + u.upload_id + u.initiated);
      again += "<Upload>" + element("Key", s3::encode_query_component(u.key)) +
               element("UploadId", u.upload_id) + element("Initiated", u.initiated) + "</Upload>";
    }
    again += element("IsTruncated", page->truncated ? "true" : "false") +
             element("NextKeyMarker", s3::encode_query_component(page->next_key_marker)) +
             element("NextUploadIdMarker", page->next_upload_id_marker) + "</ListMultipartUploadsResult>";
    if (!ok) continue;
    auto reparsed = s3::parse_list_multipart_uploads(again, true);
    SLUICE_FUZZ_CHECK(reparsed);
    SLUICE_FUZZ_CHECK(reparsed->uploads.size() == page->uploads.size());
    for (std::size_t i = 0; i < page->uploads.size(); ++i)
      SLUICE_FUZZ_CHECK(reparsed->uploads[i].key == page->uploads[i].key &&
                        reparsed->uploads[i].upload_id == page->uploads[i].upload_id &&
                        reparsed->uploads[i].initiated == page->uploads[i].initiated);
    SLUICE_FUZZ_CHECK(reparsed->next_key_marker == page->next_key_marker);
  }
  auto parts = s3::parse_list_parts(xml);
  check_error_kind(parts, false);
  if (!parts) return;
  SLUICE_FUZZ_CHECK(!parts->truncated ||
                    (parts->next_part_number_marker >= 1 && parts->next_part_number_marker <= 10000));
  for (const auto& p : parts->parts) SLUICE_FUZZ_CHECK(p.part_number >= 1 && p.part_number <= 10000);
  if (auto t = s3::parse_s3_time(xml)) SLUICE_FUZZ_CHECK(*t >= -62167219200);  // not before year 0
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml = sluice::fuzz::as_text(data, size);
  check_error(xml);
  check_list_objects(xml, false);
  check_list_objects(xml, true);
  check_list_buckets(xml);
  check_multipart_and_copy(xml);
  check_delete_objects(xml);
  check_upload_listings(xml);

  // The input, and its two halves, as object keys.
  std::vector<std::string> keys;
  for (std::string_view k : {xml, xml.substr(0, size / 2), xml.substr(size / 2)}) {
    if (s3::validate_key(k)) keys.emplace_back(k);
  }
  if (!keys.empty()) check_keys_survive_escaping(keys);
  return 0;
}
