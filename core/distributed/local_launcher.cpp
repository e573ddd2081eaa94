#include "local_launcher.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace mdlab {

namespace {

std::atomic<int> g_forward_signal{0};

void record_signal(int sig) {
  g_forward_signal.store(sig);
}

// One worker: its process, its stderr pipe, what it printed last.
struct Worker {
  pid_t pid = -1;
  int err = -1;            // read end of its stderr
  std::string partial;     // an unfinished line
  std::string last_error;  // its last line that reports an error
  bool running = true;
  int status = 0;
};

// Relays complete lines of `w` to our stderr (prefixed for ranks > 0); at EOF, the rest.
void relay(Worker& w, int64_t rank, bool eof) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(w.err, buffer, sizeof buffer);
    if (n <= 0) break;
    w.partial.append(buffer, static_cast<size_t>(n));
  }
  size_t start = 0;
  for (size_t end; (end = w.partial.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = w.partial.substr(start, end - start);
    if (line.find("error") != std::string::npos) w.last_error = line;
    const std::string prefix = rank == 0 ? "" : fmt::format("[rank {}] ", rank);
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), line.c_str());
  }
  w.partial.erase(0, start);
  if (eof && !w.partial.empty()) {
    if (w.partial.find("error") != std::string::npos) w.last_error = w.partial;
    std::fprintf(stderr, "%s%s\n", rank == 0 ? "" : fmt::format("[rank {}] ", rank).c_str(),
                 w.partial.c_str());
    w.partial.clear();
  }
}

std::string describe(int status) {
  if (status >= 128)
    return fmt::format("killed by signal {} ({})", status - 128, strsignal(status - 128));
  return fmt::format("exit status {}", status);
}

}  // namespace

bool launched_by_mdlab() {
  const char* v = std::getenv("MDLAB_LAUNCHED");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  MDLAB_CHECK(fd >= 0, "distributed: cannot open a socket to find a free port: {}",
              std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  MDLAB_CHECK(ok, "distributed: cannot find a free port on 127.0.0.1: {}", std::strerror(errno));
  return ntohs(addr.sin_port);
}

LaunchResult launch_local(int64_t nproc, const std::vector<std::string>& args,
                          std::chrono::seconds grace) {
  MDLAB_CHECK(nproc >= 1 && nproc <= 1024, "--nproc {} is not in [1, 1024]", nproc);
  const int port = free_local_port();
  std::vector<Worker> workers(static_cast<size_t>(nproc));
  struct sigaction forward {};
  forward.sa_handler = record_signal;
  sigemptyset(&forward.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &forward, &old_int);
  sigaction(SIGTERM, &forward, &old_term);
  std::fflush(stdout);
  std::fflush(stderr);
  for (int64_t rank = 0; rank < nproc; ++rank) {
    int fds[2];
    MDLAB_CHECK(::pipe(fds) == 0, "distributed: pipe: {}", std::strerror(errno));
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    MDLAB_CHECK(pid >= 0, "distributed: cannot start rank {}: {}", rank, std::strerror(errno));
    if (pid == 0) {
      // The worker: its own process group, dead with the launcher, stderr into the pipe.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(fds[1], STDERR_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      const std::string r = std::to_string(rank), w = std::to_string(nproc),
                        p = std::to_string(port);
      ::setenv("RANK", r.c_str(), 1);
      ::setenv("LOCAL_RANK", r.c_str(), 1);
      ::setenv("WORLD_SIZE", w.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", p.c_str(), 1);
      ::setenv("MDLAB_LAUNCHED", "1", 1);
      std::vector<std::string> storage{"mdlab"};
      storage.insert(storage.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : storage) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "mdlab: error: cannot start rank %lld: %s\n",
                   static_cast<long long>(rank), std::strerror(errno));
      ::_exit(127);
    }
    ::close(fds[1]);
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    workers[static_cast<size_t>(rank)].pid = pid;
    workers[static_cast<size_t>(rank)].err = fds[0];
  }

  LaunchResult result;
  bool interrupted = false;
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  size_t running = workers.size();
  while (running > 0) {
    if (const int sig = g_forward_signal.exchange(0); sig != 0) {
      interrupted = true;
      for (auto& w : workers)
        if (w.running) ::kill(w.pid, sig);
    }
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      for (auto& w : workers)
        if (w.running) ::kill(w.pid, SIGKILL);
      kill_at.reset();
    }
    std::vector<pollfd> fds;
    for (auto& w : workers) fds.push_back({w.err, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 100);
    for (size_t r = 0; r < workers.size(); ++r) relay(workers[r], static_cast<int64_t>(r), false);
    for (size_t r = 0; r < workers.size(); ++r) {
      auto& w = workers[r];
      if (!w.running) continue;
      int raw = 0;
      if (::waitpid(w.pid, &raw, WNOHANG) != w.pid) continue;
      w.running = false;
      --running;
      w.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      relay(w, static_cast<int64_t>(r), true);
      ::close(w.err);
      if (w.status != 0 && !interrupted && !result.failed_rank) {
        result.failed_rank = static_cast<int64_t>(r);
        result.reason = describe(w.status);
        if (!w.last_error.empty()) result.reason += ": " + w.last_error;
        // The others would wait in a collective for the rank that is gone.
        for (auto& other : workers)
          if (other.running) ::kill(other.pid, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + grace;
      }
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  for (const auto& w : workers) result.statuses.push_back(w.status);
  if (result.failed_rank) {
    const int first = result.statuses[static_cast<size_t>(*result.failed_rank)];
    result.status = first == 2 ? 2 : 1;  // a configuration error keeps its status
  } else if (interrupted) {
    result.status = 130;
  } else {
    result.status = 0;
    for (int s : result.statuses)
      if (s != 0) result.status = s == 130 ? 130 : 1;
  }
  return result;
}

}  // namespace mdlab
