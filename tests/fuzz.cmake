# ctest registrations of the fuzz targets (fuzz/CMakeLists.txt): the corpus
# replay in every build, the libFuzzer run in clang builds.
add_subdirectory(${PROJECT_SOURCE_DIR}/fuzz ${PROJECT_BINARY_DIR}/fuzz)
