// tests/unit/docs_examples_test.cpp: every C++ block of the docs is code the
// build compiles. A ```cpp block in docs/*.md or README.md is preceded by
// "<!-- compiled: examples/FILE -->" (the block is the file, without its
// leading comment) or "<!-- compiled: examples/FILE#NAME -->" (the block is
// the region between "// [doc:NAME]" and "// [/doc]", unindented); the test
// reads both and compares them. A block that is not meant to compile (a
// sketch of a signature, say) says so: "<!-- not compiled: WHY -->". Runs on
// the source tree, no server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Lines = std::vector<std::string>;

const fs::path kSource = MSW_SOURCE_DIR;

Lines readLines(const fs::path& p) {
  std::ifstream in(p);
  Lines out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string joined(const Lines& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The file without its leading "//" lines and the blank line after them.
Lines wholeFile(const Lines& file) {
  size_t at = 0;
  while (at < file.size() && file[at].starts_with("//")) ++at;
  while (at < file.size() && file[at].empty()) ++at;
  return Lines(file.begin() + static_cast<std::ptrdiff_t>(at), file.end());
}

// The region NAME, unindented by its marker's indentation; empty when there is none.
Lines region(const Lines& file, const std::string& name) {
  Lines out;
  bool in = false;
  size_t indent = 0;
  for (const std::string& l : file) {
    size_t first = l.find_first_not_of(' ');
    std::string text = first == std::string::npos ? "" : l.substr(first);
    if (!in && text == "// [doc:" + name + "]") {
      in = true;
      indent = first;
    } else if (in && text == "// [/doc]") {
      return out;
    } else if (in) {
      out.push_back(l.size() > indent ? l.substr(indent) : "");
    }
  }
  return {};
}

struct Block {
  std::string page;  // "docs/x.md:LINE"
  std::string marker;
  Lines code;
};

std::vector<Block> cppBlocks(const fs::path& page) {
  std::vector<Block> blocks;
  Lines lines = readLines(page);
  std::string previous;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != "```cpp") {
      if (!lines[i].empty()) previous = lines[i];
      continue;
    }
    Block b{fs::relative(page, kSource).string() + ":" + std::to_string(i + 1), previous, {}};
    while (++i < lines.size() && lines[i] != "```") b.code.push_back(lines[i]);
    blocks.push_back(b);
    previous.clear();
  }
  return blocks;
}

std::vector<fs::path> pages() {
  std::vector<fs::path> out = {kSource / "README.md"};
  for (const auto& e : fs::directory_iterator(kSource / "docs"))
    if (e.path().extension() == ".md") out.push_back(e.path());
  return out;
}

TEST(DocsExamples, EveryCppBlockIsAFileOrRegionTheBuildCompiles) {
  const std::string open = "<!-- compiled: ", close = " -->";
  int checked = 0;
  for (const fs::path& page : pages()) {
    for (const Block& b : cppBlocks(page)) {
      if (b.marker.starts_with("<!-- not compiled: ")) continue;
      ASSERT_TRUE(b.marker.starts_with(open) && b.marker.ends_with(close))
          << b.page << ": a ```cpp block needs <!-- compiled: examples/FILE[#REGION] --> (or <!-- not compiled: WHY -->)"
          << " on the line before it";
      std::string target = b.marker.substr(open.size(), b.marker.size() - open.size() - close.size());
      size_t hash = target.find('#');
      std::string file = target.substr(0, hash);
      ASSERT_TRUE(file.starts_with("examples/") && fs::exists(kSource / file)) << b.page << ": " << file;
      Lines source = readLines(kSource / file);
      Lines expected = hash == std::string::npos ? wholeFile(source) : region(source, target.substr(hash + 1));
      ASSERT_FALSE(expected.empty()) << b.page << ": nothing at " << target;
      EXPECT_EQ(joined(expected), joined(b.code)) << b.page << " differs from " << target;
      ++checked;
    }
  }
  EXPECT_GE(checked, 10) << "docs/controllers.md alone has ten C++ blocks";
}

}  // namespace
