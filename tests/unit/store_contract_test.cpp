// tests/unit/store_contract_test.cpp: the Store contract
// (tests/support/store_contract.cpp) on the memory driver. The same cases run
// on Redis in integration/redis_store_test.cpp.
#include "tests/support/store_fixture.h"

namespace msw::test {
namespace {

Driver memoryDriver() {
  return {"memory", [] {},
          [](LoopThread& loop, const std::string& prefix) {
            return std::make_shared<MemoryStore>(prefix, loop.defer());
          },
          [](Store&) { return true; }};
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreContract, ::testing::Values(memoryDriver()), driverName);

}  // namespace
}  // namespace msw::test
