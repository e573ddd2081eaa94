#include "signals.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace mdlab {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_interrupt(int sig) {
  if (g_signal.exchange(sig) != 0 && sig == SIGINT) {
    // Second Ctrl-C: the user wants out now. Only async-signal-safe calls here.
    static const char msg[] = "\nmdlab: second interrupt, exiting immediately\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof(msg) - 1);
    ::_exit(130);
  }
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupt_requested() { return g_signal.load() != 0; }
int interrupt_signal() { return g_signal.load(); }

}  // namespace mdlab
