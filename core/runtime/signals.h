// SIGINT / SIGTERM handling for runs: the handler only records the request; the training
// loop polls it between steps, writes a checkpoint and the run log, and exits with 130.
// A second SIGINT while the first is being handled ends the process at once.
#pragma once

namespace mdlab {

/// Installs the handlers (idempotent).
void install_interrupt_handlers();
/// True once SIGINT or SIGTERM arrived.
bool interrupt_requested();
/// The signal that arrived (0 if none).
int interrupt_signal();

}  // namespace mdlab
