// ThreadOwner: the first thread to check owns the object; another thread's check fails in a debug
// build (the ASan Debug build of `make test` runs this), and release() hands the object over.
#include "core/thread_owner.h"

#include <gtest/gtest.h>

#include <thread>

namespace connscope {
namespace {

TEST(ThreadOwner, TheOwningThreadChecksAsOftenAsItLikes) {
  ThreadOwner owner;
  owner.check();
  owner.check();
  SUCCEED();
}

TEST(ThreadOwner, AReleasedObjectBelongsToTheNextThreadThatChecks) {
  ThreadOwner owner;
  owner.check();
  owner.release();
  std::thread([&] {
    owner.check();
    owner.check();
  }).join();
  owner.release();
  owner.check();
  SUCCEED();
}

#ifndef NDEBUG
TEST(ThreadOwnerDeathTest, ACheckFromAnotherThreadFailsInADebugBuild) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ThreadOwner owner;
        owner.check();
        std::thread([&] { owner.check(); }).join();
      },
      "thread other than its owner");
}

TEST(ThreadOwnerDeathTest, ACopyIsOwnedByWhoeverChecksItFirst) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ThreadOwner original;
  original.check();
  ThreadOwner copy = original;
  std::thread([&] { copy.check(); }).join();
  EXPECT_DEATH(copy.check(), "thread other than its owner");
}
#endif

}  // namespace
}  // namespace connscope
