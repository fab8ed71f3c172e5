# gRPC end-to-end tests: each integration/e2e/test_grpc_*.py starts
# `afd-sizer serve` from the bin dir on loopback port 0, talks to it with a
# python3-grpcio client (stubs generated from proto/ at test time) and stops
# it with SIGTERM expecting exit 0. Debian's /usr/bin/python3 has grpcio and
# grpc_tools (the pyenv python3 on PATH does not).
set(AFD_SYSTEM_PYTHON /usr/bin/python3)
file(GLOB AFD_E2E_GRPC_TESTS CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_grpc_*.py)
foreach(script ${AFD_E2E_GRPC_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME e2e_${name}
           COMMAND ${AFD_SYSTEM_PYTHON} ${script} ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e;grpc" TIMEOUT 300)
endforeach()
