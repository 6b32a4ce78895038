// A live view nobody reads must not slow the drill down. firedrill's stdout is a pipe
// shrunk to one page (F_SETPIPE_SZ) that the test leaves unread for 6 s, so it fills in
// the first round of the fault phase (each of the eighty http probes that sample one real
// nginx every 100 ms reports its first pass there). nginx's own access log ($msec) is the clock: no
// probe may go quiet while the view is blocked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>
#include <thread>

#include "tests/integration/harness.h"

namespace firedrill::testing {
namespace {

TEST(BlockedStdoutTest, ProbesKeepTheirScheduleWhileNobodyReadsTheView) {
  TempDir dir;
  const std::string work = dir / "work";
  std::string checks;
  for (int i = 1; i <= 80; ++i) {
    checks += "  - name: page-" + std::to_string(i) +
              "\n    probe: {http: {url: \"http://127.0.0.1:${port:web}/p" + std::to_string(i) +
              "\"}}\n";
  }
  WriteFile(dir / "drill.yaml", R"(apiVersion: firedrill/v1
name: blocked-stdout
settings: {probe_interval: 100ms, settle: 10s, workdir: ")" +
                                    work + R"("}
services:
  - name: web
    run: |
      mkdir -p www tmp
      for i in $(seq 1 80); do echo ok > www/p$i; done
      cat > nginx.conf <<EOF
      daemon off;
      user $(id -un);
      worker_processes 1;
      pid ${workdir}/nginx.pid;
      error_log ${workdir}/nginx.error.log;
      events { worker_connections 512; }
      http {
        log_format t '\$msec \$uri';
        access_log ${workdir}/access.log t;
        client_body_temp_path ${workdir}/tmp/body;
        proxy_temp_path ${workdir}/tmp/proxy;
        fastcgi_temp_path ${workdir}/tmp/fastcgi;
        uwsgi_temp_path ${workdir}/tmp/uwsgi;
        scgi_temp_path ${workdir}/tmp/scgi;
        server { listen 127.0.0.1:${port:web}; root ${workdir}/www; }
      }
      EOF
      exec nginx -p ${workdir} -c ${workdir}/nginx.conf -e ${workdir}/nginx.error.log
    ready: {tcp: {address: "127.0.0.1:${port:web}"}, within: 10s}
steady_state:
)" + checks + R"(faults:
  - name: marker
    at: 100ms
    action: command
    with: {run: "true"}
recovery: {within: 20s, steady_for: 5s}
)");

  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  const int page = fcntl(fds[1], F_SETPIPE_SZ, 4096);
  ASSERT_GT(page, 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    setenv("NO_COLOR", "1", 1);
    setenv("FIREDRILL_STATE_DIR", (dir / "state").c_str(), 1);
    execl(FIREDRILL_BIN, FIREDRILL_BIN, "run", (dir / "drill.yaml").c_str(), "--report-dir",
          (dir / "report").c_str(), "--no-history", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::this_thread::sleep_for(std::chrono::seconds(6));
  // Now read it all, so the run can end.
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  close(fds[0]);
  // The view really was blocked, in the fault phase: the lines of events before +5.5 s (the
  // run started after the fork, so before the test began to read) are more than the pipe
  // holds. (An engine that waits for its view never gets that far before the test reads.)
  size_t early = 0;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    double at = 0;
    if (std::sscanf(line.c_str(), " +%lfs", &at) == 1 && at < 5.5) early += line.size() + 1;
  }
  EXPECT_GT(early, static_cast<size_t>(page)) << "the pipe never filled: the test proves nothing";
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("blocked-stdout  PASSED"), std::string::npos) << out;

  auto report = ReadJson(dir / "report/report.json");
  ASSERT_TRUE(report.has_value()) << out;
  // The fault phase, on the report's clock.
  int64_t faults_from = -1, faults_to = -1;
  for (const auto& e : (*report)["timeline"]) {
    if (e["type"] == "phase" && e["name"] == "faults") faults_from = e["t_ms"];
    if (e["type"] == "phase" && e["name"] == "rollback") faults_to = e["t_ms"];
  }
  ASSERT_GE(faults_from, 0);
  ASSERT_GT(faults_to, faults_from + 4000) << "the fault phase was too short to tell";

  // The fault phase on the wall clock nginx writes: the run's start (UTC, ms) plus the
  // phase's offsets.
  std::tm tm{};
  int millis = 0;
  const std::string started = (*report)["started_at"];
  ASSERT_EQ(std::sscanf(started.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis),
            7);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const double start = static_cast<double>(timegm(&tm)) + millis / 1000.0;
  const double from = start + faults_from / 1000.0, to = start + faults_to / 1000.0;

  // nginx's log: per page, the longest silence between two of its requests in the fault
  // phase. A probe that waited for the view would be silent for as long as the test did
  // not read (6 s).
  std::map<std::string, std::vector<double>> times;
  std::istringstream log(ReadFile(work + "/access.log"));
  double t;
  std::string uri;
  while (log >> t >> uri) {
    if (t >= from && t <= to) times[uri].push_back(t);
  }
  ASSERT_EQ(times.size(), 80u);
  for (const auto& [page_uri, ts] : times) {
    double longest = 0;
    for (size_t i = 1; i < ts.size(); ++i) longest = std::max(longest, ts[i] - ts[i - 1]);
    // 100 ms interval; 400 ms allows for a loaded 2-core machine (nginx stamps to the ms),
    // and is 15 times less than a blocked view would cost.
    EXPECT_LT(longest, 0.4) << page_uri << ": " << ts.size() << " requests";
    EXPECT_GE(ts.size(), 40u) << page_uri;  // at least 5 s of fault phase at 100 ms
  }
}

}  // namespace
}  // namespace firedrill::testing
