// The systemd units and the cron line the README's "Scheduled game-days" gives: lint the
// units with systemd-analyze where it exists (this project's machine has it, but no running
// systemd), with the installed paths replaced by this build's, and check the cron line
// names the same commands.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

const std::string kExamples = std::string(FIREDRILL_SOURCE_DIR) + "/docs/examples/";

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(ScheduledUnitsTest, SystemdAnalyzeVerifiesTheServiceAndTimer) {
  if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed here (Debian package systemd)";
  }
  TempDir dir;
  for (const char* unit : {"firedrill-gameday.service", "firedrill-gameday.timer"}) {
    std::string text = ReadFile(kExamples + unit);
    ASSERT_FALSE(text.empty()) << unit;
    text = ReplaceAll(text, "/usr/local/bin/firedrill", FIREDRILL_BIN);
    WriteFile(dir / unit, text);
  }
  const std::string cmd = "cd " + Quote(dir.path()) +
                          " && systemd-analyze verify ./firedrill-gameday.service "
                          "./firedrill-gameday.timer 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("firedrill-gameday"), std::string::npos) << "a complaint: " << out;
}

// Every option the units and the cron line pass is one `firedrill run` or `rollback` takes.
TEST(ScheduledUnitsTest, TheCommandsTheyRunAreAccepted) {
  TempDir dir;
  CliResult help = RunFiredrill({"run", "--help"}, dir.path());
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag : {"--quiet", "--history", "--push-metrics"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
  const std::string cron = ReadFile(kExamples + "firedrill-gameday.cron");
  const std::string service = ReadFile(kExamples + "firedrill-gameday.service");
  for (const char* part :
       {"firedrill rollback --quiet", "firedrill run /etc/firedrill/drills --quiet",
        "--history /var/lib/firedrill/history.db", "--push-metrics http://127.0.0.1:9091"}) {
    EXPECT_NE(cron.find(part), std::string::npos) << part;
    EXPECT_NE(ReplaceAll(service, "\\\n    ", "").find(part), std::string::npos) << part;
  }
  CliResult rollback =
      RunFiredrill({"rollback", "--quiet", "--state-dir", dir / "state"}, dir.path());
  EXPECT_EQ(rollback.exit_code, 0) << rollback.out << rollback.err;
}

}  // namespace
}  // namespace firedrill::testing
