// The memory driver: the conformance suite, and its capacity.
#include "conformance.hpp"

#include <sluice/store/memory.hpp>

namespace {

using namespace sluice;

class MemoryStore : public ::testing::Test {
 protected:
  void SetUp() override {
    f_.s = store::make_memory_store();
    f_.eng = &eng_;
  }
  store_tests::store_fixture& fixture() { return f_; }

  engine eng_{engine::options{1}};
  store_tests::store_fixture f_;
};

SLUICE_STORE_CONFORMANCE_TESTS(MemoryStore)

TEST_F(MemoryStore, a_write_past_the_capacity_is_no_space_and_keeps_the_old_value) {
  store::memory_options small;
  small.capacity = 64 << 10;
  auto s = store::make_memory_store(small);
  std::vector<std::byte> fits(40 << 10), too_big(40 << 10);
  auto g = eng_.run(s->write("a", fits));
  ASSERT_TRUE(g) << g.error().describe();
  auto r = eng_.run(s->write("b", too_big));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == condition::no_space) << r.error().describe();
  // Removing frees the room.
  ASSERT_TRUE(eng_.run(s->remove("a")));
  EXPECT_TRUE(eng_.run(s->write("b", too_big)));
}

TEST_F(MemoryStore, a_read_shares_the_stored_bytes_and_survives_an_overwrite) {
  auto s = store::make_memory_store();
  std::vector<std::byte> v(1000, std::byte{7});
  ASSERT_TRUE(eng_.run(s->write("k", v)));
  auto first = eng_.run(s->read("k"));
  ASSERT_TRUE(first);
  std::vector<std::byte> w(10, std::byte{9});
  ASSERT_TRUE(eng_.run(s->write("k", w)));
  ASSERT_EQ(first->bytes.size(), 1000u) << "the slice keeps the old value alive";
  EXPECT_EQ(first->bytes.data()[999], std::byte{7});
}

}  // namespace
