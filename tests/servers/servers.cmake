# Test S3 servers for the integration tests (see tests/servers/README.md). Included by
# tests/CMakeLists.txt.
#
# radosgw: one throwaway Ceph cluster for the whole ctest run. The test `radosgw_start` sets up the
# fixture `radosgw`, `radosgw_stop` cleans it up; ctest runs them around every test that requires
# the fixture, also under -R/-L filters, and reports dependants of a failed start as failed (not run).
# Tests get it with
#   sluice_add_test(... PROPERTIES ${SLUICE_RADOSGW_TEST_PROPERTIES})
# and read the endpoint with sluice::testing::radosgw_server() (tests/support/test_servers.hpp).
#
# s3rver: started per test by sluice::testing::s3rver_process; needs `npm ci` in tests/servers.
#
# sluice_test_support: tests/support/test_servers.cpp as a library; link it into test binaries.

set(SLUICE_RADOSGW_DIR ${PROJECT_BINARY_DIR}/test-servers/radosgw)
find_program(SLUICE_BASH bash REQUIRED)
# Node.js runs s3rver (found on PATH at run time) and zarrita (tests/interop/zarrita_read.mjs, run by
# this path). Not REQUIRED: a machine without node still builds; the tests that need it fail.
find_program(SLUICE_NODE node)

add_test(NAME radosgw_start
         COMMAND ${SLUICE_BASH} ${CMAKE_CURRENT_LIST_DIR}/radosgw.sh start ${SLUICE_RADOSGW_DIR})
# The script gives up after 90 s (SLUICE_RADOSGW_TIMEOUT); the ctest timeout is only a backstop.
set_tests_properties(radosgw_start PROPERTIES FIXTURES_SETUP radosgw TIMEOUT 150 LABELS integration)
add_test(NAME radosgw_stop
         COMMAND ${SLUICE_BASH} ${CMAKE_CURRENT_LIST_DIR}/radosgw.sh stop ${SLUICE_RADOSGW_DIR})
set_tests_properties(radosgw_stop PROPERTIES FIXTURES_CLEANUP radosgw TIMEOUT 60 LABELS integration)

# ctest properties for every test that talks to radosgw.
set(SLUICE_RADOSGW_TEST_PROPERTIES
    FIXTURES_REQUIRED radosgw
    ENVIRONMENT SLUICE_RADOSGW_ENV=${SLUICE_RADOSGW_DIR}/endpoint.env)

add_library(sluice_test_support STATIC ${CMAKE_CURRENT_LIST_DIR}/../support/test_servers.cpp)
target_include_directories(sluice_test_support PUBLIC ${CMAKE_CURRENT_LIST_DIR}/../support)
target_link_libraries(sluice_test_support PUBLIC GTest::gtest PRIVATE sluice_warnings)
target_compile_definitions(sluice_test_support PRIVATE
  SLUICE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  SLUICE_BINARY_DIR="${PROJECT_BINARY_DIR}")
