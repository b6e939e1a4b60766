// An empty source: the precompiled headers of cmake/precompiled_headers.cmake are built with it.
