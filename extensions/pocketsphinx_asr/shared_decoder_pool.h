// The process-wide PocketSphinx decoder pool the pocketsphinx_asr addon borrows decoders from.
//
// Every session (every pocketsphinx_asr node in every graph of the process) shares one
// speech::DecoderPool per model, created on first use: the first node to ask sets its `warm` and
// `max`, and later nodes asking with other values get the existing pool (first use wins; they are
// told so, to log it). With the default Debian model, that is one pool for the whole process.
#pragma once

#include <cstddef>

#include "speech/decoder_pool.h"

namespace parley::asr {

// The answer of shared_decoder_pool().
struct SharedPool {
  // The pool; it lives until the process exits (never destroyed, so leases held by static
  // objects or late threads stay valid).
  speech::DecoderPool* pool = nullptr;
  // True for the caller that created the pool (it should start the pool's prewarm).
  bool created = false;
  // The pool's own warm and max, which differ from the caller's when another node came first.
  size_t warm = 0;
  size_t max = 0;
};

// Returns the pool for `config`'s model, creating it with `warm` and `max` on first use.
// Thread-safe and cheap (loads nothing).
SharedPool shared_decoder_pool(const speech::PocketSphinxConfig& config, size_t warm, size_t max);

}  // namespace parley::asr
