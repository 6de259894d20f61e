// One conformance suite for every store driver (TensorStore's kvstore test_util
// is the model): functions over a store, called from each driver's tests.
//
// A driver's test file defines a GoogleTest fixture class with a member
// `sluice::store_tests::store_fixture& fixture()` and registers every check
// with SLUICE_STORE_CONFORMANCE_TESTS(FixtureClass). Each check writes under
// its own key prefix, so a fixture may share one store across checks.
#pragma once

#include <sluice/engine/runtime/engine.hpp>
#include <sluice/store/store.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>

namespace sluice::store_tests {

struct store_fixture {
  std::shared_ptr<store::store> s;
  engine* eng = nullptr;
  // Sizes around which the driver changes strategy (the S3 driver's part
  // size): values of part_size - 1, part_size and part_size + 1 are checked.
  std::size_t part_size = std::size_t(1) << 20;
  // Keys with empty segments ("a//b") round-trip (S3 servers that keep them);
  // otherwise they must be refused with invalid_argument or round-trip.
  bool keeps_empty_segments = true;
  // "a" and "a/b" may both hold values (S3, memory); a directory cannot have
  // a file and a directory of one name.
  bool value_may_share_a_prefix_name = true;
  // Delimiter listings find every common prefix, in byte order. s3rver's do
  // not (it walks its directories and misses prefixes of keys two levels
  // down): the check is skipped there, and runs on radosgw.
  bool faithful_delimiter_listing = true;
  // Keys written by a check go under this prefix (+ the check's name).
  std::string prefix = "conformance/";

  template <class T>
  T run(boost::asio::awaitable<T> work) {
    return eng->run(std::move(work));
  }
};

void read_write_round_trips_sizes(store_fixture& f);
void missing_keys_are_a_state_not_an_error(store_fixture& f);
void byte_ranges(store_fixture& f);
void ranges_of_one_value(store_fixture& f);
void conditional_writes_and_removes(store_fixture& f);
void conditional_reads(store_fixture& f);
void concurrent_creates_have_one_winner(store_fixture& f);
void listing_streams_pages_in_key_order(store_fixture& f);
void listing_one_level_with_a_delimiter(store_fixture& f);
void prefix_remove_spares_siblings(store_fixture& f);
void odd_keys_round_trip(store_fixture& f);
void copy_and_move(store_fixture& f);
void metadata_is_kept_or_refused(store_fixture& f);
void file_transfers_round_trip(store_fixture& f);
void stream_writes_round_trip(store_fixture& f);
void invalid_keys_are_refused(store_fixture& f);

}  // namespace sluice::store_tests

#define SLUICE_STORE_CONFORMANCE_TEST(Fixture, name) \
  TEST_F(Fixture, name) {                            \
    ::sluice::store_tests::name(fixture());          \
  }

#define SLUICE_STORE_CONFORMANCE_TESTS(Fixture)                                 \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, read_write_round_trips_sizes)          \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, missing_keys_are_a_state_not_an_error) \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, byte_ranges)                           \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, ranges_of_one_value)                   \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, conditional_writes_and_removes)        \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, conditional_reads)                     \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, concurrent_creates_have_one_winner)    \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, listing_streams_pages_in_key_order)    \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, listing_one_level_with_a_delimiter)    \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, prefix_remove_spares_siblings)         \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, odd_keys_round_trip)                   \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, copy_and_move)                         \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, metadata_is_kept_or_refused)           \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, file_transfers_round_trip)             \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, stream_writes_round_trip)              \
  SLUICE_STORE_CONFORMANCE_TEST(Fixture, invalid_keys_are_refused)
