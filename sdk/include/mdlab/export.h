// Symbol visibility for the mdlab SDK library. Everything else (core, plugins) is built with
// hidden visibility; only declarations marked MDLAB_SDK_API cross library boundaries, which
// keeps one vtable and one typeinfo per SDK interface in the process.
#pragma once

#if defined(MDLAB_SDK_BUILDING)
/// Marks a declaration exported from libmdlab_sdk.
#define MDLAB_SDK_API __attribute__((visibility("default")))
#else
/// Marks a declaration imported from libmdlab_sdk.
#define MDLAB_SDK_API __attribute__((visibility("default")))
#endif

/// Marks a symbol a plugin exports to the host (the C handshake and the factory alias).
#define MDLAB_PLUGIN_EXPORT __attribute__((visibility("default")))
