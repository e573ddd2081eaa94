// Translation unit that owns the LibTorch precompiled header (cmake/mdlab_pch.cmake).
