// Word error rate (WER) for measuring recognizers: text normalisation, a Levenshtein alignment of
// hypothesis words against reference words, and the counts of substitutions, deletions and
// insertions — the figure `bench/asr_accuracy.sh` records in docs/benchmarks.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace parley::speech {

// One step of an alignment between reference and hypothesis words.
struct AlignedWord {
  enum class Op { kMatch, kSubstitution, kDeletion, kInsertion };
  Op op = Op::kMatch;
  // Empty for an insertion.
  std::string ref;
  // Empty for a deletion.
  std::string hyp;
};

// The outcome of comparing a hypothesis with its reference.
struct WerResult {
  size_t ref_words = 0;
  size_t hyp_words = 0;
  size_t substitutions = 0;
  size_t deletions = 0;
  size_t insertions = 0;
  // A minimum-cost alignment, in reference order.
  std::vector<AlignedWord> alignment;

  // substitutions + deletions + insertions.
  size_t errors() const { return substitutions + deletions + insertions; }
  // errors() / ref_words (0 when both are empty; errors() when the reference is empty).
  double wer() const;
  // Adds another utterance's counts (not its alignment), for corpus totals.
  WerResult& operator+=(const WerResult& other);
};

// Lowercases `text` and splits it into words. Sentence markers and fillers (<s>, </s>, <sil>,
// [noise], ++garbage++) are dropped, punctuation becomes a word break ("cold-hearted" is two
// words), apostrophes inside words are kept ("don't").
std::vector<std::string> normalize_words(std::string_view text);

// Aligns `hyp` against `ref` with unit costs (Levenshtein over words) and counts the errors.
// Among equal-cost alignments, substitutions are preferred over a deletion plus an insertion.
WerResult word_error_rate(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);

// normalize_words on both texts, then word_error_rate.
WerResult word_error_rate(std::string_view ref_text, std::string_view hyp_text);

// The alignment as two aligned lines, "REF: and MISTER john ***" / "HYP: and MR     john GUESS",
// errors in upper case, '*' filling the missing side.
std::string format_alignment(const WerResult& result);

}  // namespace parley::speech
