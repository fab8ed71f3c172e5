# integration/main_job.cmake - the README's main job (`afd-sizer demo` on the
# default scenario) with the issue's acceptance numbers asserted.
if(TARGET afd-sim AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/default.json)
  add_test(NAME e2e_main_job
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_main_job.py
                   ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_main_job PROPERTIES LABELS "e2e;demo;main" TIMEOUT 900)
endif()
