# The closed loop through NVIDIA Dynamo's planner (integration/e2e/
# test_dynamo_loop.py, a stand-in planner driving afd-sim): --part loop
# (parity with the WatchCommands loop against the oracle, determinism) and
# --part constrain (a rival propose plugin clamped by our CONSTRAIN band).
# The plain build runs them on the default scenario (40-60 s and 25-45 s on
# 2 shared cores); the sanitizer build, where afd-sim and the daemon run
# ~3x slower, on the smoke scenario the closed-loop e2e uses (10-15 s).
if(AFD_SANITIZE)
  set(AFD_DYNAMO_SCENARIO smoke.json)
else()
  set(AFD_DYNAMO_SCENARIO default.json)
endif()
foreach(part loop constrain)
  add_test(NAME e2e_dynamo_${part}
           COMMAND /usr/bin/python3
                   ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_dynamo_loop.py
                   ${CMAKE_BINARY_DIR}/bin --part ${part} --scenario
                   ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/${AFD_DYNAMO_SCENARIO})
  set_tests_properties(e2e_dynamo_${part} PROPERTIES
                       LABELS "e2e;grpc;dynamo" TIMEOUT 300)
endforeach()
