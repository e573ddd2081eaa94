// Executable that owns the LibTorch precompiled header for executables (cmake/mdlab_pch.cmake).
int main() { return 0; }
