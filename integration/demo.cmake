# integration/demo.cmake - end-to-end test of `afd-sizer demo`: the small
# scenario integration/scenarios/smoke.json through the real daemon and
# afd-sim processes; checks the JSON, same seed -> same result, and that
# nothing (process, port, temp dir) is left behind, also after SIGTERM.
if(TARGET afd-sim AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/smoke.json)
  add_test(NAME e2e_demo
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_demo.py
                   ${CMAKE_BINARY_DIR}/bin
                   ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/smoke.json)
  set_tests_properties(e2e_demo PROPERTIES LABELS "e2e;demo" TIMEOUT 600)
endif()

# Issue 11 acceptance on every scenario: alerts only at workload shifts, at
# most one raise per name per phase, sizing-regime alerts exactly where the
# term binding r* changes (e2e/test_demo_alerts.py).
if(TARGET afd-sim AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/default.json)
  add_test(NAME e2e_demo_alerts
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_demo_alerts.py
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_CURRENT_SOURCE_DIR}/scenarios
                   ${CMAKE_SOURCE_DIR}/../shared/traces)
  set_tests_properties(e2e_demo_alerts PROPERTIES LABELS "e2e;demo" TIMEOUT 900)
endif()
