// Parsing of the S3 XML answers sluice needs (pugixml). Every parser accepts
// arbitrary bytes and returns malformed_response on anything that is not the
// expected document: never a crash, never an exception.
#pragma once

#include <sluice/engine/runtime/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::s3 {

struct error_body {
  std::string code;        // "NoSuchKey"
  std::string message;     // server's text
  std::string request_id;  // <RequestId>
  std::string resource;    // <Resource> or <Key>
};
// <Error><Code>..</Code><Message>..</Message><RequestId>..</RequestId></Error>
result<error_body> parse_error(std::string_view xml);

// Whether an answer's XML document is whole: something is there and its root
// element closes at the end (trailing whitespace aside). An answer cut short (a
// lying Content-Length, a connection closed at the length it announced) is
// truncated_response, which is retried like any transport fault. Only the ends
// are looked at (S3's root elements never nest in themselves); everything else
// about the document is left to the parser that reads it.
result<void> check_complete_document(std::string_view xml);

struct object_summary {
  std::string key;
  uint64_t size = 0;
  std::string etag;           // with quotes stripped
  std::string last_modified;  // as sent (ISO 8601)
};
struct list_page {
  std::vector<object_summary> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;
  uint64_t key_count = 0;
};
// ListObjectsV2 result. When the request used encoding-type=url, pass
// url_encoded=true: keys and prefixes are decoded when the answer says
// <EncodingType>url</EncodingType> (servers that ignore the request send
// them unencoded, and decoding those would corrupt '+' and '%').
result<list_page> parse_list_objects_v2(std::string_view xml, bool url_encoded);

struct bucket_entry {
  std::string name;
  std::string creation_date;
};
// ListBuckets (GET /).
result<std::vector<bucket_entry>> parse_list_buckets(std::string_view xml);

// CreateMultipartUpload -> UploadId.
result<std::string> parse_initiate_multipart(std::string_view xml);

struct completed_part {
  int part_number = 0;
  std::string etag;  // as returned by UploadPart (with quotes)
};
// Body of CompleteMultipartUpload.
std::string build_complete_multipart(const std::vector<completed_part>& parts);
// CompleteMultipartUpload answers 200 with either <CompleteMultipartUploadResult>
// (-> ETag) or an <Error> document (-> the error, typed like any S3 error).
result<std::string> parse_complete_multipart(std::string_view xml);

// CopyObject answers 200 with <CopyObjectResult><ETag> or an <Error> body.
result<std::string> parse_copy_object(std::string_view xml);

// DeleteObjects: request body for up to 1000 keys (quiet mode) and the answer.
std::string build_delete_objects(const std::vector<std::string>& keys, bool quiet);
struct delete_failure {
  std::string key;
  std::string code;
  std::string message;
};
struct delete_result {
  std::vector<std::string> deleted;
  std::vector<delete_failure> errors;
};
result<delete_result> parse_delete_objects(std::string_view xml);

// ListMultipartUploads: the uploads begun and neither completed nor aborted.
struct multipart_upload_entry {
  std::string key;
  std::string upload_id;
  std::string initiated;  // as sent (ISO 8601)
};
struct multipart_uploads_page {
  std::vector<multipart_upload_entry> uploads;
  bool truncated = false;
  std::string next_key_marker;  // with next_upload_id_marker: where the next page starts
  std::string next_upload_id_marker;
};
// ListMultipartUploadsResult. `url_encoded` as for ListObjectsV2 (keys decoded when the answer
// says <EncodingType>url</EncodingType>). A truncated page without <NextKeyMarker> is malformed.
result<multipart_uploads_page> parse_list_multipart_uploads(std::string_view xml, bool url_encoded);

// ListParts: the parts an upload holds so far.
struct uploaded_part {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // quotes stripped
};
struct parts_page {
  std::vector<uploaded_part> parts;
  bool truncated = false;
  int next_part_number_marker = 0;
};
// ListPartsResult. Part numbers must be 1..10000 and sizes unsigned 64-bit numbers.
result<parts_page> parse_list_parts(std::string_view xml);

// An S3 timestamp ("2026-12-01T09:30:00.000Z", as in <Initiated> and <LastModified>) as seconds
// since the Unix epoch; nullopt when it is not one.
std::optional<int64_t> parse_s3_time(std::string_view text);

// Escapes text for XML character data (&, <, >, ", ').
std::string xml_escape(std::string_view s);

}  // namespace sluice::s3
