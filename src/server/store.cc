// SQLite session store with one writer thread (see include/parley/server/store.h).
#include "parley/server/store.h"

#include <sqlite3.h>

#include <spdlog/spdlog.h>

namespace parley::server {

namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS sessions(
  id TEXT PRIMARY KEY, channel TEXT NOT NULL, graph TEXT NOT NULL, state TEXT NOT NULL,
  isolation TEXT NOT NULL, started_at INTEGER NOT NULL, stopped_at INTEGER NOT NULL,
  worker_pid INTEGER NOT NULL, error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_channel ON sessions(channel);
CREATE TABLE IF NOT EXISTS transcripts(
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, channel TEXT NOT NULL,
  role TEXT NOT NULL, text TEXT NOT NULL, final INTEGER NOT NULL, turn_id INTEGER NOT NULL,
  message_id TEXT NOT NULL, ts INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS transcripts_message ON transcripts(session_id, message_id)
  WHERE message_id <> '';
CREATE INDEX IF NOT EXISTS transcripts_channel ON transcripts(channel, id);
CREATE TABLE IF NOT EXISTS turn_metrics(
  id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, channel TEXT NOT NULL,
  turn_id INTEGER NOT NULL, metrics TEXT NOT NULL, ts INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS turn_metrics_channel ON turn_metrics(channel, id);
)sql";

constexpr const char* kUpsertSession = R"sql(
INSERT INTO sessions(id, channel, graph, state, isolation, started_at, stopped_at, worker_pid, error)
VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT(id) DO UPDATE SET state=excluded.state, stopped_at=excluded.stopped_at,
  worker_pid=excluded.worker_pid, error=excluded.error)sql";

constexpr const char* kUpsertTranscript = R"sql(
INSERT INTO transcripts(session_id, channel, role, text, final, turn_id, message_id, ts)
VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT(session_id, message_id) WHERE message_id <> '' DO UPDATE SET
  text=excluded.text, final=excluded.final, turn_id=excluded.turn_id, ts=excluded.ts)sql";

constexpr const char* kInsertMetrics = R"sql(
INSERT INTO turn_metrics(session_id, channel, turn_id, metrics, ts) VALUES(?1, ?2, ?3, ?4, ?5))sql";

// A prepared statement finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      stmt_ = nullptr;
      prepare_error_ = sqlite3_errmsg(db);
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() { return stmt_; }
  // Makes the statement ready to be bound and stepped again.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void text(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string column_text(int i) {
    const auto* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  }
  int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }
  std::string error() const { return stmt_ ? sqlite3_errmsg(db_) : prepare_error_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string prepare_error_;
};

Result<sqlite3*> open_db(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return unavailable("cannot open the session store '" + path + "': " + why +
                       " (set --db or LOG_PATH to a writable place)");
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

bool step_done(Stmt& s) {
  const int rc = sqlite3_step(s.get());
  return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

}  // namespace

// Prepared once: a write is then bind + step, not a fresh SQL compile per transcript line.
struct Store::WriterStatements {
  explicit WriterStatements(sqlite3* db)
      : session(db, kUpsertSession),
        transcript(db, kUpsertTranscript),
        metrics(db, kInsertMetrics) {}
  Stmt session;
  Stmt transcript;
  Stmt metrics;
};

Status StoreOptions::validate() const {
  if (path.empty() || path == ":memory:" || path.rfind("file::memory:", 0) == 0)
    return invalid_argument("the store needs a file path (an in-memory database has no readers)");
  if (max_queued_writes == 0) return invalid_argument("max_queued_writes must be > 0");
  return Status::ok();
}

Result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  PARLEY_RETURN_IF_ERROR(options.validate());
  std::unique_ptr<Store> store(new Store(std::move(options)));
  PARLEY_ASSIGN_OR_RETURN(
      store->writer_db_, open_db(store->options_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  char* err = nullptr;
  if (sqlite3_exec(store->writer_db_, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    return unavailable("cannot create the tables of '" + store->options_.path + "': " + why);
  }
  store->writer_stmts_ = std::make_unique<WriterStatements>(store->writer_db_);
  for (const Stmt* st : {&store->writer_stmts_->session, &store->writer_stmts_->transcript,
                         &store->writer_stmts_->metrics}) {
    if (!st->ok())
      return unavailable("cannot prepare the writes of '" + store->options_.path +
                         "': " + st->error() + " (was it created by another program?)");
  }
  PARLEY_ASSIGN_OR_RETURN(store->reader_db_, open_db(store->options_.path, SQLITE_OPEN_READONLY));
  store->writer_ = std::thread([s = store.get()] { s->run_writer(); });
  return store;
}

Store::Store(StoreOptions options) : options_(std::move(options)) {}

Store::~Store() {
  close();
  writer_stmts_.reset();  // statements are finalized before their connection closes
  sqlite3_close(reader_db_);
  sqlite3_close(writer_db_);
}

void Store::put_session(SessionRecord record) { enqueue(std::move(record)); }
void Store::put_transcript(TranscriptRecord record) { enqueue(std::move(record)); }
void Store::put_metrics(TurnMetricsRecord record) { enqueue(std::move(record)); }

void Store::enqueue(Op op) {
  {
    std::lock_guard lock(mu_);
    if (closing_ || queue_.size() >= options_.max_queued_writes) {
      ++stats_.dropped;
      return;
    }
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

void Store::flush() {
  std::unique_lock lock(mu_);
  if (!writer_.joinable() || closing_) return;
  const uint64_t ticket = ++next_ticket_;
  queue_.push_back(FlushMarker{ticket});
  cv_.notify_one();
  flushed_cv_.wait(lock, [&] { return done_ticket_ >= ticket || closing_; });
}

void Store::close() {
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    closing_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  flushed_cv_.notify_all();
}

void Store::run_writer() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
    if (queue_.empty() && closing_) return;
    // Take a batch and write it in one transaction: one fsync-free commit per batch.
    std::vector<Op> batch;
    while (!queue_.empty() && batch.size() < 512) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    uint64_t written = 0, failed = 0, ticket = 0;
    sqlite3_exec(writer_db_, "BEGIN", nullptr, nullptr, nullptr);
    for (const Op& op : batch) {
      if (const auto* m = std::get_if<FlushMarker>(&op)) {
        ticket = std::max(ticket, m->ticket);
        continue;
      }
      (apply(op) ? written : failed)++;
    }
    if (sqlite3_exec(writer_db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      spdlog::error("store: commit to {} failed: {}", options_.path, sqlite3_errmsg(writer_db_));
      sqlite3_exec(writer_db_, "ROLLBACK", nullptr, nullptr, nullptr);
      failed += written;
      written = 0;
    }
    lock.lock();
    stats_.written += written;
    stats_.failed += failed;
    if (ticket > done_ticket_) done_ticket_ = ticket;
    flushed_cv_.notify_all();
  }
}

bool Store::apply(const Op& op) {
  if (const auto* s = std::get_if<SessionRecord>(&op)) {
    Stmt& st = writer_stmts_->session;
    st.reset();
    st.text(1, s->id);
    st.text(2, s->channel);
    st.text(3, s->graph);
    st.text(4, s->state);
    st.text(5, s->isolation);
    st.integer(6, s->started_at_ms);
    st.integer(7, s->stopped_at_ms);
    st.integer(8, s->worker_pid);
    st.text(9, s->error);
    if (step_done(st)) return true;
    spdlog::error("store: session {}: {}", s->id, st.error());
    return false;
  }
  if (const auto* t = std::get_if<TranscriptRecord>(&op)) {
    Stmt& st = writer_stmts_->transcript;
    st.reset();
    st.text(1, t->session_id);
    st.text(2, t->channel);
    st.text(3, t->role);
    st.text(4, t->text);
    st.integer(5, t->final ? 1 : 0);
    st.integer(6, t->turn_id);
    st.text(7, t->message_id);
    st.integer(8, t->ts_ms);
    if (step_done(st)) return true;
    spdlog::error("store: transcript of {}: {}", t->channel, st.error());
    return false;
  }
  const auto& m = std::get<TurnMetricsRecord>(op);
  Stmt& st = writer_stmts_->metrics;
  st.reset();
  st.text(1, m.session_id);
  st.text(2, m.channel);
  st.integer(3, m.turn_id);
  st.text(4, m.metrics.dump());
  st.integer(5, m.ts_ms);
  if (step_done(st)) return true;
  spdlog::error("store: metrics of {}: {}", m.channel, st.error());
  return false;
}

Result<std::vector<TranscriptRecord>> Store::transcript(const std::string& channel, size_t limit) {
  std::lock_guard lock(reader_mu_);
  Stmt st(reader_db_,
          "SELECT session_id, channel, role, text, final, turn_id, message_id, ts FROM transcripts "
          "WHERE channel = ?1 ORDER BY id LIMIT ?2");
  if (!st.ok()) return unavailable("store: " + std::string(sqlite3_errmsg(reader_db_)));
  st.text(1, channel);
  st.integer(2, static_cast<int64_t>(limit));
  std::vector<TranscriptRecord> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    TranscriptRecord r;
    r.session_id = st.column_text(0);
    r.channel = st.column_text(1);
    r.role = st.column_text(2);
    r.text = st.column_text(3);
    r.final = st.column_int(4) != 0;
    r.turn_id = st.column_int(5);
    r.message_id = st.column_text(6);
    r.ts_ms = st.column_int(7);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<SessionRecord>> Store::sessions(size_t limit) {
  std::lock_guard lock(reader_mu_);
  Stmt st(reader_db_,
          "SELECT id, channel, graph, state, isolation, started_at, stopped_at, worker_pid, error "
          "FROM sessions ORDER BY started_at DESC LIMIT ?1");
  if (!st.ok()) return unavailable("store: " + std::string(sqlite3_errmsg(reader_db_)));
  st.integer(1, static_cast<int64_t>(limit));
  std::vector<SessionRecord> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    SessionRecord r;
    r.id = st.column_text(0);
    r.channel = st.column_text(1);
    r.graph = st.column_text(2);
    r.state = st.column_text(3);
    r.isolation = st.column_text(4);
    r.started_at_ms = st.column_int(5);
    r.stopped_at_ms = st.column_int(6);
    r.worker_pid = st.column_int(7);
    r.error = st.column_text(8);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<TurnMetricsRecord>> Store::metrics(const std::string& channel, size_t limit) {
  std::lock_guard lock(reader_mu_);
  Stmt st(reader_db_,
          "SELECT session_id, channel, turn_id, metrics, ts FROM turn_metrics WHERE channel = ?1 "
          "ORDER BY id LIMIT ?2");
  if (!st.ok()) return unavailable("store: " + std::string(sqlite3_errmsg(reader_db_)));
  st.text(1, channel);
  st.integer(2, static_cast<int64_t>(limit));
  std::vector<TurnMetricsRecord> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    TurnMetricsRecord r;
    r.session_id = st.column_text(0);
    r.channel = st.column_text(1);
    r.turn_id = st.column_int(2);
    r.metrics = nlohmann::json::parse(st.column_text(3), nullptr, false);
    r.ts_ms = st.column_int(4);
    out.push_back(std::move(r));
  }
  return out;
}

StoreStats Store::stats() const {
  std::lock_guard lock(mu_);
  StoreStats s = stats_;
  s.queued = queue_.size();
  return s;
}

}  // namespace parley::server
