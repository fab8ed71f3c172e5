# Operator integrations (integration/k8s, integration/prometheus,
# integration/examples): the KEDA ScaledObject checked against KEDA's
# documented fields, the Prometheus alert rules checked and unit-tested by
# promtool, and the example worker run end to end against `afd-sizer serve`.
# Debian's /usr/bin/python3 has grpcio, grpc_tools and yaml (python3-yaml);
# promtool comes from the Debian package `prometheus`.
set(AFD_SYSTEM_PYTHON /usr/bin/python3)
set(AFD_OPS_DIR ${CMAKE_CURRENT_SOURCE_DIR})

add_test(NAME operators_validate_scaledobject
         COMMAND ${AFD_SYSTEM_PYTHON} ${AFD_OPS_DIR}/k8s/validate_scaledobject.py
                 ${AFD_OPS_DIR}/k8s/scaledobject.yaml)
# Negative cases, among them a copy of scaledobject.yaml with an unknown key.
add_test(NAME operators_validate_scaledobject_cases
         COMMAND ${AFD_SYSTEM_PYTHON}
                 ${AFD_OPS_DIR}/k8s/test_validate_scaledobject.py)
set_tests_properties(operators_validate_scaledobject
                     operators_validate_scaledobject_cases
                     PROPERTIES LABELS "operators;k8s" TIMEOUT 120)

find_program(AFD_PROMTOOL promtool)
if(AFD_PROMTOOL)
  add_test(NAME operators_promtool_check_rules
           COMMAND ${AFD_PROMTOOL} check rules
                   ${AFD_OPS_DIR}/prometheus/afd-alerts.yml)
  add_test(NAME operators_promtool_test_rules
           COMMAND ${AFD_PROMTOOL} test rules
                   ${AFD_OPS_DIR}/prometheus/afd-alerts_test.yml
           WORKING_DIRECTORY ${AFD_OPS_DIR}/prometheus)
else()
  # Fail loudly rather than skip: a rule file nobody checked is worse.
  foreach(t check_rules test_rules)
    add_test(NAME operators_promtool_${t}
             COMMAND sh -c "echo 'promtool not found: install the Debian package prometheus (.ci/setup.sh does)' >&2; exit 1")
  endforeach()
endif()
set_tests_properties(operators_promtool_check_rules
                     operators_promtool_test_rules
                     PROPERTIES LABELS "operators;prometheus" TIMEOUT 120)

add_test(NAME operators_worker_e2e
         COMMAND ${AFD_SYSTEM_PYTHON} ${AFD_OPS_DIR}/examples/test_worker_e2e.py
                 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(operators_worker_e2e PROPERTIES
                     LABELS "operators;e2e" TIMEOUT 300)
