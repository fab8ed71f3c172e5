# afd-loadgen: telemetry load generator for `afd-sizer serve`, on the gRPC
# C core client API. It prints figures (accepted step samples per second,
# daemon peak RSS, live instances, decision latency); CI runs it only as
# a smoke run that checks the daemon accepted everything sent and that no
# process is left behind - never speed.
add_executable(afd-loadgen ${CMAKE_CURRENT_SOURCE_DIR}/loadgen.c
                           ${CMAKE_CURRENT_SOURCE_DIR}/loadgen_daemon.c
                           ${CMAKE_CURRENT_SOURCE_DIR}/loadgen_pool.c
                           ${CMAKE_CURRENT_SOURCE_DIR}/loadgen_stream.c
                           ${CMAKE_CURRENT_SOURCE_DIR}/loadgen_decide.c)
target_link_libraries(afd-loadgen PRIVATE afd_rpc afd_estimator afd_proto ${MATH_LIBRARY})

add_test(NAME smoke_loadgen
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_loadgen.sh
                 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(smoke_loadgen PROPERTIES LABELS "smoke;e2e;loadgen"
                     TIMEOUT 180)
