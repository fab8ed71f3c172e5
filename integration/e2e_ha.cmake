# HA end to end (plugin/ha/, plugin/daemon/replication.c): a 3-member etcd
# cluster from Debian's etcd-server, three `afd-sizer serve --etcd-endpoints`
# replicas and a Python deployment closing the loop through the leader;
# leader kills, a command in flight across a failover, etcd frozen.
# RUN_SERIAL: its TTL timings must not compete with other tests for 2 cores.
add_test(NAME e2e_test_ha
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ha.py
                 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(e2e_test_ha PROPERTIES LABELS "e2e;grpc;ha" TIMEOUT 300
                     RUN_SERIAL TRUE)

# The closed loop (afd-sim --plugin A,B,C, default scenario) through three
# replicas, without and with two leader kills: within one point.
add_test(NAME e2e_test_ha_loop
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ha_loop.py
                 ${CMAKE_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_test_ha_loop PROPERTIES LABELS "e2e;grpc;ha"
                     TIMEOUT 600 RUN_SERIAL TRUE)
