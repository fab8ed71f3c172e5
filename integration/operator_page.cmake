# integration/operator_page.cmake - the operator's page in headless Chromium
# against a daemon fed by afd-sim closed-loop (skipped without chromium).
if(TARGET afd-sim)
  add_test(NAME e2e_operator_page
           COMMAND /usr/bin/python3
                   ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_operator_page.py
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_SOURCE_DIR})
  set_tests_properties(e2e_operator_page PROPERTIES LABELS "e2e;page"
                       TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
