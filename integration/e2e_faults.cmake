# Fault tests (issue 12): each integration/e2e/test_faults*.py runs real
# daemons under slow clients, kill -9 during snapshot writes, a file-size
# limit and held-open streams. Debian's /usr/bin/python3 (grpcio,
# grpc_tools); prlimit from util-linux.
file(GLOB AFD_E2E_FAULT_TESTS CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_faults*.py)
foreach(script ${AFD_E2E_FAULT_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME e2e_${name}
           COMMAND /usr/bin/python3 ${script} ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e;faults" TIMEOUT 300)
endforeach()
