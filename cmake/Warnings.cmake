# Warnings are errors per target, never through global flags, so that third-party code built
# alongside (GoogleTest, Boost headers) is not held to them.
function(connscope_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wconversion -Wsign-conversion -Wdouble-promotion
    -Wformat=2 -Wimplicit-fallthrough -Werror)
endfunction()

# Tests use GoogleTest macros that trip -Wconversion style warnings; keep the useful ones.
function(connscope_test_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Werror)
endfunction()
