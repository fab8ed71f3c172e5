# integration/grafana.cmake - the Grafana dashboard's queries evaluated by a
# real Prometheus scraping a daemon fed by afd-sim closed-loop.
if(TARGET afd-sim)
  add_test(NAME e2e_grafana
           COMMAND /usr/bin/python3
                   ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_grafana.py
                   ${CMAKE_BINARY_DIR}/bin ${CMAKE_SOURCE_DIR})
  set_tests_properties(e2e_grafana PROPERTIES LABELS "e2e;grafana;prometheus"
                       TIMEOUT 300)
endif()
