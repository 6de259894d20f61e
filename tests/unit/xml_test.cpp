// S3 XML parsers and builders: well-formed answers, namespaces, encodings, and
// every kind of hostile or broken input.
#include <sluice/engine/s3/error.hpp>
#include <sluice/engine/s3/xml.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace s3 = sluice::s3;

constexpr const char* list_v2 = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>data/</Prefix>
  <KeyCount>3</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>data/a.bin</Key>
    <LastModified>2024-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <Size>18446744073709551615</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>data/b &amp; c.bin</Key>
    <LastModified>2024-01-02T03:04:06.000Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e-2"</ETag>
    <Size>0</Size>
  </Contents>
  <CommonPrefixes><Prefix>data/sub/</Prefix></CommonPrefixes>
</ListBucketResult>)";

std::string list_with(const std::string& contents, const std::string& extra = "") {
  return "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + extra + "<Contents>" +
         contents + "</Contents></ListBucketResult>";
}

void expect_malformed(const sluice::error& e, const std::string& needle = "") {
  EXPECT_EQ(e.code, sluice::errc::malformed_response) << e.message;
  EXPECT_FALSE(e.message.empty());
  if (!needle.empty()) {
    EXPECT_NE(e.message.find(needle), std::string::npos) << e.message;
  }
}

TEST(Xml, list_objects_v2_reads_objects_prefixes_and_continuation) {
  auto page = s3::parse_list_objects_v2(list_v2, false);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "data/a.bin");
  EXPECT_EQ(page->objects[0].size, UINT64_MAX);
  EXPECT_EQ(page->objects[0].etag, "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(page->objects[0].last_modified, "2024-01-02T03:04:05.000Z");
  EXPECT_EQ(page->objects[1].key, "data/b & c.bin");
  EXPECT_EQ(page->objects[1].size, 0u);
  EXPECT_EQ(page->objects[1].etag, "d41d8cd98f00b204e9800998ecf8427e-2");
  ASSERT_EQ(page->common_prefixes.size(), 1u);
  EXPECT_EQ(page->common_prefixes[0], "data/sub/");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  EXPECT_EQ(page->key_count, 3u);
}

TEST(Xml, list_last_page_and_empty_listing) {
  auto last = s3::parse_list_objects_v2(
      list_with("<Key>k</Key><Size>5</Size>", "<IsTruncated>false</IsTruncated>"), false);
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_FALSE(last->truncated);
  EXPECT_TRUE(last->next_continuation_token.empty());
  EXPECT_EQ(last->key_count, 1u);  // no <KeyCount>: counted

  auto empty = s3::parse_list_objects_v2(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></"
      "ListBucketResult>",
      false);
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_TRUE(empty->common_prefixes.empty());
  EXPECT_EQ(empty->key_count, 0u);
}

TEST(Xml, list_several_common_prefixes_in_order) {
  auto page = s3::parse_list_objects_v2(
      "<ListBucketResult><CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"
      "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>c/</Prefix></"
      "CommonPrefixes>"
      "</ListBucketResult>",
      false);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/", "b/", "c/"}));
  EXPECT_EQ(page->key_count, 3u);
}

TEST(Xml, list_url_encoded_keys_and_prefixes_are_decoded) {
  auto page = s3::parse_list_objects_v2(
      "<ListBucketResult><EncodingType>url</EncodingType>"
      "<Contents><Key>dir%2Fa+b%2Bc%25%C3%A9.txt</Key><Size>1</Size></Contents>"
      "<CommonPrefixes><Prefix>sp+ace%2F</Prefix></CommonPrefixes></ListBucketResult>",
      true);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "dir/a b+c%\xC3\xA9.txt");
  EXPECT_EQ(page->common_prefixes.at(0), "sp ace/");
}

TEST(Xml, list_without_url_encoding_keeps_percent_signs) {
  auto page = s3::parse_list_objects_v2(list_with("<Key>a%2Fb+c</Key><Size>1</Size>"), false);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->objects.at(0).key, "a%2Fb+c");
}

TEST(Xml, list_requested_encoded_but_answered_plain_is_not_decoded) {
  // s3rver ignores encoding-type=url: no <EncodingType>, keys as they are.
  auto page = s3::parse_list_objects_v2(list_with("<Key>plus+sign%20x</Key><Size>1</Size>"), true);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->objects.at(0).key, "plus+sign%20x");
}

TEST(Xml, list_bad_url_encoding_is_malformed) {
  for (const char* key : {"a%2", "a%", "a%zz", "%G0"}) {
    auto page = s3::parse_list_objects_v2(
        list_with(std::string("<Key>") + key + "</Key><Size>1</Size>", "<EncodingType>url</EncodingType>"),
        true);
    ASSERT_FALSE(page) << key;
    expect_malformed(page.error(), "URL");
  }
}

TEST(Xml, list_with_prefixed_namespace_matches_local_names) {
  auto page = s3::parse_list_objects_v2(
      "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<s3:IsTruncated>false</s3:IsTruncated>"
      "<s3:Contents><s3:Key>k</s3:Key><s3:Size>42</s3:Size><s3:ETag>\"e\"</s3:ETag></s3:Contents>"
      "</s3:ListBucketResult>",
      false);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "k");
  EXPECT_EQ(page->objects[0].size, 42u);
  EXPECT_EQ(page->objects[0].etag, "e");
}

TEST(Xml, list_keeps_whitespace_and_cdata_in_keys) {
  auto spaces = s3::parse_list_objects_v2(list_with("<Key> </Key><Size>1</Size>"), false);
  ASSERT_TRUE(spaces) << spaces.error().message;
  EXPECT_EQ(spaces->objects.at(0).key, " ");
  auto cdata = s3::parse_list_objects_v2(list_with("<Key><![CDATA[a<b>&c]]></Key><Size>1</Size>"), false);
  ASSERT_TRUE(cdata) << cdata.error().message;
  EXPECT_EQ(cdata->objects.at(0).key, "a<b>&c");
  auto ref = s3::parse_list_objects_v2(list_with("<Key>a&#13;b&#x41;</Key><Size>1</Size>"), false);
  ASSERT_TRUE(ref) << ref.error().message;
  EXPECT_EQ(ref->objects.at(0).key, "a\rbA");
}

TEST(Xml, list_size_must_be_a_strict_unsigned_64_bit_number) {
  for (const char* size : {"-1", "18446744073709551616", "99999999999999999999999", "1.5", "1e3", "0x10",
                           "+5", "12abc", "", " ", "NaN"}) {
    auto page =
        s3::parse_list_objects_v2(list_with(std::string("<Key>k</Key><Size>") + size + "</Size>"), false);
    ASSERT_FALSE(page) << "size '" << size << "'";
    expect_malformed(page.error(), "Size");
  }
}

TEST(Xml, list_requires_key_and_size) {
  auto no_key = s3::parse_list_objects_v2(list_with("<Size>1</Size>"), false);
  ASSERT_FALSE(no_key);
  expect_malformed(no_key.error(), "Key");
  auto empty_key = s3::parse_list_objects_v2(list_with("<Key></Key><Size>1</Size>"), false);
  ASSERT_FALSE(empty_key);
  expect_malformed(empty_key.error(), "Key");
  auto no_size = s3::parse_list_objects_v2(list_with("<Key>k</Key>"), false);
  ASSERT_FALSE(no_size);
  expect_malformed(no_size.error(), "Size");
  auto no_prefix = s3::parse_list_objects_v2("<ListBucketResult><CommonPrefixes/></ListBucketResult>", false);
  ASSERT_FALSE(no_prefix);
  expect_malformed(no_prefix.error(), "Prefix");
}

TEST(Xml, list_truncated_without_token_is_malformed) {
  auto page = s3::parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", false);
  ASSERT_FALSE(page);
  expect_malformed(page.error(), "NextContinuationToken");
}

TEST(Xml, list_bad_booleans_and_key_counts_are_malformed) {
  auto truncated =
      s3::parse_list_objects_v2("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>", false);
  ASSERT_FALSE(truncated);
  expect_malformed(truncated.error(), "IsTruncated");
  auto count =
      s3::parse_list_objects_v2("<ListBucketResult><KeyCount>-3</KeyCount></ListBucketResult>", false);
  ASSERT_FALSE(count);
  expect_malformed(count.error(), "KeyCount");
}

TEST(Xml, list_wrong_root_names_both_roots) {
  auto page = s3::parse_list_objects_v2("<ListAllMyBucketsResult/>", false);
  ASSERT_FALSE(page);
  expect_malformed(page.error(), "ListBucketResult");
  EXPECT_NE(page.error().message.find("ListAllMyBucketsResult"), std::string::npos);
}

TEST(Xml, list_truncated_document_is_malformed_at_every_cut) {
  const std::string full = list_v2;
  // Every proper prefix that ends inside the root element must fail, never crash.
  size_t root_end = full.rfind("</ListBucketResult>");
  for (size_t cut = 0; cut < root_end; cut += 7) {
    auto page = s3::parse_list_objects_v2(std::string_view(full).substr(0, cut), false);
    ASSERT_FALSE(page) << "cut at " << cut;
    EXPECT_EQ(page.error().code, sluice::errc::malformed_response) << "cut at " << cut;
  }
  // The parser honours the explicit size: a full document followed by bytes outside the view.
  std::string padded = full + "<junk>";
  auto page = s3::parse_list_objects_v2(std::string_view(padded).substr(0, full.size()), false);
  EXPECT_TRUE(page) << page.error().message;
}

TEST(Xml, garbage_empty_and_odd_documents_are_malformed) {
  const std::vector<std::string> inputs = {
      "",
      "   \n\t ",
      "not xml at all",
      "<",
      "<ListBucketResult",
      "<ListBucketResult><Contents></ListBucketResult>",
      "<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>",
      "<ListBucketResult/>trailing text",
      std::string("\0\0\0\0", 4),
      "\xff\xfe\x00<\x00",
      "<?xml version=\"1.0\"?>",
      "<!-- only a comment -->",
  };
  for (const std::string& in : inputs) {
    auto page = s3::parse_list_objects_v2(in, false);
    ASSERT_FALSE(page) << "input: " << in;
    EXPECT_EQ(page.error().code, sluice::errc::malformed_response) << "input: " << in;
    EXPECT_FALSE(s3::parse_error(in));
    EXPECT_FALSE(s3::parse_list_buckets(in));
    EXPECT_FALSE(s3::parse_initiate_multipart(in));
    EXPECT_FALSE(s3::parse_complete_multipart(in));
    EXPECT_FALSE(s3::parse_copy_object(in));
    EXPECT_FALSE(s3::parse_delete_objects(in));
  }
}

TEST(Xml, random_bytes_never_crash) {
  uint32_t x = 12345;
  std::string base = list_v2;
  for (int round = 0; round < 300; ++round) {
    std::string in = base;
    for (int flips = 0; flips < 5; ++flips) {
      x = x * 1664525u + 1013904223u;
      in[x % in.size()] = static_cast<char>(x >> 24);
    }
    auto page = s3::parse_list_objects_v2(in, round % 2 == 0);
    if (!page) {
      EXPECT_EQ(page.error().code, sluice::errc::malformed_response);
    }
    (void)s3::parse_error(in);
    (void)s3::parse_complete_multipart(in);
  }
}

TEST(Xml, error_document_fields) {
  auto body = s3::parse_error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
<Key>a/b.txt</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>)");
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->code, "NoSuchKey");
  EXPECT_EQ(body->message, "The specified key does not exist.");
  EXPECT_EQ(body->request_id, "4442587FB7D0A2F9");
  EXPECT_EQ(body->resource, "a/b.txt");

  auto with_resource =
      s3::parse_error("<Error><Code>NoSuchBucket</Code><Resource>/nope</Resource><Key>k</Key></Error>");
  ASSERT_TRUE(with_resource);
  EXPECT_EQ(with_resource->resource, "/nope");
  EXPECT_TRUE(with_resource->message.empty());
}

TEST(Xml, error_response_wrapper_is_understood) {
  auto body = s3::parse_error(
      "<ErrorResponse><Error><Code>SlowDown</Code><Message>m</Message></Error><RequestId>R1</RequestId>"
      "</ErrorResponse>");
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(body->code, "SlowDown");
  EXPECT_EQ(body->request_id, "R1");
}

TEST(Xml, error_document_requires_code_and_error_root) {
  auto no_code = s3::parse_error("<Error><Message>m</Message></Error>");
  ASSERT_FALSE(no_code);
  expect_malformed(no_code.error(), "Code");
  auto wrong = s3::parse_error("<html><body>502 Bad Gateway</body></html>");
  ASSERT_FALSE(wrong);
  expect_malformed(wrong.error(), "html");
}

TEST(Xml, list_buckets) {
  auto buckets =
      s3::parse_list_buckets(R"(<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Owner><ID>o</ID><DisplayName>d</DisplayName></Owner>
<Buckets><Bucket><Name>one</Name><CreationDate>2020-01-01T00:00:00.000Z</CreationDate></Bucket>
<Bucket><Name>two</Name><CreationDate>2021-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>
</ListAllMyBucketsResult>)");
  ASSERT_TRUE(buckets) << buckets.error().message;
  ASSERT_EQ(buckets->size(), 2u);
  EXPECT_EQ((*buckets)[0].name, "one");
  EXPECT_EQ((*buckets)[0].creation_date, "2020-01-01T00:00:00.000Z");
  EXPECT_EQ((*buckets)[1].name, "two");

  auto none = s3::parse_list_buckets("<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto no_name =
      s3::parse_list_buckets("<ListAllMyBucketsResult><Buckets><Bucket/></Buckets></ListAllMyBucketsResult>");
  ASSERT_FALSE(no_name);
  expect_malformed(no_name.error(), "Name");
}

TEST(Xml, initiate_multipart) {
  auto id = s3::parse_initiate_multipart(
      "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
      "<Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>");
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "VXBsb2FkIElE");
  auto missing = s3::parse_initiate_multipart(
      "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>");
  ASSERT_FALSE(missing);
  expect_malformed(missing.error(), "UploadId");
  auto empty = s3::parse_initiate_multipart(
      "<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>");
  ASSERT_FALSE(empty);
  expect_malformed(empty.error(), "UploadId");
}

TEST(Xml, complete_multipart_success_returns_the_etag) {
  // S3 may send whitespace before the document while it works (keep-alive).
  auto etag = s3::parse_complete_multipart(
      "\n   \n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>http://b.s3/k</Location><Bucket>b</Bucket>"
      "<Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></"
      "CompleteMultipartUploadResult>");
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(*etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
}

TEST(Xml, complete_multipart_error_in_200_is_a_typed_s3_error) {
  auto r = s3::parse_complete_multipart(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message>"
      "<RequestId>656c76696e6727732072657175657374</RequestId><HostId>Uuag1L=</HostId></Error>");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, s3::errc::internal_error);
  EXPECT_NE(r.error().message.find("InternalError"), std::string::npos);
  EXPECT_NE(r.error().message.find("We encountered an internal error"), std::string::npos);
  EXPECT_EQ(r.error().request_id, "656c76696e6727732072657175657374");
  EXPECT_TRUE(s3::is_retryable(r.error()));

  auto part = s3::parse_complete_multipart("<Error><Code>InvalidPart</Code><Message>m</Message></Error>");
  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, s3::errc::invalid_part);
  EXPECT_FALSE(s3::is_retryable(part.error()));

  auto unknown = s3::parse_complete_multipart("<Error><Code>Weird</Code><Message>m</Message></Error>");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, s3::errc::other);
  EXPECT_NE(unknown.error().message.find("Weird"), std::string::npos);
}

TEST(Xml, complete_multipart_with_an_empty_etag_is_accepted_as_empty) {
  // radosgw sends <ETag></ETag>; the client then asks HEAD for it.
  auto etag = s3::parse_complete_multipart(
      "<CompleteMultipartUploadResult><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>");
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(*etag, "");
}

TEST(Xml, complete_multipart_malformed_answers) {
  auto no_etag = s3::parse_complete_multipart(
      "<CompleteMultipartUploadResult><Key>k</Key></CompleteMultipartUploadResult>");
  ASSERT_FALSE(no_etag);
  expect_malformed(no_etag.error(), "ETag");
  auto error_without_code = s3::parse_complete_multipart("<Error><Message>m</Message></Error>");
  ASSERT_FALSE(error_without_code);
  expect_malformed(error_without_code.error(), "Code");
  auto wrong = s3::parse_complete_multipart("<CopyObjectResult><ETag>x</ETag></CopyObjectResult>");
  ASSERT_FALSE(wrong);
  expect_malformed(wrong.error(), "CompleteMultipartUploadResult");
  // Truncated after the keep-alive whitespace: the connection died while S3 worked.
  auto cut =
      s3::parse_complete_multipart("\n \n <?xml version=\"1.0\"?><CompleteMultipartUploadResult><ETag>\"a");
  ASSERT_FALSE(cut);
  expect_malformed(cut.error());
}

TEST(Xml, copy_object_etag_and_error_in_200) {
  auto etag = s3::parse_copy_object(
      "<CopyObjectResult><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
      "<ETag>\"9b2cf535f27731c974343645a3985328\"</ETag></CopyObjectResult>");
  ASSERT_TRUE(etag) << etag.error().message;
  EXPECT_EQ(*etag, "\"9b2cf535f27731c974343645a3985328\"");
  auto part = s3::parse_copy_object("<CopyPartResult><ETag>\"p\"</ETag></CopyPartResult>");
  ASSERT_TRUE(part);
  EXPECT_EQ(*part, "\"p\"");

  auto err = s3::parse_copy_object(
      "<Error><Code>SlowDown</Code><Message>Reduce your request "
      "rate.</Message><RequestId>RID</RequestId></Error>");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().code, s3::errc::slow_down);
  EXPECT_NE(err.error().message.find("SlowDown"), std::string::npos);
  EXPECT_NE(err.error().message.find("Reduce your request rate."), std::string::npos);
  EXPECT_EQ(err.error().request_id, "RID");
}

TEST(Xml, build_complete_multipart_escapes_and_round_trips_through_a_parser) {
  std::string body = s3::build_complete_multipart({{1, "\"abc\""}, {2, "\"d<e>&f\""}});
  EXPECT_NE(body.find("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"),
            std::string::npos);
  EXPECT_NE(body.find("<Part><PartNumber>1</PartNumber><ETag>&quot;abc&quot;</ETag></Part>"),
            std::string::npos);
  EXPECT_NE(body.find("<ETag>&quot;d&lt;e&gt;&amp;f&quot;</ETag>"), std::string::npos);
  EXPECT_LT(body.find("<PartNumber>1<"), body.find("<PartNumber>2<"));
  EXPECT_EQ(body.find("d<e>"), std::string::npos);
}

TEST(Xml, build_delete_objects_escapes_keys_and_sets_quiet) {
  std::string quiet = s3::build_delete_objects({"a&b", "<x>", "it's \"q\"", "cr\r\nlf"}, true);
  EXPECT_NE(quiet.find("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"),
            std::string::npos);
  EXPECT_NE(quiet.find("<Object><Key>a&amp;b</Key></Object>"), std::string::npos);
  EXPECT_NE(quiet.find("<Key>&lt;x&gt;</Key>"), std::string::npos);
  EXPECT_NE(quiet.find("<Key>it&apos;s &quot;q&quot;</Key>"), std::string::npos);
  EXPECT_NE(quiet.find("<Key>cr&#13;\nlf</Key>"), std::string::npos);
  EXPECT_EQ(quiet.find('\r'), std::string::npos);
  std::string loud = s3::build_delete_objects({"k"}, false);
  EXPECT_EQ(loud.find("Quiet"), std::string::npos);
  EXPECT_NE(loud.find("<Object><Key>k</Key></Object></Delete>"), std::string::npos);
}

TEST(Xml, escaped_keys_come_back_identical_through_the_parser) {
  // What build_* writes, the same parser reads back byte for byte (CR included).
  const std::string key = "we<ird> & 'key' \"x\"\r\n\tend";
  std::string doc = "<ListBucketResult><Contents><Key>" + s3::xml_escape(key) +
                    "</Key><Size>1</Size></Contents></ListBucketResult>";
  auto page = s3::parse_list_objects_v2(doc, false);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->objects.at(0).key, key);
}

TEST(Xml, xml_escape_leaves_plain_text_alone) {
  EXPECT_EQ(s3::xml_escape("plain/key-1.txt \xC3\xA9"), "plain/key-1.txt \xC3\xA9");
  EXPECT_EQ(s3::xml_escape(""), "");
  EXPECT_EQ(s3::xml_escape("&&"), "&amp;&amp;");
}

TEST(Xml, delete_objects_result) {
  auto r = s3::parse_delete_objects(R"(<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Deleted><Key>a</Key></Deleted>
<Error><Key>b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
<Deleted><Key>c &amp; d</Key><DeleteMarker>true</DeleteMarker></Deleted>
</DeleteResult>)");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->deleted, (std::vector<std::string>{"a", "c & d"}));
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0].key, "b");
  EXPECT_EQ(r->errors[0].code, "AccessDenied");
  EXPECT_EQ(r->errors[0].message, "Access Denied");

  auto quiet = s3::parse_delete_objects("<DeleteResult/>");
  ASSERT_TRUE(quiet);
  EXPECT_TRUE(quiet->deleted.empty());
  EXPECT_TRUE(quiet->errors.empty());
}

TEST(Xml, delete_objects_requires_keys_and_codes) {
  auto no_key = s3::parse_delete_objects("<DeleteResult><Deleted></Deleted></DeleteResult>");
  ASSERT_FALSE(no_key);
  expect_malformed(no_key.error(), "Key");
  auto no_code = s3::parse_delete_objects("<DeleteResult><Error><Key>k</Key></Error></DeleteResult>");
  ASSERT_FALSE(no_code);
  expect_malformed(no_code.error(), "Code");
  auto wrong = s3::parse_delete_objects("<Error><Code>AccessDenied</Code></Error>");
  ASSERT_FALSE(wrong);
  expect_malformed(wrong.error(), "DeleteResult");
}

TEST(Xml, entities_from_a_doctype_are_not_expanded) {
  // No internal or external entity expansion (no billion laughs, no XXE): the reference stays literal.
  auto page = s3::parse_list_objects_v2(
      "<!DOCTYPE x [<!ENTITY big \"BIGBIGBIG\"><!ENTITY ext SYSTEM \"file:///etc/passwd\">]>"
      "<ListBucketResult><Contents><Key>&big;&ext;</Key><Size>1</Size></Contents></ListBucketResult>",
      false);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->objects.at(0).key, "&big;&ext;");
}

TEST(Xml, a_large_listing_parses) {
  std::string doc = "<ListBucketResult><IsTruncated>false</IsTruncated>";
  for (int i = 0; i < 1000; ++i) {
    doc += "<Contents><Key>k" + std::to_string(i) + "</Key><Size>" + std::to_string(i * 1000003ull) +
           "</Size><ETag>\"e\"</ETag></Contents>";
  }
  doc += "</ListBucketResult>";
  auto page = s3::parse_list_objects_v2(doc, false);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->objects.size(), 1000u);
  EXPECT_EQ(page->objects[999].key, "k999");
  EXPECT_EQ(page->objects[999].size, 999u * 1000003ull);
}

TEST(Xml, a_document_is_complete_only_when_its_root_element_closes) {
  for (std::string_view whole :
       {"<ListBucketResult><Key>a</Key></ListBucketResult>", "<ListBucketResult/>", "<DeleteResult />\r\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><ListBucketResult>x</ListBucketResult >\n",
        "\xEF\xBB\xBF<A xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><B/></A>",
        "<!DOCTYPE x [<!ENTITY big \"B\">]><A>&big;</A>"})
    EXPECT_TRUE(s3::check_complete_document(whole)) << whole;
  const std::string doc = "<?xml version=\"1.0\"?><ListBucketResult><Key>a</Key></ListBucketResult>";
  for (std::size_t cut = 0; cut < doc.size(); ++cut) {  // every prefix is cut short
    auto r = s3::check_complete_document(doc.substr(0, cut));
    ASSERT_FALSE(r) << "cut at " << cut;
    EXPECT_EQ(r.error().code, sluice::errc::truncated_response);
  }
  // Another element closing last is not the root closing.
  EXPECT_FALSE(s3::check_complete_document("<ListBucketResult><Contents><Key>a</Key></Contents>"));
}

}  // namespace
