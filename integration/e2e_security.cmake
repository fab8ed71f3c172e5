# Security end-to-end test: TLS, mTLS and the bearer token of `afd-sizer
# serve` (integration/e2e/test_security.py). Certificates are made with the
# openssl command at test time, never committed. Debian's /usr/bin/python3
# has grpcio and grpc_tools.
add_test(NAME e2e_test_security
         COMMAND /usr/bin/python3
                 ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_security.py
                 ${CMAKE_BINARY_DIR}/bin)
set_tests_properties(e2e_test_security PROPERTIES LABELS "e2e;grpc;security"
                     TIMEOUT 300)
