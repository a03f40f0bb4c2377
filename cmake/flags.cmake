# SPDX-License-Identifier: Apache-2.0
#
# Compiler flags shared by every target: warnings are errors, hardening on, sanitizers optional.
set(KH_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Wvla -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wundef -Wcast-qual -Werror)
add_compile_options(${KH_WARNINGS})
add_compile_options(-fstack-protector-strong -fno-strict-aliasing)
add_compile_definitions(_GNU_SOURCE)
if(CMAKE_BUILD_TYPE STREQUAL "Release" OR CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_link_options(-Wl,-z,relro,-z,now)

if(KH_SANITIZE)
  set(KH_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${KH_SAN_FLAGS})
  add_link_options(${KH_SAN_FLAGS})
endif()

if(KH_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KH_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
