# Controller end-to-end tests (plugin/daemon/control.c, svc_control.c): each
# integration/e2e/test_control_*.py starts `afd-sizer serve` (and, for the
# alert test, a real prometheus-alertmanager) on loopback, drives it with a
# python3-grpcio client and stops everything, expecting exit 0.
set(AFD_SYSTEM_PYTHON /usr/bin/python3)
file(GLOB AFD_E2E_CONTROL_TESTS CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_control_*.py)
foreach(script ${AFD_E2E_CONTROL_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME e2e_${name}
           COMMAND ${AFD_SYSTEM_PYTHON} ${script} ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_${name} PROPERTIES LABELS "e2e;grpc;control"
                       TIMEOUT 300)
endforeach()
