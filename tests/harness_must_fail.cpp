// The test harness checks itself: this hidden case must fail (ctest expects it to: WILL_FAIL).
// If exceptions were off in the wasm build, a failing REQUIRE would kill Node with no report.
#include <catch_amalgamated.hpp>

TEST_CASE("a failing assertion fails the run", "[.must_fail]") {
  REQUIRE(1 + 1 == 3);
}
