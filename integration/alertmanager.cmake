# Alertmanager delivery against a real peer: integration/am_probe.c drives
# plugin/alertmanager on a libevent loop from stdin commands, and
# integration/e2e/test_alertmanager.py starts Debian's prometheus-alertmanager
# on loopback, checks what arrives (amtool and GET /api/v2/alerts), stops and
# restarts it. Run with Debian's /usr/bin/python3.
add_executable(am-probe ${CMAKE_CURRENT_SOURCE_DIR}/am_probe.c)
target_link_libraries(am-probe PRIVATE afd_daemon)
add_test(NAME e2e_test_alertmanager
         COMMAND /usr/bin/python3
                 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_alertmanager.py
                 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(e2e_test_alertmanager PROPERTIES
                     LABELS "e2e;alertmanager" TIMEOUT 300)
