// Hostile drill files: alias bombs, deep nesting, huge files, binary and broken text. Each
// must be refused with one error at the exact place, quickly and in bounded memory, both
// through the loader and through the real `firedrill validate` / `firedrill run`.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runner/loader/loader.h"
#include "tests/testing.h"

extern char** environ;

namespace firedrill {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

constexpr char kHead[] = "apiVersion: firedrill/v1\nname: hostile\n";

// A drill that loads, with room for one hostile field in the steady-state probe.
std::string Drill(const std::string& expect) {
  return std::string(kHead) +
         "steady_state:\n"
         "  - name: ok\n"
         "    probe: {command: {run: \"true\", expect: {" +
         expect +
         "}}}\n"
         "faults:\n"
         "  - name: f\n"
         "    action: command\n"
         "    with: {run: \"true\"}\n";
}

std::string All(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.ToString() + "\n";
  return out;
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Nine levels of nine aliases each: 9^9 nodes once expanded, 3 KB on disk.
std::string BillionLaughs() {
  std::string y = kHead;
  y += "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";  // line 3
  for (int i = 1; i <= 8; ++i) {
    std::string alias = "*a" + std::to_string(i - 1);
    y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + alias;
    for (int k = 1; k < 9; ++k) y += ", " + alias;
    y += "]\n";
  }
  return y;
}

// xorshift32 bytes: noise that is the same on every run.
std::string Noise(size_t n) {
  std::string out;
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out += static_cast<char>(x & 0xFF);
  }
  return out;
}

struct Hostile {
  const char* name;
  // Built when the test runs, not when tests are registered: every test process of the
  // suite registers these, and some inputs are 50 MiB.
  std::function<std::string()> make;
  int line;
  int column;
  std::string message;  // the whole message, exactly
};

const char kDepth[] = "maps and lists nested more than 64 deep; a drill may nest at most 64";
const char kNodes[] =
    " more than 50000 nodes (maps, lists and values, each alias counted as what it copies); a "
    "drill may have at most 50000";
const char kControl[] = " is not allowed in a drill (only tab and line breaks are)";
const char kEmpty[] = "the file is empty; a drill starts with `apiVersion: firedrill/v1`";

std::string Head(const std::string& rest) { return kHead + rest; }

std::vector<Hostile> HostileCases() {
  return {
      // "tags: " is 6 columns and the root map is level 1, so the 64th '[' opens level 65.
      {"DeepFlowLists", [] { return Head("tags: " + Repeat("[", 1000) + Repeat("]", 1000)); }, 3,
       70, kDepth},
      {"DeepFlowMaps", [] { return Head("tags: " + std::string(100000, '{')); }, 3, 70, kDepth},
      // Unclosed, each '[' after the first may be the key of a one-pair map (`[a]: b`), and
      // yaml-cpp opens that map too: two levels per '[', so the 33rd passes 64.
      {"DeepUnclosedFlowLists", [] { return Head("tags: " + std::string(100000, '[')); }, 3, 39,
       kDepth},
      // Line 3+j holds the key whose map (level j+2) starts on the next line, at column 2j+3.
      {"DeepBlockMaps",
       [] {
         std::string y = kHead;
         for (int i = 0; i < 100; ++i) y += std::string(2 * i, ' ') + "a:\n";
         return y;
       },
       67, 129, kDepth},
      // "- " k times opens level k+1: the 64th at column 127.
      {"DeepCompactLists", [] { return Head("tags:\n" + Repeat("- ", 100000)); }, 4, 127, kDepth},
      // Before line 7: 5 + 16 + 92 + 821 + 7382 = 8316 nodes (keys included); line 7's key
      // and list make 8318, and each *a3 adds 7381: the 6th passes 50000. It sits at column
      // 10 + 5*5.
      {"BillionLaughs", BillionLaughs, 7, 35,
       std::string("alias *a3 brings the drill to") + kNodes},
      // "tags: [" is 7 columns, each "*t, " 4 more: the 65th alias is at 8 + 64 * 4.
      {"TooManyAliases", [] { return Head("x: &t a\ntags: [" + Repeat("*t, ", 64) + "*t]\n"); }, 4,
       264, "more than 64 aliases (*t); a drill may use at most 64"},
      {"AliasInsideItself", [] { return Head("tags: &t [a, *t]\n"); }, 3, 14,
       "alias *t is inside the node it refers to"},
      {"AliasInsideItselfMap", [] { return Head("settings: &s {workdir: *s}\n"); }, 3, 24,
       "alias *s is inside the node it refers to"},
      // 7 nodes before the list's first item (column 8); item k is node 7 + k.
      {"TooManyNodes", [] { return Head("tags: [" + Repeat("1,", 60000) + "1]\n"); }, 3,
       8 + 2 * 49993, std::string("the drill has") + kNodes},
      {"SecondDocument", [] { return Head("---\napiVersion: firedrill/v1\n"); }, 3, 1,
       "a second YAML document (after `---`); a drill is one document"},
      {"HugeScalar", [] { return Head("description: " + std::string(50 << 20, 'x')); }, 1, 1,
       "file is 50.0MiB; a drill may be at most 256.0KiB (see docs/drill-format.md, \"Limits\")"},
      // The first byte that is neither printable ASCII nor UTF-8 is the 3rd of line 3.
      {"BinaryNoise", [] { return Head(Noise(4096)); }, 3, 3,
       "invalid UTF-8 (byte 0xA0); a drill is UTF-8 text"},
      {"Latin1", [] { return Head("description: caf\xE9 au lait\n"); }, 3, 17,
       "invalid UTF-8 (byte 0xE9); a drill is UTF-8 text"},
      // Columns count bytes, as yaml-cpp's do: "\xC3\xA9t\xC3\xA9 " is 6 of them.
      {"BadByteAfterMultibyte", [] { return Head("description: \xC3\xA9t\xC3\xA9 \xFF\n"); }, 3, 20,
       "invalid UTF-8 (byte 0xFF); a drill is UTF-8 text"},
      {"OverlongSlash", [] { return Head("description: \xC0\xAF\n"); }, 3, 14,
       "invalid UTF-8 (byte 0xC0); a drill is UTF-8 text"},
      {"Surrogate", [] { return Head("description: \xED\xA0\x80\n"); }, 3, 14,
       "invalid UTF-8 (byte 0xED); a drill is UTF-8 text"},
      {"CutAtEnd", [] { return Head("description: \xE2\x82"); }, 3, 14,
       "invalid UTF-8 (byte 0xE2); a drill is UTF-8 text"},
      {"NulByte", [] { return Head(std::string("description: a\0b\n", 17)); }, 3, 15,
       std::string("control character U+0000") + kControl},
      {"TerminalEscape", [] { return Head("description: \x1B[2J\n"); }, 3, 14,
       std::string("control character U+001B") + kControl},
      {"Delete", [] { return Head("description: \x7F\n"); }, 3, 14,
       std::string("control character U+007F") + kControl},
      {"C1Control", [] { return Head("description: \xC2\x9B\n"); }, 3, 14,
       std::string("control character U+009B") + kControl},
      {"NonCharacter", [] { return Head("description: \xEF\xBF\xBE\n"); }, 3, 14,
       "character U+FFFE is not allowed in a drill"},
      {"Utf16",
       [] {
         return std::string(
             "\xFF\xFE"
             "a\0p\0i\0",
             8);
       },
       1, 1,
       "the file is UTF-16 or UTF-32 (it starts with a byte-order mark); a drill is UTF-8 text"},
      // A byte-order mark is not a column: yaml-cpp skips it, and so do the positions here.
      {"BomThenLatin1", [] { return std::string("\xEF\xBB\xBFname: caf\xE9\n"); }, 1, 10,
       "invalid UTF-8 (byte 0xE9); a drill is UTF-8 text"},
      {"Empty", [] { return std::string(); }, 1, 1, kEmpty},
      {"OnlyBlankLines", [] { return std::string("\n\n   \n\t\n"); }, 1, 1, kEmpty},
      {"OnlyByteOrderMark", [] { return std::string("\xEF\xBB\xBF"); }, 1, 1, kEmpty},
      // RE2 bounds a pattern's memory itself; the cap keeps patterns to a size people write.
      {"HugeRegex", [] { return Drill("stdout_matches: \"" + std::string(100000, 'a') + "\""); }, 5,
       61,
       "steady_state 'ok'.probe.command.expect.stdout_matches: a regular expression may be at "
       "most 16.0KiB, this one is 97.7KiB"},
  };
}

class LoaderHostileTest : public ::testing::TestWithParam<Hostile> {};

// One error, where the trouble starts, and fast: a second is 10x what any case takes here
// under ASan on a busy 2-core machine, and 100x without it.
TEST_P(LoaderHostileTest, OneErrorAtTheExactPlace) {
  const Hostile& c = GetParam();
  const std::string yaml = c.make();
  auto start = Clock::now();
  LoadResult r = LoadScenarioText(yaml, "hostile.yaml");
  auto took = Clock::now() - start;
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u) << All(r);
  const Diagnostic& e = r.errors[0];
  EXPECT_EQ(e.file, "hostile.yaml");
  EXPECT_EQ(e.mark.line, c.line) << e.ToString();
  EXPECT_EQ(e.mark.column, c.column) << e.ToString();
  EXPECT_EQ(e.message, c.message);
  EXPECT_LT(took, std::chrono::seconds(1));
}

INSTANTIATE_TEST_SUITE_P(Inputs, LoaderHostileTest, ::testing::ValuesIn(HostileCases()),
                         [](const ::testing::TestParamInfo<Hostile>& info) {
                           return std::string(info.param.name);
                         });

TEST(LoaderHostile, CasesHaveDistinctNames) {
  std::set<std::string> names;
  for (const auto& c : HostileCases()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

// Just inside every limit, a drill still loads: the limits refuse only what no drill needs.
TEST(LoaderHostile, JustInsideTheLimitsLoads) {
  // A regex as deep as a drill could want: RE2 parses it without recursion on the stack.
  std::string nested = "stdout_matches: \"" + Repeat("(", 512) + Repeat(")", 512) + "\"";
  std::string y = Drill(nested) + "tags: [" + Repeat("[", 62) + "x" + Repeat("]", 62) + "]\n";
  LoadResult deep = LoadScenarioText(y, "ok.yaml");
  // Nested tags are refused by the schema, not by the limits: the parse got that far.
  ASSERT_EQ(deep.errors.size(), 1u);
  EXPECT_EQ(deep.errors[0].message, "tag must be a single value, got a list");

  std::string aliased = std::string(kHead) + "description: &d \xC3\xA9t\xC3\xA9\n" + "tags: [" +
                        Repeat("*d, ", 63) + "*d]\n" + Drill(nested).substr(sizeof(kHead) - 1);
  LoadResult ok = LoadScenarioText("\xEF\xBB\xBF" + aliased, "ok.yaml");
  ASSERT_TRUE(ok.ok()) << All(ok);
  EXPECT_EQ(ok.scenario->description, "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(ok.scenario->tags.size(), 64u);
}

// Limits far below the real ones change nothing for the shipped drills: the real ones
// leave room. (Compared with a default load, so a drill another change breaks fails
// elsewhere, not here.)
TEST(LoaderHostile, ShippedDrillsAreFarInsideTheLimits) {
  LoadOptions tight;
  tight.max_bytes = 64 << 10;
  tight.max_depth = 16;
  tight.max_nodes = 5000;
  tight.max_aliases = 8;
  tight.max_regex_bytes = 256;
  int n = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(FIREDRILL_SOURCE_DIR) + "/scenarios")) {
    if (entry.path().extension() != ".yaml") continue;
    ++n;
    LoadResult normal = LoadScenarioFile(entry.path().string());
    LoadResult r = LoadScenarioFile(entry.path().string(), tight);
    ASSERT_EQ(r.errors.size(), normal.errors.size()) << entry.path();
    for (size_t i = 0; i < r.errors.size(); ++i) {
      EXPECT_EQ(r.errors[i].ToString(), normal.errors[i].ToString());
    }
  }
  EXPECT_GE(n, 2);
}

// A reference error costs a scan of the source for its position; past the 100 errors that
// are kept, none may be paid, or 30000 of them in one string cost minutes.
TEST(LoaderHostile, ThousandsOfBadReferencesStayCheap) {
  std::string run = Repeat("${seq} ", 30000);
  std::string y = std::string(kHead) +
                  "steady_state:\n  - name: ok\n    probe: {command: {run: \"" + run +
                  "\"}}\nfaults:\n  - {name: f, action: command, with: {run: \"true\"}}\n";
  auto start = Clock::now();
  LoadResult r = LoadScenarioText(y, "refs.yaml");
  auto took = Clock::now() - start;
  ASSERT_EQ(r.errors.size(), 100u);
  EXPECT_EQ(r.errors[0].ToString(),
            "refs.yaml:5:29: error: ${seq} is only available in data.writer and data.verifier "
            "(in steady_state 'ok'.probe.command.run)");
  EXPECT_EQ(r.errors[1].mark.column, 36);
  EXPECT_LT(took, std::chrono::seconds(2));  // 30000 x 210 KB would be minutes
}

TEST(LoaderHostile, HugeFileReportsItsRealSize) {
  testing::TempDir dir;
  const std::string path = dir / "huge.yaml";
  // Sparse: 50 MiB of NUL bytes without writing them; only the first MiB is ever read.
  std::ofstream(path).close();
  ASSERT_EQ(::truncate(path.c_str(), 50 << 20), 0);
  LoadResult r = LoadScenarioFile(path);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(), path +
                                        ":1:1: error: file is 50.0MiB; a drill may be at most "
                                        "256.0KiB (see docs/drill-format.md, \"Limits\")");
}

TEST(LoaderHostile, EndlessDeviceIsCutAtTheLimit) {
  LoadResult r = LoadScenarioFile("/dev/zero");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(
      r.errors[0].ToString(),
      "/dev/zero:1:1: error: file is more than 256.0KiB; a drill may be at most 256.0KiB (see "
      "docs/drill-format.md, \"Limits\")");
}

// ---------------------------------------------------------------------------------------
// Through the real binary: exit 2, the position first, and the cost of the whole process
// (startup included), measured on the child alone with wait4.

struct Measured {
  int exit_code = -1;
  std::string err;
  std::chrono::milliseconds took{0};
  long max_rss_kib = 0;
};

// Runs FIREDRILL_BIN with `args`, stderr captured; killed (and reported as -2) after 20 s
// so a hang fails the test instead of stalling the suite. Linux carries a process's peak
// RSS across exec, so `max_rss_kib` is at least this test process's own peak when it
// spawned: the tests keep that small.
Measured RunMeasured(const std::vector<std::string>& args, const std::string& state_dir) {
  Measured m;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return m;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> argv_s{FIREDRILL_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  testing::ScopedEnvVar no_color("NO_COLOR", "1");
  testing::ScopedEnvVar state("FIREDRILL_STATE_DIR", state_dir);
  pid_t pid = 0;
  auto start = Clock::now();
  int rc = posix_spawn(&pid, FIREDRILL_BIN, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return m;
  }
  const auto deadline = start + std::chrono::seconds(20);
  bool killed = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fds[0], POLLIN, 0};
    int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    m.err.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  m.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  m.max_rss_kib = ru.ru_maxrss;
  m.exit_code = killed ? -2 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return m;
}

// ASan's runtime alone takes 120 MiB of RSS, and its quarantine keeps freed memory: peak
// RSS measures the sanitizer there, not the loader.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

class HostileCliTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The bounds are wide on purpose. A refused drill takes 20-120 ms and 15-75 MiB here
  // (ASan: up to 0.5 s); 2 s and 200 MiB never fail on a loaded 2-core CI machine, yet
  // catch any parse that builds what it reads (yaml-cpp takes 240 MB and a second to
  // build 1 MiB of list items).
  void ExpectRefusedFast(const std::vector<std::string>& args, const std::string& first_line) {
    Measured m = RunMeasured(args, dir_ / "state");
    EXPECT_EQ(m.exit_code, 2) << m.err;
    EXPECT_EQ(m.err.substr(0, m.err.find('\n')), first_line);
    EXPECT_LT(m.took, std::chrono::seconds(2));
    if (kAddressSanitizer) {
      std::cout << "  peak RSS not checked: built with AddressSanitizer\n";
    } else {
      EXPECT_LT(m.max_rss_kib, 200 * 1024);
    }
    std::cout << "  firedrill " << args[0] << ": exit " << m.exit_code << " in " << m.took.count()
              << " ms, peak RSS " << m.max_rss_kib / 1024 << " MiB\n";
  }
  testing::TempDir dir_;
};

TEST_F(HostileCliTest, ValidateRefusesDeepNesting) {
  std::string path = Write("deep.yaml", Head("tags: " + std::string(100000, '[')));
  ExpectRefusedFast({"validate", path}, path + ":3:39: error: " + kDepth);
}

// The most memory a drill can cost: yaml-cpp buffers every token of a flow map whose
// first entry may still turn out to be a key, before it emits a single event (45 MiB for
// this one). Then the node limit stops it: unclosed, the map is two (yaml-cpp opens one
// more at 1:1) and each "[a]" three (list, item, null value), so the 50001st node is the
// list of the 16667th, at column 2 + 5 * 16666.
TEST_F(HostileCliTest, ValidateRefusesTheLongestLookahead) {
  std::string y = "{";
  while (y.size() < (256 << 10) - 16) y += "[a], ";
  std::string path = Write("lookahead.yaml", y);
  ExpectRefusedFast({"validate", path}, path + ":1:83332: error: the drill has" + kNodes);
}

TEST_F(HostileCliTest, ValidateRefusesBillionLaughs) {
  std::string path = Write("lol.yaml", BillionLaughs());
  ExpectRefusedFast({"validate", path},
                    path + ":7:35: error: alias *a3 brings the drill to" + kNodes);
}

TEST_F(HostileCliTest, ValidateRefusesAHugeFile) {
  // Written a MiB at a time: this process's own peak counts in the child's (see above).
  std::string path = Write("huge.yaml", Head("description: "));
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    const std::string mib(1 << 20, 'x');
    for (int i = 0; i < 50; ++i) out << mib;
  }
  ExpectRefusedFast({"validate", path}, path +
                                            ":1:1: error: file is 50.0MiB; a drill may be at "
                                            "most 256.0KiB (see docs/drill-format.md, \"Limits\")");
}

TEST_F(HostileCliTest, ValidateRefusesABinary) {
  // The head of firedrill itself: an ELF file starts with 0x7F 'E' 'L' 'F'.
  std::ifstream in(FIREDRILL_BIN, std::ios::binary);
  std::string elf(64 << 10, '\0');
  ASSERT_TRUE(in.read(elf.data(), static_cast<std::streamsize>(elf.size())));
  std::string path = Write("firedrill.yaml", elf);
  ExpectRefusedFast({"validate", path}, path + ":1:1: error: control character U+007F" + kControl);
}

TEST_F(HostileCliTest, ValidateRefusesNoise) {
  std::string path = Write("noise.yaml", Head(Noise(4096)));
  ExpectRefusedFast({"validate", path},
                    path + ":3:3: error: invalid UTF-8 (byte 0xA0); a drill is UTF-8 text");
}

TEST_F(HostileCliTest, RunRefusesTooBeforeStartingAnything) {
  std::string path = Write("nul.yaml", Head(std::string("description: a\0b\n", 17)));
  ExpectRefusedFast({"run", path, "--report-dir", dir_ / "report"},
                    path + ":3:15: error: control character U+0000" + kControl);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "report"));
}

}  // namespace
}  // namespace firedrill
