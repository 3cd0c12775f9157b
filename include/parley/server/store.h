// The session store: sessions, transcripts and per-turn metrics in SQLite (WAL). Writes are queued
// and applied by one writer thread in batched transactions, so callers on I/O threads never wait
// for the disk; reads use their own connection and may block (call them off the I/O threads).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/status.h"

struct sqlite3;

namespace parley::server {

// One agent session, as stored (upserted by id on every state change).
struct SessionRecord {
  std::string id;
  std::string channel;
  std::string graph;
  // "starting", "running", "stopping", "stopped" or "failed".
  std::string state;
  // "process" or "thread".
  std::string isolation;
  int64_t started_at_ms = 0;  // Unix ms when /start arrived
  int64_t stopped_at_ms = 0;  // Unix ms when it ended; 0 while alive
  int64_t worker_pid = 0;     // 0 for thread isolation
  std::string error;          // why it failed, or ""
};

// One line of a conversation. Rows with the same (session_id, message_id) are one message whose
// text is updated until it is final; rows without message_id are appended.
struct TranscriptRecord {
  std::string session_id;
  std::string channel;
  std::string role;  // "user" or "assistant" (as the agent sent it)
  std::string text;
  bool final = true;
  int64_t turn_id = 0;
  std::string message_id;
  int64_t ts_ms = 0;  // Unix ms
};

// Stage timings of one turn, as the agent's `metrics` event carried them.
struct TurnMetricsRecord {
  std::string session_id;
  std::string channel;
  int64_t turn_id = 0;
  nlohmann::json metrics;
  int64_t ts_ms = 0;
};

// Where and how the store keeps its data.
struct StoreOptions {
  // SQLite file; ":memory:" is not allowed (readers need the same database).
  std::string path = "parley.db";
  // Writes that may wait for the writer thread; beyond it new writes are dropped and counted.
  size_t max_queued_writes = 100000;

  Status validate() const;
};

// Counters of a store.
struct StoreStats {
  uint64_t written = 0;
  uint64_t dropped = 0;  // writes refused because the queue was full
  uint64_t failed = 0;   // writes SQLite refused
  size_t queued = 0;
};

// SQLite-backed store. All methods are thread-safe.
class Store {
 public:
  // Opens (creating if needed) the database, switches it to WAL and creates the tables.
  static Result<std::unique_ptr<Store>> open(StoreOptions options);
  // Flushes and closes.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queue writes (never block on the disk).
  void put_session(SessionRecord record);
  void put_transcript(TranscriptRecord record);
  void put_metrics(TurnMetricsRecord record);

  // Blocks until every write queued before the call is on disk.
  void flush();
  // Flushes and stops the writer; later writes are dropped. Idempotent.
  void close();

  // Blocking reads (their own connection).
  // The transcript of every session of `channel`, oldest first (at most `limit` rows).
  Result<std::vector<TranscriptRecord>> transcript(const std::string& channel,
                                                   size_t limit = 10000);
  // Sessions, newest first.
  Result<std::vector<SessionRecord>> sessions(size_t limit = 100);
  // Per-turn metrics of `channel`, oldest first.
  Result<std::vector<TurnMetricsRecord>> metrics(const std::string& channel, size_t limit = 10000);

  StoreStats stats() const;
  const std::string& path() const { return options_.path; }

 private:
  struct FlushMarker {
    uint64_t ticket;
  };
  using Op = std::variant<SessionRecord, TranscriptRecord, TurnMetricsRecord, FlushMarker>;

  explicit Store(StoreOptions options);
  // The writer's prepared statements (store.cc), prepared once at open.
  struct WriterStatements;

  void enqueue(Op op);
  void run_writer();
  bool apply(const Op& op);

  StoreOptions options_;
  sqlite3* writer_db_ = nullptr;
  std::unique_ptr<WriterStatements> writer_stmts_;  // used by the writer thread only
  sqlite3* reader_db_ = nullptr;
  std::mutex reader_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable flushed_cv_;
  std::deque<Op> queue_;
  bool closing_ = false;
  uint64_t next_ticket_ = 0;
  uint64_t done_ticket_ = 0;
  StoreStats stats_;
  std::thread writer_;
};

}  // namespace parley::server
