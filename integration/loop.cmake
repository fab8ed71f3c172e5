# integration/loop.cmake - the closed loop end to end: afd-sim scenario
# --policy closed-loop against a real afd-sizer serve (telemetry clock) on
# integration/scenarios/smoke.json, twice (same seed, same JSON); plus the
# offline policies of the smoke scenario as a CLI smoke run.
if(TARGET afd-sim)
  add_test(NAME e2e_closed_loop
           COMMAND /usr/bin/python3
                   ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_closed_loop.py
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_SOURCE_DIR})
  set_tests_properties(e2e_closed_loop PROPERTIES LABELS "e2e;grpc;loop"
                       TIMEOUT 300)
  foreach(policy static-first-phase best-static oracle static:8)
    string(REPLACE ":" "_" tag ${policy})
    add_test(NAME smoke_scenario_${tag}
             COMMAND afd-sim scenario --scenario
                     ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/smoke.json
                     --policy ${policy} --json)
    set_tests_properties(smoke_scenario_${tag} PROPERTIES
                         LABELS "smoke;sim;loop"
                         PASS_REGULAR_EXPRESSION "\"throughput_per_device\"")
  endforeach()
endif()
