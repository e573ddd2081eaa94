#include <mdlab/error.h>

#include <utility>

namespace mdlab {

Error::Error(std::string message, const char* function, const char* file, int line)
    : std::runtime_error(message),
      message_(std::move(message)),
      function_(function ? function : ""),
      file_(file ? file : ""),
      line_(line) {}

Error::~Error() = default;

}  // namespace mdlab
