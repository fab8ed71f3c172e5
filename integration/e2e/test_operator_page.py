#!/usr/bin/python3
"""The operator's page end to end: a real `afd-sizer serve` fed by
`afd-sim scenario --policy closed-loop --plugin` (smoke scenario), the page
opened in headless Chromium (Debian's `chromium`): a screenshot is taken and
the rendered DOM must contain the deployment, its r* (as /metrics reports
it) and the last command id; a second deployment whose name holds a
<script> tag must render as text, never as an element.

usage: test_operator_page.py BIN_DIR SOURCE_DIR [--figure PNG]
Exit 77 (skipped) when chromium is not installed.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpc_e2e_common import (Checks, Daemon, finish,  # noqa: E402
                             report_exception)
from test_closed_loop import CONFIG, metric  # noqa: E402

EVIL = "<script>alert(1)</script>"


def sim(bin_dir, scenario, addr, deployment):
    return subprocess.run(
        [os.path.join(bin_dir, "afd-sim"), "scenario", "--scenario",
         scenario, "--seed", "7", "--policy", "closed-loop", "--plugin",
         addr, "--deployment", deployment, "--actuation-delay-s", "3",
         "--json"], capture_output=True, text=True, timeout=120)


def chromium(browser, args, url):
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--hide-scrollbars", "--window-size=1280,1150"] + args + [url],
        capture_output=True, text=True, timeout=120)


def main():
    bin_dir, src = sys.argv[1], sys.argv[2]
    figure = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--figure" \
        else None
    browser = shutil.which("chromium")
    if not browser:
        print("SKIP: chromium not installed (apt-get install -y chromium)")
        return 77
    scenario = os.path.join(src, "integration", "scenarios", "smoke.json")
    checks = Checks("test_operator_page")
    tmp = tempfile.mkdtemp(prefix="test_operator_page-")
    d = Daemon(bin_dir, tmp, config=CONFIG).start()
    try:
        p = sim(bin_dir, scenario, d.grpc_addr, "smoke")
        checks.check("afd-sim (smoke) exits 0", p.returncode == 0, p.stderr)
        p = sim(bin_dir, scenario, d.grpc_addr, EVIL)
        checks.check("afd-sim (<script> name) exits 0", p.returncode == 0,
                     p.stderr)
        with urllib.request.urlopen("http://%s/metrics" % d.http_addr,
                                    timeout=10) as r:
            met = r.read().decode()
        r_star = metric(met, "afd_r_star", "smoke")
        last_id = metric(met, "afd_last_command_id", "smoke")
        checks.check("metrics give r* and a last command", r_star is not None
                     and last_id is not None and last_id > 0,
                     "%r %r" % (r_star, last_id))
        shot = os.path.join(tmp, "page.png")
        c = chromium(browser, ["--screenshot=" + shot],
                     "http://%s/d/smoke" % d.http_addr)
        checks.check("chromium takes a screenshot",
                     os.path.exists(shot) and os.path.getsize(shot) > 10000,
                     c.stderr[-500:])
        if figure and os.path.exists(shot):
            shutil.copyfile(shot, figure)
        c = chromium(browser, ["--dump-dom"], "http://%s/" % d.http_addr)
        dom = c.stdout
        checks.check("chromium dumps the DOM", "<svg" in dom, c.stderr[-500:])
        checks.check("DOM names the deployment", ">smoke</a>" in dom)
        want = "<td class=\"rstar\">%.4g</td>" % r_star if r_star else "?"
        checks.check("DOM shows r* as /metrics reports it (%s)" % want,
                     want in dom)
        row = "<td>%d</td>" % last_id if last_id else "?"
        checks.check("DOM lists the last command id %s" % row,
                     "class=\"cmd\"><td>%s</td>" % row[4:-5] in dom, dom[-800:])
        checks.check("<script> name renders as text",
                     "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and
                     "<script" not in dom)
        enc = urllib.parse.quote(EVIL, safe="")
        c = chromium(browser, ["--dump-dom"],
                     "http://%s/d/%s" % (d.http_addr, enc))
        checks.check("/d/<script name> renders, as text",
                     "&lt;script&gt;" in c.stdout and "<script" not in c.stdout,
                     c.stdout[:300])
    except Exception as e:  # report, never hang silently
        report_exception(checks, e)
    finally:
        rc = d.stop()
    checks.check("daemon exits 0 on SIGTERM", rc == 0, str(rc))
    return finish(checks, tmp)


if __name__ == "__main__":
    sys.exit(main())
