#include "runner/drill/expand.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace firedrill {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Found {
  Reference::Kind kind;
  std::string arg;
  size_t offset;
  bool operator==(const Found&) const = default;
};

void PrintTo(const Found& f, std::ostream* os) {
  *os << "{kind " << static_cast<int>(f.kind) << ", '" << f.arg << "', @" << f.offset << "}";
}

std::vector<Found> Refs(std::string_view text) {
  std::vector<Found> out;
  auto err = ScanReferences(text, [&](const Reference& r) {
    out.push_back({r.kind, r.arg, r.offset});
  });
  EXPECT_FALSE(err.has_value()) << text << ": " << (err ? err->message : "");
  return out;
}

TEST(ExpandTest, ScanFindsEveryKindWithOffsets) {
  const std::string text = "cd ${workdir} && echo ${seq} ${env:HOME_DIR} ${port:api}";
  EXPECT_THAT(Refs(text), ::testing::ElementsAre(Found{Reference::Kind::kWorkdir, "", 3},
                                                 Found{Reference::Kind::kSeq, "", 22},
                                                 Found{Reference::Kind::kEnv, "HOME_DIR", 29},
                                                 Found{Reference::Kind::kPort, "api", 45}));
  EXPECT_EQ(text.find("${seq}"), 22u);
  EXPECT_EQ(text.find("${env"), 29u);
  EXPECT_EQ(text.find("${port"), 45u);
}

TEST(ExpandTest, ScanLeavesLiteralsAlone) {
  EXPECT_THAT(Refs("echo $${NAME}"), IsEmpty());
  EXPECT_THAT(Refs("echo $$ $ $1"), IsEmpty());
}

TEST(ExpandTest, ScanBareDollarAndEscapes) {
  EXPECT_THAT(Refs("echo $HOME and $PATH"), IsEmpty());
  EXPECT_THAT(Refs("awk '{print $1}'"), IsEmpty());
  EXPECT_THAT(Refs("price: 5$"), IsEmpty());
  EXPECT_THAT(Refs("$${x} then ${workdir}"),
              ::testing::ElementsAre(Found{Reference::Kind::kWorkdir, "", 11}));
  EXPECT_THAT(Refs("$${workdir}"), IsEmpty());
}

TEST(ExpandTest, ScanReportsUnknownAndUnterminatedWithOffset) {
  auto unknown = ScanReferences("echo ${foo}", nullptr);
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->offset, 5u);
  EXPECT_THAT(unknown->message, HasSubstr("unknown variable '${foo}'"));
  EXPECT_THAT(unknown->message, HasSubstr("$${...} for a literal"));

  auto unterminated = ScanReferences("ok ${workdir}/a ${workdir", nullptr);
  ASSERT_TRUE(unterminated.has_value());
  EXPECT_EQ(unterminated->offset, 16u);
  EXPECT_THAT(unterminated->message, HasSubstr("unterminated '${'"));

  auto empty = ScanReferences("${}", nullptr);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->offset, 0u);

  auto bad_env = ScanReferences("x ${env:}", nullptr);
  ASSERT_TRUE(bad_env.has_value());
  EXPECT_EQ(bad_env->offset, 2u);
  EXPECT_THAT(bad_env->message, HasSubstr("bad variable name"));

  auto bad_port = ScanReferences("${port:a b}", nullptr);
  ASSERT_TRUE(bad_port.has_value());
  EXPECT_THAT(bad_port->message, HasSubstr("bad port name"));

  // The references before the bad one are still reported.
  std::vector<Found> seen;
  auto err = ScanReferences("${workdir} ${nope}", [&](const Reference& r) {
    seen.push_back({r.kind, r.arg, r.offset});
  });
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->offset, 11u);
  EXPECT_THAT(seen, ::testing::ElementsAre(Found{Reference::Kind::kWorkdir, "", 0}));
}

class ExpandEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::setenv("FIREDRILL_EXPAND_TEST", "hello world", 1), 0); }
  void TearDown() override { ::unsetenv("FIREDRILL_EXPAND_TEST"); }
};

TEST_F(ExpandEnvTest, ExpandSubstitutesEverything) {
  Expander x("/tmp/firedrill/w", {{"api", 4242}, {"db", 5151}});
  auto got = x.Expand(
      "cd ${workdir} && curl -d '${env:FIREDRILL_EXPAND_TEST}' 127.0.0.1:${port:api}/k:${seq} "
      "# ${port:db} $${NAME} $HOME",
      7);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got,
            "cd /tmp/firedrill/w && curl -d 'hello world' 127.0.0.1:4242/k:7 "
            "# 5151 ${NAME} $HOME");
}

TEST_F(ExpandEnvTest, ExpandEachReference) {
  Expander x("/work", {{"api", 8080}});
  EXPECT_EQ(*x.Expand("${workdir}/data"), "/work/data");
  EXPECT_EQ(*x.Expand("${env:FIREDRILL_EXPAND_TEST}"), "hello world");
  EXPECT_EQ(*x.Expand(":${port:api}"), ":8080");
  EXPECT_EQ(*x.Expand("SET k:${seq} ${seq}", 12), "SET k:12 12");
  EXPECT_EQ(*x.Expand("SET k:${seq}", 0), "SET k:0");
  EXPECT_EQ(*x.Expand("echo $${NAME}"), "echo ${NAME}");
  EXPECT_EQ(*x.Expand("echo $NAME $$ $"), "echo $NAME $$ $");
  EXPECT_EQ(*x.Expand(""), "");
  EXPECT_EQ(x.workdir(), "/work");
}

TEST_F(ExpandEnvTest, ExpandErrors) {
  Expander x("/work", {{"api", 8080}});
  auto no_seq = x.Expand("GET k:${seq}");
  ASSERT_FALSE(no_seq.ok());
  EXPECT_THAT(no_seq.status().message(), HasSubstr("${seq} is only available in data checks"));

  ::unsetenv("FIREDRILL_EXPAND_TEST_UNSET");
  auto unset = x.Expand("${env:FIREDRILL_EXPAND_TEST_UNSET}");
  ASSERT_FALSE(unset.ok());
  EXPECT_THAT(unset.status().message(),
              HasSubstr("environment variable FIREDRILL_EXPAND_TEST_UNSET is not set"));

  auto no_port = x.Expand("${port:web}");
  ASSERT_FALSE(no_port.ok());
  EXPECT_EQ(no_port.status().code(), Status::Code::kInternal);

  auto unterminated = x.Expand("${workdir");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_THAT(unterminated.status().message(), HasSubstr("unterminated"));

  auto unknown = x.Expand("${nope}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown variable '${nope}'"));
}

}  // namespace
}  // namespace firedrill
