// TextSegmenter: cuts a stream of LLM text deltas into speakable pieces at sentence (and, for the
// first piece of a reply, clause) boundaries, so TTS can start before the reply is complete.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::llm {

// How eagerly text is cut.
struct TextSegmenterConfig {
  // Let the first piece of a reply end at a clause boundary (, ; : —) to start speech early.
  bool first_clause = true;
  // A clause cut needs at least this many characters before it (avoids "Well," alone).
  size_t min_clause_chars = 12;
  // Any piece longer than this is cut at the last space, so TTS never waits for a run-on sentence.
  size_t max_chars = 240;
};

// Stateful splitter; one per reply.
class TextSegmenter {
 public:
  explicit TextSegmenter(TextSegmenterConfig config = {}) : config_(config) {}
  // Adds a delta; returns the pieces it completed (trimmed, non-empty), in order.
  std::vector<std::string> push(std::string_view delta);
  // Returns what is left at the end of the reply (trimmed; may be empty) and resets.
  std::string finish();
  // Forgets buffered text (used when a reply is cancelled).
  void reset();

 private:
  // Position just after the boundary at which to cut `buffer_`, or npos.
  size_t find_cut() const;
  TextSegmenterConfig config_;
  std::string buffer_;
  bool first_ = true;
};

}  // namespace parley::llm
