// Status and Result<T>: how Parley reports recoverable failures without exceptions.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace parley {

// Broad category of a failure; stable across releases so callers may branch on it.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller passed something malformed
  kNotFound,            // a named thing (file, addon, node, graph) does not exist
  kAlreadyExists,       // a unique name was used twice
  kFailedPrecondition,  // the object is not in a state that allows the call
  kUnavailable,         // a resource (decoder, worker, peer) is busy or gone; retry may help
  kDeadlineExceeded,    // a timeout expired
  kCancelled,           // work was cancelled (flush, stop)
  kDataLoss,            // input was truncated or corrupt
  kUnimplemented,       // the feature is not supported
  kInternal,            // a bug or an unexpected exception
};

// Human-readable name of a status code ("invalid_argument", ...).
const char* status_code_name(StatusCode code);

// The outcome of an operation: ok, or a code with a message saying what was wrong.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  // A successful status.
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: <message>", or "ok".
  std::string to_string() const;
  // Returns a copy whose message is prefixed with `context: `.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Shorthands for building error statuses.
inline Status invalid_argument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status failed_precondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status deadline_exceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }

// A value of type T, or the Status explaining why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok() && "Result built from an ok Status has no value");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  // The error; Status::ok() when a value is held.
  Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace parley

// Returns the status from the enclosing function if `expr` is not ok.
#define PARLEY_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    ::parley::Status parley_status_ = (expr);           \
    if (!parley_status_.is_ok()) return parley_status_; \
  } while (0)

#define PARLEY_CONCAT_INNER_(a, b) a##b
#define PARLEY_CONCAT_(a, b) PARLEY_CONCAT_INNER_(a, b)

// `PARLEY_ASSIGN_OR_RETURN(auto x, make_x());` — binds the value or returns the error.
#define PARLEY_ASSIGN_OR_RETURN(lhs, expr)                    \
  auto PARLEY_CONCAT_(parley_result_, __LINE__) = (expr);     \
  if (!PARLEY_CONCAT_(parley_result_, __LINE__).is_ok())      \
    return PARLEY_CONCAT_(parley_result_, __LINE__).status(); \
  lhs = std::move(PARLEY_CONCAT_(parley_result_, __LINE__)).value()
