// The S3 conformance suite against s3rver, one fresh server per test.
#include <test_servers.hpp>

class conformance_server {
 public:
  // s3rver answers 404 to keys with "//" (it collapses the path)
  static constexpr bool keeps_empty_path_segments = false;
  sluice::testing::s3_server server() { return proc_.server(); }

 private:
  sluice::testing::s3rver_process proc_;
};

#define SLUICE_CONFORMANCE_SUITE S3rverConformance
#include "conformance_tests.inc"
