// Status and Result<T>: how every fallible library call reports failure.
//
// The library never throws across its API. A call that can fail returns
// Result<T> (a std::expected) or Status (Result<void>); the error carries a
// code that tools map to exit statuses and RPC maps to error codes, and a
// lowercase message without a trailing full stop that names the subject:
//   "field 'nonce': non-canonical integer encoding"
#ifndef GTOS_UTIL_STATUS_H_
#define GTOS_UTIL_STATUS_H_

#include <expected>
#include <string>
#include <utility>

namespace gtos {

enum class ErrorCode {
  kInvalid = 1,    // bad input: malformed record, bad hex, failed check
  kNotFound = 2,   // a named thing does not exist
  kIO = 3,         // the operating system refused (open, write, rename)
  kUsage = 4,      // the caller combined options wrongly (exit status 2)
  kCrypto = 5,     // signature / decryption failure
  kInternal = 6,   // a bug: an invariant did not hold
  kExists = 7,     // an output that may not be replaced exists (exit status 2)
};

struct Error {
  ErrorCode code = ErrorCode::kInvalid;
  std::string message;
  std::string hint;  // optional advice, printed as "hint: ..." by tools
};

template <class T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline std::unexpected<Error> Fail(ErrorCode code, std::string message, std::string hint = {}) {
  return std::unexpected<Error>(Error{code, std::move(message), std::move(hint)});
}
inline std::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kInvalid, std::move(message));
}
inline Status Ok() { return {}; }

// Prefix an error's message with context ("record 3: ...").
inline Error Wrap(Error e, const std::string& prefix) {
  e.message = prefix + ": " + e.message;
  return e;
}

}  // namespace gtos

// Propagate an error from an expression returning Status/Result.
#define GTOS_TRY(expr)                                              \
  do {                                                              \
    auto gtos_try_status_ = (expr);                                 \
    if (!gtos_try_status_) return std::unexpected(gtos_try_status_.error()); \
  } while (0)

#endif  // GTOS_UTIL_STATUS_H_
