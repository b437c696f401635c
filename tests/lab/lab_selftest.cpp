#include "lab/lab.h"
#include <gtest/gtest.h>
TEST(LabSmoke, Up) { CONNSCOPE_LAB_OR_SKIP(); auto lab = connscope::lab::Lab::create("smoke"); EXPECT_TRUE(lab->exec(connscope::lab::Node::client, {"ping","-c1","-W1",lab->server_v6()}).ok()); }
