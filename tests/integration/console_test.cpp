// tests/integration/console_test.cpp: the console's commands that need no
// server: `--print-config` (docs/configuration.md, "Printing the
// configuration in force"), run as the real binary on a real file.
#include <filesystem>
#include <fstream>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

namespace fs = std::filesystem;

class PrintConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "msw-print-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    file_ = root_ + "/app.ini";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  ConsoleResult print(const std::string& ini) {
    std::ofstream(file_) << ini;
    return runConsole({"--print-config", "--root", root_, "-c", file_});
  }
  std::string root_;
  std::string file_;
};

TEST_F(PrintConfig, ShowsEveryKeyWhereItsValueCameFromAndHidesSecrets) {
  ConsoleResult r = print(
      "[outside]\n"
      "; a comment\n"
      "port = 23456\n"
      "[auth]\n"
      "key = topsecret-key\n"
      "[manager]\n"
      "token = hunter2\n"
      "[app]\n"
      "modules = index,\n"
      "  live\n"
      "[backend]\n"
      "secret = hook-s3cret\n");
  ASSERT_EQ(r.exitCode, 0) << r;
  EXPECT_EQ(r.err, "") << r;
  EXPECT_NE(r.out.find("[outside] port = 23456  ; " + file_ + ":3\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("[auth] key = (hidden)  ; " + file_ + ":5\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("[manager] token = (hidden)  ; " + file_ + ":7\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("[app] modules = index, live  ; " + file_ + ":9\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("[server] stop_timeout = 10  ; default\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("[server] pid_file = " + root_ + "/runtime/msw.pid  ; default\n"), std::string::npos)
      << "paths are absolute: " << r;
  EXPECT_NE(r.out.find("[server] node_id = "), std::string::npos) << "computed keys are printed too: " << r;
  EXPECT_EQ(r.out.find("topsecret"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r;
  EXPECT_NE(r.out.find("[backend] secret = (hidden)  ; " + file_ + ":12\n"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("hook-s3cret"), std::string::npos) << r;
  // One line per key, each with its origin.
  size_t lines = 0, origins = 0;
  for (size_t at = 0; (at = r.out.find('\n', at)) != std::string::npos; ++at) ++lines;
  for (size_t at = 0; (at = r.out.find("  ; ", at)) != std::string::npos; ++at) ++origins;
  EXPECT_GE(lines, 38u) << r;
  EXPECT_EQ(lines, origins) << r;
}

TEST_F(PrintConfig, ABrokenFileGivesItsErrorsAndExit1) {
  ConsoleResult r = print("[outside]\nport = 0\n");
  EXPECT_EQ(r.exitCode, 1) << r;
  EXPECT_EQ(r.out, "") << r;
  EXPECT_NE(r.err.find(file_ + ":2: [outside] port = 0: must be an integer from 1 to 65535"), std::string::npos) << r;
}

}  // namespace
}  // namespace msw::it
