// parley_wer: word error rate of one or more recognizers' transcripts against a reference.
//
//   parley_wer [--markdown] [--align] REFERENCE [NAME=]HYPOTHESIS...
//   parley_wer --text "reference words" "hypothesis words"
//
// Transcript files hold one utterance per line, either in the Sphinx `transcription` format
// ("<s> words </s> (utterance_id)", an optional score after the id is ignored) or as
// "utterance_id<TAB>words"; lines without an id are matched by line number. Words are normalised
// (lowercase, punctuation and <s>/</s> markers dropped) before a Levenshtein alignment; the
// output gives per-utterance and total WER with substitutions, deletions and insertions. An
// utterance missing from a hypothesis counts as all deletions.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "speech/wer.h"

using parley::speech::WerResult;

namespace {

// One utterance of a transcript file.
struct Line {
  std::string id;
  std::string text;
};

// Splits "words (id score)" / "id\twords" / "words".
Line parse_line(const std::string& raw, size_t number) {
  std::string s = raw;
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  const size_t open = s.rfind('(');
  if (!s.empty() && s.back() == ')' && open != std::string::npos) {
    std::string inside = s.substr(open + 1, s.size() - open - 2);
    inside = inside.substr(0, inside.find(' '));  // "(id -30200)": the score is not part of it
    return {inside, s.substr(0, open)};
  }
  if (const size_t tab = s.find('\t'); tab != std::string::npos) {
    return {s.substr(0, tab), s.substr(tab + 1)};
  }
  return {"line " + std::to_string(number), s};
}

// Reads a transcript file; false (with a message) if it cannot be read.
bool read_transcripts(const std::string& path, std::vector<Line>& out) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "parley_wer: cannot read '" << path << "'\n";
    return false;
  }
  std::string raw;
  for (size_t n = 1; std::getline(in, raw); ++n) {
    if (raw.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(parse_line(raw, n));
  }
  return true;
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * v);
  return buf;
}

// "12.5% (S 1, D 0, I 1)".
std::string describe(const WerResult& r) {
  return percent(r.wer()) + " (S " + std::to_string(r.substitutions) + ", D " +
         std::to_string(r.deletions) + ", I " + std::to_string(r.insertions) + ")";
}

int usage() {
  std::cerr << "usage: parley_wer [--markdown] [--align] REFERENCE [NAME=]HYPOTHESIS...\n"
               "       parley_wer --text \"reference words\" \"hypothesis words\"\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool markdown = false;
  bool align = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--markdown") {
      markdown = true;
    } else if (a == "--align") {
      align = true;
    } else if (a == "--text") {
      if (i + 2 >= argc) return usage();
      const auto r = parley::speech::word_error_rate(argv[i + 1], argv[i + 2]);
      std::cout << parley::speech::format_alignment(r) << "WER " << describe(r) << ", "
                << r.ref_words << " reference words\n";
      return 0;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.size() < 2) return usage();

  std::vector<Line> ref;
  if (!read_transcripts(args[0], ref)) return 1;
  struct System {
    std::string name;
    std::map<std::string, std::string> by_id;
    WerResult total;
    std::vector<WerResult> per_utt;
  };
  std::vector<System> systems;
  for (size_t k = 1; k < args.size(); ++k) {
    System sys;
    std::string path = args[k];
    if (const size_t eq = path.find('='); eq != std::string::npos) {
      sys.name = path.substr(0, eq);
      path = path.substr(eq + 1);
    } else {
      sys.name = path;
    }
    std::vector<Line> hyp;
    if (!read_transcripts(path, hyp)) return 1;
    for (auto& l : hyp) sys.by_id[l.id] += (sys.by_id.count(l.id) ? " " : "") + l.text;
    systems.push_back(std::move(sys));
  }

  for (auto& sys : systems) {
    for (const Line& r : ref) {
      auto it = sys.by_id.find(r.id);
      if (it == sys.by_id.end()) {
        std::cerr << "parley_wer: " << sys.name << " has no transcript for '" << r.id
                  << "' (counted as all deletions)\n";
      }
      auto result =
          parley::speech::word_error_rate(r.text, it == sys.by_id.end() ? "" : it->second);
      if (align) {
        std::cout << sys.name << " " << r.id << "\n" << parley::speech::format_alignment(result);
      }
      sys.total += result;
      sys.per_utt.push_back(std::move(result));
    }
  }

  if (markdown) {
    std::cout << "| utterance | words |";
    for (const auto& sys : systems) std::cout << " " << sys.name << " WER (S, D, I) |";
    std::cout << "\n|---|---:|";
    for (size_t k = 0; k < systems.size(); ++k) std::cout << "---:|";
    std::cout << "\n";
    for (size_t u = 0; u < ref.size(); ++u) {
      std::cout << "| " << ref[u].id << " | " << systems[0].per_utt[u].ref_words << " |";
      for (const auto& sys : systems) std::cout << " " << describe(sys.per_utt[u]) << " |";
      std::cout << "\n";
    }
    std::cout << "| **total** | " << systems[0].total.ref_words << " |";
    for (const auto& sys : systems) std::cout << " **" << describe(sys.total) << "** |";
    std::cout << "\n";
    return 0;
  }
  for (const auto& sys : systems) {
    for (size_t u = 0; u < ref.size(); ++u) {
      std::cout << sys.name << "\t" << ref[u].id << "\t" << sys.per_utt[u].ref_words << " words\t"
                << describe(sys.per_utt[u]) << "\n";
    }
    std::cout << sys.name << "\tTOTAL\t" << sys.total.ref_words << " words\t" << describe(sys.total)
              << "\n";
  }
  return 0;
}
