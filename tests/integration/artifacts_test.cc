// `artifacts:` copies the systems' own files into REPORT_DIR/artifacts/ at teardown, before
// a temporary workdir is removed: a glob of logs, a file cut to its last 8 MiB, a link out of
// the workdir refused (checked on the real path), a pattern that matches nothing said so.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

namespace fs = std::filesystem;

const nlohmann::json* Event(const nlohmann::json& report, const std::string& type,
                            const std::string& name) {
  for (const auto& e : report["timeline"]) {
    if (e["type"] == type && e["name"] == name) return &e;
  }
  return nullptr;
}

TEST(ArtifactsTest, LogsAreKeptBeforeTheWorkdirGoes) {
  TempDir dir;
  WriteFile(dir / "secret.txt", "not for the report\n");
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: artifacts
settings: {probe_interval: 100ms, settle: 5s}
services:
  - name: app
    run: |
      mkdir -p logs
      echo "first line" > logs/app.log
      echo "second log" > logs/other.log
      head -c 9437184 /dev/zero | tr '\0' 'a' > big.log
      echo "the end" >> big.log
      ln -s )" + dir.path() + R"(/secret.txt escape.log
      touch ready
      exec sleep 300
    ready: {file: {path: "${workdir}/ready"}, within: 10s}
steady_state:
  - name: up
    probe: {command: {run: "test -f ready"}}
faults:
  - {name: mark, at: 100ms, action: command, with: {run: "echo fault >> logs/app.log"}}
recovery: {within: 2s, steady_for: 200ms}
artifacts: ["logs/*.log", "big.log", "escape.log", "missing-*.txt"]
)");
  CliResult r =
      RunFiredrill({"run", dir / "drill.yaml", "--report-dir", dir / "report"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << r.out << r.err;

  const std::string art = dir / "report/artifacts";
  EXPECT_EQ(ReadFile(art + "/logs/app.log"), "first line\nfault\n");
  EXPECT_EQ(ReadFile(art + "/logs/other.log"), "second log\n");
  ASSERT_TRUE(fs::exists(art + "/big.log"));
  EXPECT_EQ(fs::file_size(art + "/big.log"), 8u << 20);
  const std::string big = ReadFile(art + "/big.log");
  EXPECT_EQ(big.substr(big.size() - 8), "the end\n");  // the end of a log is kept
  const auto* cut = Event(*report, "artifact.cut", "big.log");
  ASSERT_NE(cut, nullptr) << report->dump(2);
  EXPECT_EQ((*cut)["detail"], "kept the last 8388608 bytes of 9437192 bytes");
  ASSERT_NE(Event(*report, "artifact.collected", "logs/app.log"), nullptr);

  // The link out of the workdir: refused on its real path, and nothing of it copied.
  bool refused = false;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "artifact.refused") {
      refused = true;
      EXPECT_NE(e["detail"].get<std::string>().find("outside the workdir"), std::string::npos);
    }
  }
  EXPECT_TRUE(refused) << report->dump(2);
  EXPECT_FALSE(fs::exists(art + "/escape.log"));
  EXPECT_FALSE(fs::exists(art + "/abs"));
  EXPECT_NE(Event(*report, "artifact.missing", "missing-*.txt"), nullptr);

  // The temporary workdir is gone: the copies were made before.
  std::string workdir;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "prepared") {
      const std::string d = e["detail"];
      workdir = d.substr(8, d.find(';') == std::string::npos ? std::string::npos : d.find(';') - 8);
    }
  }
  ASSERT_FALSE(workdir.empty());
  EXPECT_FALSE(fs::exists(workdir)) << workdir;
}

TEST(ArtifactsTest, OutsideTheWorkdirAndAllowPathsIsRefusedAtItsPosition) {
  TempDir dir;
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: artifacts-outside
steady_state:
  - {name: up, probe: {command: {run: "true"}}}
faults:
  - {name: mark, at: 100ms, action: command, with: {run: "true"}}
artifacts:
  - logs/app.log
  - /etc/passwd
  - ../escape.log
)");
  CliResult r = RunFiredrill({"validate", dir / "drill.yaml"}, dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(
      r.err.find("drill.yaml:9:5: error: artifact /etc/passwd is outside settings.allow_paths"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("drill.yaml:10:5: error: artifact ../escape.log is outside"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("drill.yaml:8:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace firedrill::testing
