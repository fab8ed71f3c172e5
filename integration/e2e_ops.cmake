# Operations end-to-end tests: each integration/e2e/test_ops_*.py starts
# `afd-sizer serve` from the bin dir on loopback (port 0), and checks
# /metrics with promtool and a real Prometheus it starts itself, restart
# with the same snapshot, a corrupt snapshot and broken config files. Run
# with Debian's /usr/bin/python3 (grpcio, grpc_tools); promtool and
# prometheus come from the Debian package `prometheus`.
set(AFD_SYSTEM_PYTHON /usr/bin/python3)
file(GLOB AFD_E2E_OPS_TESTS CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ops_*.py)
foreach(script ${AFD_E2E_OPS_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME e2e_${name}
           COMMAND ${AFD_SYSTEM_PYTHON} ${script} ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e;ops" TIMEOUT 300)
endforeach()
