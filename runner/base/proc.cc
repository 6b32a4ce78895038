#include "runner/base/proc.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace firedrill {

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // The command name is in parentheses and may itself contain spaces or ')': the fields
  // we want start after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  ProcStat st;
  st.pid = pid;
  rest >> st.state >> st.ppid >> st.pgrp;
  std::string skip;
  // Fields 6..21 lie between pgrp (5) and starttime (22).
  for (int i = 6; i <= 21 && rest; ++i) {
    if (i == 7) {
      rest >> st.tty_nr;
    } else {
      rest >> skip;
    }
  }
  rest >> st.start_ticks;
  if (!rest) return std::nullopt;
  return st;
}

std::vector<pid_t> ListPids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (!dir) return pids;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end && *end == '\0' && v > 0) pids.push_back(static_cast<pid_t>(v));
  }
  closedir(dir);
  return pids;
}

std::vector<pid_t> Descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  for (pid_t p : ListPids()) {
    if (auto st = ReadProcStat(p)) children.emplace(st->ppid, p);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty() && out.size() < 100000) {
    pid_t cur = todo.back();
    todo.pop_back();
    auto [b, e] = children.equal_range(cur);
    for (auto it = b; it != e; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

bool IsDescendantOf(pid_t pid, pid_t ancestor) {
  if (pid <= 0 || pid == ancestor) return false;
  pid_t cur = pid;
  // Bounded: a process tree is never this deep, and a loop in /proc (a race) must end.
  for (int depth = 0; cur > 1 && depth < 512; ++depth) {
    auto st = ReadProcStat(cur);
    if (!st) return false;
    if (st->ppid == ancestor) return true;
    cur = st->ppid;
  }
  return false;
}

bool IsSelfOrAncestor(pid_t pid) {
  pid_t cur = getpid();
  for (int depth = 0; cur > 0 && depth < 512; ++depth) {
    if (cur == pid) return true;
    auto st = ReadProcStat(cur);
    if (!st) break;
    cur = st->ppid;
  }
  return false;
}

uint64_t UptimeTicks() {
  std::ifstream in("/proc/uptime");
  double seconds = 0;
  if (!(in >> seconds)) return 0;
  return static_cast<uint64_t>(seconds * static_cast<double>(sysconf(_SC_CLK_TCK)));
}

std::vector<pid_t> ListeningOn(const std::vector<int>& ports) {
  // Socket inodes in state 0A (LISTEN) on one of the ports.
  std::set<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
      if (!(f >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >>
            inode)) {
        continue;
      }
      const size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;
      const int port = static_cast<int>(std::strtol(local.c_str() + colon + 1, nullptr, 16));
      if (std::find(ports.begin(), ports.end(), port) != ports.end()) {
        inodes.insert("socket:[" + inode + "]");
      }
    }
  }
  std::vector<pid_t> out;
  if (inodes.empty()) return out;
  for (pid_t p : ListPids()) {
    const std::string fd_dir = "/proc/" + std::to_string(p) + "/fd";
    DIR* dir = opendir(fd_dir.c_str());
    if (!dir) continue;
    bool found = false;
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      char target[128];
      const ssize_t n = readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      if (inodes.count(target)) {
        found = true;
        break;
      }
    }
    closedir(dir);
    if (found) out.push_back(p);
  }
  return out;
}

std::string CwdOf(pid_t pid) {
  char buf[4096];
  const std::string link = "/proc/" + std::to_string(pid) + "/cwd";
  const ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return buf;
}

}  // namespace firedrill
