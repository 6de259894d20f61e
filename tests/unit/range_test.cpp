// Range request headers and Content-Range answers.
#include <sluice/engine/s3/range.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

namespace s3 = sluice::s3;

TEST(Range, format_closed_open_and_suffix_ranges) {
  EXPECT_EQ(s3::format_range(s3::byte_range::between(0, 9)).value(), "bytes=0-9");
  EXPECT_EQ(s3::format_range(s3::byte_range::between(5, 5)).value(), "bytes=5-5");
  EXPECT_EQ(s3::format_range(s3::byte_range::from(100)).value(), "bytes=100-");
  EXPECT_EQ(s3::format_range(s3::byte_range::last_bytes(500)).value(), "bytes=-500");
  EXPECT_EQ(s3::format_range(s3::byte_range::between(0, UINT64_MAX - 1)).value(),
            "bytes=0-18446744073709551614");
}

TEST(Range, format_rejects_reversed_and_empty_suffix) {
  auto reversed = s3::format_range(s3::byte_range::between(10, 9));
  ASSERT_FALSE(reversed);
  EXPECT_EQ(reversed.error().code, sluice::errc::invalid_argument);
  auto zero = s3::format_range(s3::byte_range::last_bytes(0));
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, sluice::errc::invalid_argument);
}

TEST(Range, parse_satisfied_range) {
  auto r = s3::parse_content_range("bytes 0-9/1234");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 9u);
  EXPECT_EQ(r->total, 1234u);

  auto last_byte = s3::parse_content_range("bytes 1233-1233/1234");
  ASSERT_TRUE(last_byte);
  EXPECT_EQ(last_byte->first, 1233u);

  auto big = s3::parse_content_range("bytes 0-18446744073709551614/18446744073709551615");
  ASSERT_TRUE(big) << big.error().message;
  EXPECT_EQ(big->last, UINT64_MAX - 1);
  EXPECT_EQ(big->total, UINT64_MAX);
}

TEST(Range, parse_unknown_total_and_unsatisfied_range) {
  auto unknown = s3::parse_content_range("bytes 10-19/*");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->first, 10u);
  EXPECT_EQ(unknown->last, 19u);
  EXPECT_FALSE(unknown->total.has_value());

  auto unsatisfied = s3::parse_content_range("bytes */1234");
  ASSERT_TRUE(unsatisfied);
  EXPECT_FALSE(unsatisfied->first.has_value());
  EXPECT_FALSE(unsatisfied->last.has_value());
  EXPECT_EQ(unsatisfied->total, 1234u);

  auto empty_object = s3::parse_content_range("bytes */0");
  ASSERT_TRUE(empty_object);
  EXPECT_EQ(empty_object->total, 0u);
}

TEST(Range, parse_tolerates_surrounding_whitespace_and_unit_case) {
  auto r = s3::parse_content_range("  Bytes 1-2/3\t");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->first, 1u);
  EXPECT_EQ(r->total, 3u);
}

TEST(Range, parse_rejects_everything_else) {
  for (const char* bad : {
           "",
           "bytes",
           "bytes ",
           "0-9/10",                                             // no unit
           "items 0-9/10",                                       // wrong unit
           "bytes=0-9/10",                                       // request syntax
           "bytes 0-9",                                          // no total
           "bytes 9-0/10",                                       // last < first
           "bytes 0-10/10",                                      // last >= total
           "bytes 5-5/5",                                        // last >= total
           "bytes 0-9/0",                                        // nothing fits in an empty object
           "bytes */*",                                          // nothing known
           "bytes -1-9/10",                                      // sign
           "bytes +0-9/10",                                      // sign
           "bytes 0-+9/10",                                      // sign
           "bytes 0-9/+10",                                      // sign
           "bytes 0-9/-10",                                      // sign
           "bytes 0 -9/10",                                      // inner space
           "bytes  0-9/10",                                      // two spaces
           "bytes 0-9 /10",                                      // inner space
           "bytes 0x0-0x9/0x10",                                 // hex
           "bytes 0-9/1e3",                                      // exponent
           "bytes 0-9/10/11",                                    // extra
           "bytes a-b/c",                                        // letters
           "bytes 0-/10",                                        // open end
           "bytes -9/10",                                        // suffix form is request-only
           "bytes 0-18446744073709551616/18446744073709551617",  // overflow
           "bytes 0-9/18446744073709551616",                     // overflow
           "bytes 0-9/99999999999999999999999999",               // overflow
       }) {
    auto r = s3::parse_content_range(bad);
    EXPECT_FALSE(r) << "'" << bad << "' parsed";
    if (!r) {
      EXPECT_EQ(r.error().code, sluice::errc::malformed_response) << bad;
    }
  }
}

}  // namespace
