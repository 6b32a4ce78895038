// The loader's half of the blast radius: file and disk faults inside settings.allow_paths,
// judged on the drill's text (real directories and symlinks, since a literal workdir's
// symlinks are followed), and process targets the drill did not start named in
// settings.allow_processes. Each refusal is at the offending value's position.
#include "runner/loader/checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "runner/loader/loader.h"
#include "tests/testing.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class BlastRadiusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "allowed/sub");
    fs::create_directories(dir_ / "outside");
    fs::create_symlink(dir_ / "outside", dir_ / "allowed/escape");
  }
  TempDir dir_;
};

TEST_F(BlastRadiusTest, StaticCheckJudgesWhatTheTextAlreadyTells) {
  EXPECT_EQ(OutsideAllowPathsStatically("${workdir}/data/x", {}, ""), "");
  EXPECT_EQ(OutsideAllowPathsStatically("data/x", {"${workdir}/data"}, ""), "");
  EXPECT_EQ(OutsideAllowPathsStatically("/etc/passwd", {}, ""),
            "/etc/passwd is outside settings.allow_paths [${workdir}]");
  EXPECT_EQ(OutsideAllowPathsStatically("${workdir}/../x", {"${workdir}"}, ""),
            "${workdir}/../x is outside settings.allow_paths [${workdir}]");
  // A literal workdir: symlinks that exist now are followed.
  EXPECT_EQ(OutsideAllowPathsStatically("${workdir}/escape/f", {"${workdir}"}, dir_ / "allowed"),
            "${workdir}/escape/f is outside settings.allow_paths [${workdir}] (it resolves to " +
                fs::canonical(dir_ / "outside").string() + "/f)");
  // Known only at run time: left to the run's own check.
  EXPECT_EQ(OutsideAllowPathsStatically("${env:DATA}/x", {}, ""), "");
  EXPECT_EQ(OutsideAllowPathsStatically("/srv/x", {"${env:ROOT}"}, ""), "");
}

// `validate` refuses a file fault outside the blast radius, at the path's own position.
TEST_F(BlastRadiusTest, TheLoaderRefusesAPathOutsideAllowPaths) {
  const std::string text = R"(apiVersion: firedrill/v1
name: outside
settings: {workdir: ")" + dir_.path() +
                           R"(/allowed", allow_paths: ["${workdir}/sub"]}
steady_state:
  - {name: ok, probe: {command: {run: "true"}}}
faults:
  - {name: inside, action: file.delete, with: {path: "${workdir}/sub/f"}}
  - {name: away, action: file.corrupt, with: {path: "${workdir}/escape/f"}}
)";
  LoadResult r = LoadScenarioText(text, "drill.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString("error"),
            "drill.yaml:8:53: error: fault away: ${workdir}/escape/f is outside "
            "settings.allow_paths [${workdir}/sub] (it resolves to " +
                fs::canonical(dir_ / "outside").string() + "/f)");
}

// A drill whose one fault is `fault` (a flow map), with `settings` added.
std::string ProcessDrill(const std::string& settings, const std::string& fault) {
  return "apiVersion: firedrill/v1\nname: procs\n" + settings +
         "steady_state:\n  - {name: ok, probe: {command: {run: \"true\"}}}\nfaults:\n  - " + fault +
         "\n";
}

TEST(ProcessBlastRadiusTest, ANameTargetNeedsItsNameListed) {
  LoadResult r = LoadScenarioText(
      ProcessDrill("", "{name: k, action: process.kill, target: {name: sshd}}"), "d.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].mark.line, 6);
  EXPECT_EQ(r.errors[0].mark.column, 52);
  EXPECT_THAT(r.errors[0].message,
              HasSubstr("target {name: sshd} would signal every process of that name on the "
                        "machine, and settings.allow_processes is empty"));
  LoadResult ok =
      LoadScenarioText(ProcessDrill("settings: {allow_processes: [sshd]}\n",
                                    "{name: k, action: process.kill, target: {name: sshd}}"),
                       "d.yaml");
  EXPECT_TRUE(ok.ok()) << (ok.errors.empty() ? "" : ok.errors[0].ToString());
  EXPECT_EQ(ok.scenario->settings.allow_processes, std::vector<std::string>{"sshd"});
}

TEST(ProcessBlastRadiusTest, AnUnlistedNameSuggestsTheListedOne) {
  LoadResult r =
      LoadScenarioText(ProcessDrill("settings: {allow_processes: [redis-server]}\n",
                                    "{name: k, action: process.kill, target: {name: redis-servr}}"),
                       "d.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("settings.allow_processes lists redis-server"));
  EXPECT_THAT(r.errors[0].message, HasSubstr("did you mean 'redis-server'?"));
}

TEST(ProcessBlastRadiusTest, APidTargetNeedsAListOfAllowedExecutables) {
  LoadResult r = LoadScenarioText(
      ProcessDrill("", "{name: k, action: process.kill, target: {pid: 4242}}"), "d.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].mark.line, 6);
  EXPECT_EQ(r.errors[0].mark.column, 51);
  EXPECT_THAT(r.errors[0].message, HasSubstr("target {pid: 4242} names a process the drill did "
                                             "not start"));
  EXPECT_TRUE(LoadScenarioText(ProcessDrill("settings: {allow_processes: [postgres]}\n",
                                            "{name: k, action: process.kill, target: {pid: 4242}}"),
                               "d.yaml")
                  .ok());
}

TEST(ProcessBlastRadiusTest, ServicesAndPidfilesAreCheckedWhenTheFaultActs) {
  // A service is the drill's own; a pidfile's process is checked at injection (it must be
  // one the drill started, or a listed name), since its PID is known only then.
  const std::string drill =
      "apiVersion: firedrill/v1\nname: procs\nservices:\n"
      "  - {name: app, run: \"sleep 60\"}\n"
      "steady_state:\n  - {name: ok, probe: {command: {run: \"true\"}}}\n"
      "faults:\n"
      "  - {name: a, action: process.kill, target: {service: app}}\n"
      "  - {name: b, action: process.kill, target: {pidfile: app.pid}}\n";
  LoadResult r = LoadScenarioText(drill, "d.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
}

TEST(ProcessBlastRadiusTest, AllowProcessesEntriesAreExecutableNames) {
  LoadResult r = LoadScenarioText(
      ProcessDrill("settings: {allow_processes: [/usr/sbin/sshd, a-name-longer-than-15]}\n",
                   "{name: k, action: command, with: {run: \"true\"}}"),
      "d.yaml");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("executable names as /proc/PID/comm shows them"));
  EXPECT_EQ(r.errors[0].mark.column, 30);
  EXPECT_THAT(r.errors[1].message, HasSubstr("a-name-longer-than-15"));
}

TEST(ProcessBlastRadiusTest, ProbesMayLookAtAnyProcess) {
  // Looking is not signalling: a process probe by name needs no listing.
  LoadResult r = LoadScenarioText(
      "apiVersion: firedrill/v1\nname: procs\nsteady_state:\n"
      "  - {name: ok, probe: {process: {name: sshd, expect: stopped}}}\n"
      "faults:\n  - {name: k, action: command, with: {run: \"true\"}}\n",
      "d.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].ToString());
}

}  // namespace
}  // namespace firedrill::testing
