#include "probe/stage.h"

#include <gtest/gtest.h>

namespace connscope::probe {
namespace {

TEST(Stage, NamesRoundTripInOrder) {
  const StageId all[] = {StageId::resolve, StageId::connect, StageId::talk, StageId::close};
  for (StageId id : all) EXPECT_EQ(parse_stage_name(stage_name(id)), id);
  EXPECT_EQ(stage_name(StageId::secure), "secure");
  EXPECT_FALSE(parse_stage_name("tls").has_value());
  EXPECT_EQ(status_name(StageStatus::warn), "warn");
  EXPECT_EQ(status_name(StageStatus::skipped), "skipped");
}

}  // namespace
}  // namespace connscope::probe
