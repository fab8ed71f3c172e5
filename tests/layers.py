#!/usr/bin/env python3
"""layers.py - the floor plan, checked: every #include line of the C sources
must point down (or sideways inside one floor), never up.

usage: layers.py SOURCE_ROOT | --self-test

A file belongs to the floor of the longest matching folder in FLOORS. An
include of a project header ("dir/name.h") must name a floor listed as
allowed for the including floor; an include of a library header (<grpc/...>)
must name a library that floor may use. Exit 1 with one line per violation,
"file:line: floor 'X' may not include 'Y' (allowed: ...)".
"""
import os
import re
import sys

# floor -> project floors it may include (besides itself).
BASE = ["estimator/base"]
EST = BASE + ["estimator"]
CTL = EST + ["controller"]
FLOORS = {
    "estimator/base": [],
    "estimator": BASE,
    "controller": EST,
    "plugin/sys": BASE,
    "plugin/io": EST + ["plugin/sys"],
    "plugin/rpc": BASE + ["plugin/sys"],
    # HA: the etcd client (over plugin/rpc) and the pure election machine.
    "plugin/ha": BASE + ["plugin/sys", "plugin/rpc", "proto"],
    "plugin/daemon": CTL + ["plugin/sys", "plugin/io", "plugin/rpc",
                            "plugin/ha", "proto"],
    "plugin/demo": EST + ["plugin/sys", "plugin/io"],
    "plugin/cli": CTL + ["plugin/sys", "plugin/io", "plugin/rpc",
                         "plugin/ha", "plugin/daemon", "plugin/demo", "proto"],
    # The simulator is a product of its own: it may speak gRPC to a daemon
    # and read the same files, but links no daemon, demo or CLI code.
    "integration/sim": CTL + ["plugin/sys", "plugin/io", "plugin/rpc",
                              "proto", "integration/sim"],
    "integration": None,  # benchmarks, load generator, probes: anything
    "tests": None,        # unit tests: anything
}
# floor -> third-party libraries it may include; None = any.
LIBS = {
    "estimator/base": [], "estimator": [], "controller": [],
    "plugin/sys": ["pthread"],
    "plugin/io": ["jansson"],
    "plugin/rpc": ["grpc", "protobuf-c", "event2", "pthread"],
    "plugin/ha": ["protobuf-c", "pthread"],
    "plugin/daemon": ["event2", "jansson", "protobuf-c", "grpc", "pthread"],
    "plugin/demo": ["jansson"],
    "plugin/cli": ["jansson", "pthread"],
    "integration/sim": ["jansson", "pthread"],
    "integration": None, "tests": None,
}
THIRD_PARTY = {"grpc": r"grpc/", "protobuf-c": r"protobuf-c/",
               "event2": r"event2/", "jansson": r"jansson\.h",
               "pthread": r"pthread\.h", "cmocka": r"cmocka\.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def floor_of(rel):
    best = None
    for f in FLOORS:
        if rel == f or rel.startswith(f + "/"):
            if best is None or len(f) > len(best):
                best = f
    return best


def self_test():
    """An upward include and a forbidden library must both be caught."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "estimator"))
        os.makedirs(os.path.join(tmp, "plugin", "io"))
        with open(os.path.join(tmp, "estimator", "a.c"), "w") as fh:
            fh.write('#include "plugin/io/x.h"\n#include <jansson.h>\n')
        with open(os.path.join(tmp, "plugin", "io", "x.h"), "w") as fh:
            fh.write('#include "estimator/a.h"\n')
        bad = check(tmp)[0]
    want = ["estimator/a.c:1:", "estimator/a.c:2:"]
    ok = len(bad) == 2 and all(b.startswith(w) for b, w in zip(bad, want))
    print("layers self-test:", "ok" if ok else f"FAILED {bad}")
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad, files = check(root)
    for b in bad:
        print(b)
    print(f"layers: {files} files checked, {len(bad)} violations")
    return 1 if bad or files == 0 else 0


def check(root):
    bad, files = [], 0
    for top in ("estimator", "controller", "plugin", "integration", "tests"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                floor = floor_of(os.path.dirname(rel))
                if floor is None:
                    bad.append(f"{rel}: in no floor of the plan; add its folder to FLOORS")
                    continue
                files += 1
                with open(path, encoding="utf-8") as fh:
                    for no, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        kind, target = m.groups()
                        if kind == '"':
                            allowed = FLOORS[floor]
                            tfloor = floor_of(os.path.dirname(target)) or \
                                target.split("/")[0]
                            if allowed is None or tfloor == floor or \
                                    tfloor in allowed:
                                continue
                            bad.append(f"{rel}:{no}: floor '{floor}' may not "
                                       f"include '{target}' (allowed: "
                                       f"{', '.join(allowed) or 'nothing'})")
                        else:
                            libs = LIBS[floor]
                            if libs is None:
                                continue
                            for lib, pat in THIRD_PARTY.items():
                                if re.match(pat, target) and lib not in libs:
                                    bad.append(f"{rel}:{no}: floor '{floor}' "
                                               f"may not use {lib} (<{target}>)")
    return bad, files


if __name__ == "__main__":
    sys.exit(main())
