// Sentence and clause segmentation of streamed LLM text.
#include "llm/text_segmenter.h"

#include <array>
#include <cctype>

namespace parley::llm {

namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Abbreviations whose period does not end a sentence.
bool is_abbreviation(std::string_view text, size_t dot) {
  static constexpr std::array<std::string_view, 12> kAbbrev = {
      "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e"};
  size_t start = dot;
  while (start > 0 && !std::isspace(static_cast<unsigned char>(text[start - 1]))) --start;
  std::string word;
  for (size_t i = start; i < dot; ++i)
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  for (auto a : kAbbrev)
    if (word == a) return true;
  // A single capital letter ("J. R. R. Tolkien").
  return dot - start == 1 && std::isupper(static_cast<unsigned char>(text[start]));
}

// UTF-8 sentence enders that need no following space (CJK full stops).
size_t cjk_end(std::string_view s, size_t i) {
  static constexpr std::array<std::string_view, 3> kEnders = {"\xE3\x80\x82", "\xEF\xBC\x81",
                                                              "\xEF\xBC\x9F"};
  for (auto e : kEnders)
    if (s.substr(i, e.size()) == e) return i + e.size();
  return std::string_view::npos;
}

}  // namespace

size_t TextSegmenter::find_cut() const {
  const std::string_view s = buffer_;
  size_t clause_cut = std::string_view::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    if (size_t c = cjk_end(s, i); c != std::string_view::npos) return c;
    const char ch = s[i];
    // A boundary counts only once the next character is known to be a space (so "3.5" and
    // "e.g." at the end of a delta are not cut too early).
    if (i + 1 >= s.size()) break;
    const bool space_next = std::isspace(static_cast<unsigned char>(s[i + 1]));
    if ((ch == '.' || ch == '!' || ch == '?') && space_next) {
      if (ch == '.' && is_abbreviation(s, i)) continue;
      return i + 1;
    }
    if (first_ && config_.first_clause && clause_cut == std::string_view::npos &&
        (ch == ',' || ch == ';' || ch == ':') && space_next && i + 1 >= config_.min_clause_chars) {
      clause_cut = i + 1;
    }
    if (s[i] == '\n' && i > 0) return i + 1;
  }
  if (clause_cut != std::string_view::npos) return clause_cut;
  if (s.size() > config_.max_chars) {
    size_t space = s.rfind(' ', config_.max_chars);
    return space == std::string_view::npos || space == 0 ? config_.max_chars : space;
  }
  return std::string_view::npos;
}

std::vector<std::string> TextSegmenter::push(std::string_view delta) {
  buffer_.append(delta);
  std::vector<std::string> out;
  while (true) {
    const size_t cut = find_cut();
    if (cut == std::string_view::npos) break;
    std::string piece = trim(std::string_view(buffer_).substr(0, cut));
    buffer_.erase(0, cut);
    if (!piece.empty()) {
      out.push_back(std::move(piece));
      first_ = false;
    }
  }
  return out;
}

std::string TextSegmenter::finish() {
  std::string rest = trim(buffer_);
  reset();
  return rest;
}

void TextSegmenter::reset() {
  buffer_.clear();
  first_ = true;
}

}  // namespace parley::llm
