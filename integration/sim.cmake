# integration/sim.cmake - ctest registrations of the AFD simulator beyond the
# unit tests (tests/test_sim_*.c) and the benchmark smoke run (bench-sim).
# validate --quick: the reduced theory-vs-simulation grid, a CI smoke test
# (< 1 min); it writes into the build tree, never over the committed report.
if(TARGET afd-sim)
  add_test(NAME smoke_validate_quick
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/validate --quick
                   --bin $<TARGET_FILE:afd-sim>
                   --out ${CMAKE_BINARY_DIR}/validation-quick
                   ${AFD_SHARED_DIR}/traces)
  set_tests_properties(smoke_validate_quick PROPERTIES LABELS "smoke;sim"
                       TIMEOUT 300)
endif()
