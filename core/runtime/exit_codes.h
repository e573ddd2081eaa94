// Exit statuses of the mdlab command (documented in docs/cli.md).
#pragma once

namespace mdlab {

inline constexpr int kExitOk = 0;           ///< success
inline constexpr int kExitFailure = 1;      ///< runtime failure (I/O, NaN loss, plugin error)
inline constexpr int kExitUsage = 2;        ///< bad command line or config error
inline constexpr int kExitInterrupted = 130;  ///< SIGINT/SIGTERM; the run can be resumed

}  // namespace mdlab
