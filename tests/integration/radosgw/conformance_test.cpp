// The S3 conformance suite against Ceph's radosgw (started once per ctest run).
#include <test_servers.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

class conformance_server {
 public:
  static constexpr bool keeps_empty_path_segments = true;
  sluice::testing::s3_server server() {
    auto s = sluice::testing::radosgw_server();
    if (!s) throw std::runtime_error("radosgw is not running (run the tests through ctest)");
    return *s;
  }
};

#define SLUICE_CONFORMANCE_SUITE RadosgwConformance
#include "conformance_tests.inc"
