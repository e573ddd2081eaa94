// A shared library named like a plugin that exports no handshake symbol.
extern "C" __attribute__((visibility("default"))) int mdlab_test_unrelated_function(void) {
  return 42;
}
