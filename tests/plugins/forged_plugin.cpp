// Deliberately broken plugins: a handshake written by hand so each test variant can lie about
// one field (compile definitions select which). The loader must refuse every one of them
// before touching a C++ symbol, with its own message.
#include <mdlab/plugin.h>

#ifndef FORGED_ABI_MAJOR
#define FORGED_ABI_MAJOR MDLAB_SDK_ABI_MAJOR
#endif
#ifndef FORGED_API_MINOR
#define FORGED_API_MINOR MDLAB_SDK_API_MINOR
#endif
#ifndef FORGED_TORCH_VERSION
#define FORGED_TORCH_VERSION \
  MDLAB_DETAIL_STR(TORCH_VERSION_MAJOR) "." MDLAB_DETAIL_STR(TORCH_VERSION_MINOR) "." MDLAB_DETAIL_STR(TORCH_VERSION_PATCH)
#endif
#ifndef FORGED_CXX11_ABI
#define FORGED_CXX11_ABI _GLIBCXX_USE_CXX11_ABI
#endif
#ifndef FORGED_KIND
#define FORGED_KIND MDLAB_PLUGIN_EVALUATOR
#endif

extern "C" MDLAB_PLUGIN_EXPORT const mdlab_plugin_info* mdlab_plugin_get_info(void) {
  static const mdlab_plugin_info info = {FORGED_ABI_MAJOR,
                                         static_cast<uint32_t>(sizeof(mdlab_plugin_info)),
                                         FORGED_API_MINOR,
                                         FORGED_KIND,
                                         FORGED_NAME,
                                         "0.0.1",
                                         "deliberately broken test plugin",
                                         FORGED_TORCH_VERSION,
                                         FORGED_CXX11_ABI,
                                         MDLAB_DETAIL_COMPILER};
  return &info;
}
// No factory alias: a variant whose handshake is right must still be refused for lacking it.
