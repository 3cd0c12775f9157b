// Word error rate by Levenshtein alignment over normalised words (see speech/wer.h).
#include "speech/wer.h"

#include <algorithm>
#include <cctype>

namespace parley::speech {
namespace {

// True for tokens PocketSphinx and Sphinx transcripts use as markers rather than words.
bool is_marker(std::string_view token) {
  if (token.size() >= 2 && token.front() == '<' && token.back() == '>') return true;
  if (token.size() >= 2 && token.front() == '[' && token.back() == ']') return true;
  return token.size() >= 4 && token.substr(0, 2) == "++" && token.substr(token.size() - 2) == "++";
}

// Appends the words of one whitespace-separated token (punctuation splits it further).
void split_token(std::string_view token, std::vector<std::string>& out) {
  std::string word;
  auto flush = [&] {
    // Apostrophes only count inside a word: "'tis" and "dashwoods'" lose them.
    while (!word.empty() && word.back() == '\'') word.pop_back();
    size_t lead = 0;
    while (lead < word.size() && word[lead] == '\'') ++lead;
    if (lead < word.size()) out.push_back(word.substr(lead));
    word.clear();
  };
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '\'') {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else {
      flush();
    }
  }
  flush();
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

double WerResult::wer() const {
  if (ref_words == 0) return static_cast<double>(errors());
  return static_cast<double>(errors()) / static_cast<double>(ref_words);
}

WerResult& WerResult::operator+=(const WerResult& other) {
  ref_words += other.ref_words;
  hyp_words += other.hyp_words;
  substitutions += other.substitutions;
  deletions += other.deletions;
  insertions += other.insertions;
  return *this;
}

std::vector<std::string> normalize_words(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    size_t end = pos;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end > pos) {
      const std::string_view token = text.substr(pos, end - pos);
      if (!is_marker(token)) split_token(token, out);
    }
    pos = end;
  }
  return out;
}

WerResult word_error_rate(const std::vector<std::string>& ref,
                          const std::vector<std::string>& hyp) {
  const size_t n = ref.size();
  const size_t m = hyp.size();
  // cost[i][j]: edits turning ref[0..i) into hyp[0..j).
  std::vector<std::vector<size_t>> cost(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) cost[i][0] = i;
  for (size_t j = 0; j <= m; ++j) cost[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t diagonal = cost[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1);
      cost[i][j] = std::min({diagonal, cost[i - 1][j] + 1, cost[i][j - 1] + 1});
    }
  }
  WerResult r;
  r.ref_words = n;
  r.hyp_words = m;
  // Walk back from the end, preferring the diagonal (match or substitution) on ties.
  size_t i = n;
  size_t j = m;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)) {
      const bool same = ref[i - 1] == hyp[j - 1];
      r.alignment.push_back({same ? AlignedWord::Op::kMatch : AlignedWord::Op::kSubstitution,
                             ref[i - 1], hyp[j - 1]});
      if (!same) ++r.substitutions;
      --i;
      --j;
    } else if (i > 0 && cost[i][j] == cost[i - 1][j] + 1) {
      r.alignment.push_back({AlignedWord::Op::kDeletion, ref[i - 1], ""});
      ++r.deletions;
      --i;
    } else {
      r.alignment.push_back({AlignedWord::Op::kInsertion, "", hyp[j - 1]});
      ++r.insertions;
      --j;
    }
  }
  std::reverse(r.alignment.begin(), r.alignment.end());
  return r;
}

WerResult word_error_rate(std::string_view ref_text, std::string_view hyp_text) {
  return word_error_rate(normalize_words(ref_text), normalize_words(hyp_text));
}

std::string format_alignment(const WerResult& result) {
  std::string ref_line = "REF:";
  std::string hyp_line = "HYP:";
  for (const AlignedWord& w : result.alignment) {
    const bool error = w.op != AlignedWord::Op::kMatch;
    std::string ref = w.ref.empty() ? std::string() : (error ? upper(w.ref) : w.ref);
    std::string hyp = w.hyp.empty() ? std::string() : (error ? upper(w.hyp) : w.hyp);
    const size_t width = std::max(ref.size(), hyp.size());
    if (ref.empty()) ref.assign(width, '*');
    if (hyp.empty()) hyp.assign(width, '*');
    ref.resize(width, ' ');
    hyp.resize(width, ' ');
    ref_line += " " + ref;
    hyp_line += " " + hyp;
  }
  while (!ref_line.empty() && ref_line.back() == ' ') ref_line.pop_back();
  while (!hyp_line.empty() && hyp_line.back() == ' ') hyp_line.pop_back();
  return ref_line + "\n" + hyp_line + "\n";
}

}  // namespace parley::speech
