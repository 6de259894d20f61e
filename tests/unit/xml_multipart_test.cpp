// ListMultipartUploads and ListParts answers: well-formed pages, pagination
// markers, URL-encoded keys, and the broken answers that must be refused.
#include <sluice/engine/runtime/result.hpp>
#include <sluice/engine/s3/xml.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

namespace s3 = sluice::s3;
using sluice::errc;

constexpr const char* uploads_page = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket>
  <KeyMarker></KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>runs/b%2Bc.nc</NextKeyMarker>
  <NextUploadIdMarker>2~xyz</NextUploadIdMarker>
  <EncodingType>url</EncodingType>
  <MaxUploads>2</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>runs/a+b.nc</Key>
    <UploadId>2~abc</UploadId>
    <Initiator><ID>me</ID></Initiator>
    <Initiated>2026-11-30T10:00:00.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>runs/b%2Bc.nc</Key>
    <UploadId>2~xyz</UploadId>
    <Initiated>2026-12-01T09:30:00.000Z</Initiated>
  </Upload>
</ListMultipartUploadsResult>)";

TEST(XmlMultipart, list_multipart_uploads_reads_keys_ids_times_and_markers) {
  auto page = s3::parse_list_multipart_uploads(uploads_page, true);
  ASSERT_TRUE(page) << page.error().describe();
  ASSERT_EQ(page->uploads.size(), 2u);
  EXPECT_EQ(page->uploads[0].key, "runs/a b.nc");
  EXPECT_EQ(page->uploads[0].upload_id, "2~abc");
  EXPECT_EQ(page->uploads[0].initiated, "2026-11-30T10:00:00.000Z");
  EXPECT_EQ(page->uploads[1].key, "runs/b+c.nc");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "runs/b+c.nc");
  EXPECT_EQ(page->next_upload_id_marker, "2~xyz");
}

TEST(XmlMultipart, list_multipart_uploads_keys_stay_raw_when_the_server_did_not_encode) {
  std::string xml = uploads_page;
  xml.replace(xml.find("<EncodingType>url</EncodingType>"), 32, "");
  auto page = s3::parse_list_multipart_uploads(xml, true);
  ASSERT_TRUE(page) << page.error().describe();
  EXPECT_EQ(page->uploads[0].key, "runs/a+b.nc");
}

TEST(XmlMultipart, an_empty_listing_has_no_uploads) {
  auto page = s3::parse_list_multipart_uploads(
      "<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated>"
      "</ListMultipartUploadsResult>",
      true);
  ASSERT_TRUE(page) << page.error().describe();
  EXPECT_TRUE(page->uploads.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(XmlMultipart, broken_upload_listings_are_malformed) {
  for (const char* xml : {
           "",
           "<ListBucketResult/>",
           "<ListMultipartUploadsResult><Upload><UploadId>1</UploadId></Upload></ListMultipartUploadsResult>",
           "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>",
           "<ListMultipartUploadsResult><IsTruncated>maybe</IsTruncated></ListMultipartUploadsResult>",
           // Truncated without a marker: going on would restart the listing forever.
           "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>",
           "<ListMultipartUploadsResult><EncodingType>url</EncodingType><Upload><Key>%zz</Key>"
           "<UploadId>1</UploadId></Upload></ListMultipartUploadsResult>",
       }) {
    auto page = s3::parse_list_multipart_uploads(xml, true);
    EXPECT_FALSE(page) << xml;
    if (!page) {
      EXPECT_EQ(page.error().code, errc::malformed_response) << xml;
    }
  }
}

constexpr const char* parts_page = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket>
  <Key>big.bin</Key>
  <UploadId>2~abc</UploadId>
  <PartNumberMarker>0</PartNumberMarker>
  <NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>1</PartNumber>
    <LastModified>2026-12-01T09:30:01.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <Size>8388608</Size>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag>
    <Size>5</Size>
  </Part>
</ListPartsResult>)";

TEST(XmlMultipart, list_parts_reads_numbers_sizes_etags_and_the_next_marker) {
  auto page = s3::parse_list_parts(parts_page);
  ASSERT_TRUE(page) << page.error().describe();
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_EQ(page->parts[0].part_number, 1);
  EXPECT_EQ(page->parts[0].size, 8388608u);
  EXPECT_EQ(page->parts[0].etag, "9b2cf535f27731c974343645a3985328");
  EXPECT_EQ(page->parts[1].part_number, 2);
  EXPECT_EQ(page->parts[1].size, 5u);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_part_number_marker, 2);
}

TEST(XmlMultipart, broken_part_listings_are_malformed) {
  for (const char* xml : {
           "<ListPartsResult><Part><Size>1</Size><ETag>x</ETag></Part></ListPartsResult>",
           "<ListPartsResult><Part><PartNumber>0</PartNumber><Size>1</Size><ETag>x</ETag></Part>"
           "</ListPartsResult>",
           "<ListPartsResult><Part><PartNumber>10001</PartNumber><Size>1</Size><ETag>x</ETag></Part>"
           "</ListPartsResult>",
           "<ListPartsResult><Part><PartNumber>1</PartNumber><Size>-1</Size><ETag>x</ETag></Part>"
           "</ListPartsResult>",
           "<ListPartsResult><Part><PartNumber>1</PartNumber><Size>1</Size></Part></ListPartsResult>",
           "<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>",
           "<Error><Code>NoSuchUpload</Code></Error>",
       }) {
    auto page = s3::parse_list_parts(xml);
    EXPECT_FALSE(page) << xml;
    if (!page) {
      EXPECT_EQ(page.error().code, errc::malformed_response) << xml;
    }
  }
}

}  // namespace

namespace {

TEST(XmlMultipart, s3_times_read_as_unix_seconds) {
  EXPECT_EQ(s3::parse_s3_time("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(s3::parse_s3_time("2026-12-01T09:30:00.000Z"), 1796117400);
  EXPECT_EQ(s3::parse_s3_time("2000-02-29T12:00:01Z"), 951825601);
  for (const char* bad : {"", "2026-12-01", "2026-13-01T00:00:00Z", "2026-12-01T09:30:00.000",
                          "2026-12-01T09:30:00.Z", "2026-12-01 09:30:00Z", "20x6-12-01T09:30:00Z"})
    EXPECT_FALSE(s3::parse_s3_time(bad)) << bad;
}

}  // namespace

namespace {

TEST(XmlMultipart, s3_times_before_the_epoch_and_in_year_zero_are_exact) {
  EXPECT_EQ(s3::parse_s3_time("0000-01-01T00:00:00Z"), -62167219200);
  EXPECT_EQ(s3::parse_s3_time("1969-12-31T23:59:59Z"), -1);
}

}  // namespace
