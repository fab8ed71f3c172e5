# Coverage-guided fuzzing (libFuzzer, ASan+UBSan) of every decoder the
# daemon and the tools feed with untrusted bytes: integration/fuzz/.
# Only with clang and -DAFD_FUZZ=ON, in its own build directory:
#   CC=clang cmake -S . -B build-fuzz -DAFD_FUZZ=ON && \
#     cmake --build build-fuzz --target afd_fuzz_all -j2
#   (cd build-fuzz && ctest -L fuzz)
# The project libraries get -fsanitize=fuzzer-no-link,address,undefined
# (coverage, no main), the targets -fsanitize=fuzzer,address,undefined.
# Each target is a ctest (fuzz_NAME) running AFD_FUZZ_SECONDS seconds from
# the committed seeds (integration/fuzz/corpus/NAME, read-only; new inputs go
# to build-fuzz/fuzz-corpus/NAME); each file in integration/fuzz/regress/
# NAME is replayed by fuzz_regress_NAME. integration/fuzz/run-long.sh runs
# them longer and prints coverage.
option(AFD_FUZZ "Build the libFuzzer targets (clang only)" OFF)
if(AFD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "AFD_FUZZ=ON needs clang: CC=clang cmake ...")
  endif()
  set(AFD_FUZZ_SECONDS 15 CACHE STRING "Seconds per fuzz target in ctest")
  set(fz ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
  set(san -fsanitize=address,undefined -fno-sanitize-recover=undefined
          -fno-omit-frame-pointer)
  foreach(lib afd_base afd_estimator afd_controller afd_proto afd_sys afd_io
              afd_rpc afd_daemon afd_sim)
    if(TARGET ${lib})
      target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link ${san})
    endif()
  endforeach()

  add_library(afd_fuzz_support STATIC ${fz}/fuzz_util.c ${fz}/fuzz_net.c)
  target_include_directories(afd_fuzz_support PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(afd_fuzz_support PUBLIC afd_daemon)
  target_compile_options(afd_fuzz_support PRIVATE -fsanitize=fuzzer-no-link
                         ${san})
  # The service targets replace the gRPC call layer (plugin/rpc/grpc_call.c)
  # with fuzz_svc.c's stand-in; its object comes first on the link line, so
  # it wins over the archive's copy that the Dynamo client drags in.
  add_library(afd_fuzz_svc OBJECT ${fz}/fuzz_svc.c)
  target_include_directories(afd_fuzz_svc PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(afd_fuzz_svc PUBLIC afd_daemon)
  target_compile_options(afd_fuzz_svc PRIVATE -fsanitize=fuzzer-no-link
                         ${san})

  set(svc_targets telemetry sizer keda control)
  set(all_targets ${svc_targets} config profile scenario trace measure
                  snapshot http alertmanager)
  add_custom_target(afd_fuzz_all)
  foreach(name ${all_targets})
    set(exe fuzz_${name})
    add_executable(${exe} ${fz}/fuzz_${name}.c)
    target_compile_options(${exe} PRIVATE -fsanitize=fuzzer ${san})
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer ${san})
    if(name IN_LIST svc_targets)
      target_sources(${exe} PRIVATE $<TARGET_OBJECTS:afd_fuzz_svc>)
      target_link_options(${exe} PRIVATE -Wl,--allow-multiple-definition)
    endif()
    target_link_libraries(${exe} PRIVATE afd_fuzz_support afd_sim afd_daemon)
    add_dependencies(afd_fuzz_all ${exe})

    set(work ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
    file(MAKE_DIRECTORY ${work} ${CMAKE_BINARY_DIR}/fuzz-artifacts)
    add_test(NAME fuzz_${name}
             COMMAND ${exe} -max_total_time=${AFD_FUZZ_SECONDS}
                     -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
                     -max_len=8192
                     -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-artifacts/${name}-
                     ${work} ${fz}/corpus/${name})
    set_tests_properties(fuzz_${name} PROPERTIES LABELS "fuzz"
                         TIMEOUT 300)
    file(GLOB regress CONFIGURE_DEPENDS ${fz}/regress/${name}/*)
    if(regress)
      add_test(NAME fuzz_regress_${name} COMMAND ${exe} ${regress})
      set_tests_properties(fuzz_regress_${name} PROPERTIES LABELS "fuzz"
                           TIMEOUT 120)
    endif()
  endforeach()
endif()
