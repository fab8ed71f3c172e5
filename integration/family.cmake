# integration/family.cmake - the scenario family (plugin/demo/family.h) in
# its CI size: three closed-loop runs on hardware the daemon is not told
# about (one plain, one with a 60 s scale-out delay, one drifting). It
# checks that every run completes with figures in range and prints them;
# the efficiency targets are reported, not asserted (README).
if(TARGET afd-sim)
  add_test(NAME e2e_family_quick
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_family.py
                   ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(e2e_family_quick PROPERTIES LABELS "e2e;demo;family"
                       TIMEOUT 600)
endif()
