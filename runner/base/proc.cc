#include "runner/base/proc.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
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
  for (int i = 6; i <= 21 && rest; ++i) rest >> skip;
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

}  // namespace firedrill
