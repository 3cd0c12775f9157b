// Tests for speech/wer.h: normalisation, Levenshtein alignment and error counts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "speech/wer.h"

namespace parley::speech {
namespace {

using Words = std::vector<std::string>;

TEST(WerTest, NormalizesCaseMarkersAndPunctuation) {
  EXPECT_EQ(normalize_words("<s> He was NOT an ill-disposed young man. </s>"),
            (Words{"he", "was", "not", "an", "ill", "disposed", "young", "man"}));
  EXPECT_EQ(normalize_words("Don't  stop [NOISE] <sil> ++BREATH++ 'quoted'"),
            (Words{"don't", "stop", "quoted"}));
  EXPECT_TRUE(normalize_words("  \t\n").empty());
}

TEST(WerTest, IdenticalTextHasNoErrors) {
  const auto r = word_error_rate("he was not an ill disposed young man",
                                 "<s> He was not an ill disposed young man </s>");
  EXPECT_EQ(r.ref_words, 8u);
  EXPECT_EQ(r.errors(), 0u);
  EXPECT_DOUBLE_EQ(r.wer(), 0.0);
}

TEST(WerTest, CountsSubstitutionsDeletionsAndInsertions) {
  // The LibriVox reference against pocketsphinx_continuous's hypothesis for file 0880.
  const auto r = word_error_rate("he was not an ill disposed young man",
                                 "he was not an illness those young man");
  EXPECT_EQ(r.substitutions, 2u);  // ill→illness, disposed→those
  EXPECT_EQ(r.deletions, 0u);
  EXPECT_EQ(r.insertions, 0u);
  EXPECT_DOUBLE_EQ(r.wer(), 2.0 / 8.0);

  const auto del = word_error_rate("a b c d", "a c");
  EXPECT_EQ(del.deletions, 2u);
  EXPECT_EQ(del.errors(), 2u);
  const auto ins = word_error_rate("a b", "x a b y z");
  EXPECT_EQ(ins.insertions, 3u);
  EXPECT_DOUBLE_EQ(ins.wer(), 1.5);  // WER can exceed 100%
}

TEST(WerTest, EmptySidesAreAllDeletionsOrInsertions) {
  EXPECT_EQ(word_error_rate("one two three", "").deletions, 3u);
  EXPECT_DOUBLE_EQ(word_error_rate("one two three", "").wer(), 1.0);
  EXPECT_EQ(word_error_rate("", "one").insertions, 1u);
  EXPECT_DOUBLE_EQ(word_error_rate("", "").wer(), 0.0);
}

TEST(WerTest, AlignmentIsMinimalAndInReferenceOrder) {
  const auto r = word_error_rate(Words{"the", "cat", "sat", "down"}, Words{"a", "cat", "sat"});
  ASSERT_EQ(r.alignment.size(), 4u);
  EXPECT_EQ(r.alignment[0].op, AlignedWord::Op::kSubstitution);
  EXPECT_EQ(r.alignment[1].op, AlignedWord::Op::kMatch);
  EXPECT_EQ(r.alignment[2].op, AlignedWord::Op::kMatch);
  EXPECT_EQ(r.alignment[3].op, AlignedWord::Op::kDeletion);
  EXPECT_EQ(format_alignment(r), "REF: THE cat sat DOWN\nHYP: A   cat sat ****\n");
}

TEST(WerTest, TotalsAddUp) {
  WerResult total;
  total += word_error_rate("a b c d", "a x c d");
  total += word_error_rate("e f", "e");
  EXPECT_EQ(total.ref_words, 6u);
  EXPECT_EQ(total.errors(), 2u);
  EXPECT_DOUBLE_EQ(total.wer(), 2.0 / 6.0);
}

}  // namespace
}  // namespace parley::speech
