/* test_page.c - the operator's page: HTML escaping and the rendered state. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "estimator/base/error.h"
#include "plugin/daemon/page.h"
#include "plugin/daemon/registry.h"

#define EVIL "<script>alert('x')</script>&\""

/* ensure the five HTML specials become entities and the rest is kept */
static void test_html_escape(void **state)
{
    char out[128];

    (void)state;
    assert_int_equal(afd_html_escape("a<b>&\"'z", out, sizeof(out)),
                     strlen("a&lt;b&gt;&amp;&quot;&#39;z"));
    assert_string_equal(out, "a&lt;b&gt;&amp;&quot;&#39;z");
    afd_html_escape("plain caf\xc3\xa9", out, sizeof(out));
    assert_string_equal(out, "plain caf\xc3\xa9");
    afd_html_escape(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

/* ensure truncation never cuts an entity in half */
static void test_html_escape_truncates_whole_entities(void **state)
{
    char out[8];

    (void)state;
    /* "ab&lt;" is 6 bytes, "&gt;" would need 10 with the NUL: dropped */
    assert_int_equal(afd_html_escape("ab<>", out, sizeof(out)), 6);
    assert_string_equal(out, "ab&lt;");
}

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
};

static void step(struct afd_registry *reg, const char *dep, const char *id,
                 double load)
{
    struct afd_step_sample s;

    memset(&s, 0, sizeof(s));
    s.instance_id = id;
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = 256;
    s.token_load = load;
    s.attention_ms = 10;
    assert_int_equal(afd_registry_add_step(reg, dep, &s, 0, NULL), 0);
}

static char *render(struct afd_registry *reg, const char *name, int *rc)
{
    struct evbuffer *b = evbuffer_new();
    struct afd_metrics_src src = {.reg = reg};
    size_t n;
    char *text;

    assert_non_null(b);
    *rc = afd_page_render(&src, name, b);
    n = evbuffer_get_length(b);
    text = malloc(n + 1);
    assert_non_null(text);
    evbuffer_remove(b, text, n);
    text[n] = '\0';
    evbuffer_free(b);
    return text;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    afd_config_default(&f->cfg);
    f->cfg.auto_create_deployments = false;
    f->cfg.n_deployments = 2;
    f->cfg.deployments = calloc(2, sizeof(*f->cfg.deployments));
    f->cfg.deployments[0] = f->cfg.default_deployment;
    f->cfg.deployments[1] = f->cfg.default_deployment;
    strcpy(f->cfg.deployments[0].name, "prod");
    strcpy(f->cfg.deployments[1].name, EVIL);
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    step(f->reg, "prod", "a0", 25600);
    step(f->reg, "prod", "a1", 30000);
    afd_registry_tick(f->reg, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

/* ensure / lists both deployments, the telemetry name only escaped */
static void test_page_all_escapes_names(void **state)
{
    struct fixture *f = *state;
    int rc;
    char *t = render(f->reg, NULL, &rc);

    assert_int_equal(rc, AFD_OK);
    afd_assert_starts_with(t, "<!doctype html>");
    afd_assert_contains(t, "<meta http-equiv='refresh'");
    afd_assert_contains(t, "2 deployments");
    afd_assert_contains(t, ">prod</a>");
    afd_assert_contains(t, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
                           "&amp;&quot;");
    assert_null(strstr(t, "<script"));
    /* no external assets: no src= or stylesheet links at all */
    assert_null(strstr(t, "src="));
    assert_null(strstr(t, "<link"));
    free(t);
}

/* ensure /d/prod shows r*, the curve and the regime of the recommendation */
static void test_page_one_deployment(void **state)
{
    struct fixture *f = *state;
    struct afd_deployment *d = afd_registry_find(f->reg, "prod");
    const struct afd_recommendation *rec;
    char want[64];
    int rc;
    char *t;

    assert_non_null(d);
    rec = afd_deployment_recommendation(d);
    assert_true(rec->valid);
    t = render(f->reg, "prod", &rc);
    assert_int_equal(rc, AFD_OK);
    afd_assert_contains(t, "<a href='/'>all deployments</a>");
    assert_null(strstr(t, "&lt;script"));
    snprintf(want, sizeof(want), "<td class='rstar'>%.4g</td>",
             rec->solution.r_star);
    afd_assert_contains(t, want);
    afd_assert_contains(t, "<svg");
    afd_assert_contains(t, "<polyline");
    afd_assert_contains(t, afd_regime_name(rec->current_regime));
    afd_assert_contains(t, "controller: not evaluated yet");
    /* theta from the two live loads, with its 95% interval:
     * 1.96 * sd(25600, 30000) / sqrt(2) / 256 = 16.84 */
    assert_true(fabs(rec->theta_ci - 1.96 * 2200 / 256) < 1e-9);
    snprintf(want, sizeof(want), "%.4g &plusmn; %.2g tokens (live loads)",
             rec->theta, rec->theta_ci);
    afd_assert_contains(t, want);
    /* Calibration with its 95% interval, aA first (estimator/calib.h). */
    snprintf(want, sizeof(want), "aA %.4g &plusmn; %.2g", rec->calib.value[0],
             rec->calib.ci[0]);
    afd_assert_contains(t, want);
    free(t);
}

/* ensure an unknown deployment is AFD_ENOTFOUND */
static void test_page_unknown(void **state)
{
    struct fixture *f = *state;
    int rc;
    char *t = render(f->reg, "nope", &rc);

    assert_int_equal(rc, AFD_ENOTFOUND);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_html_escape_truncates_whole_entities),
        cmocka_unit_test_setup_teardown(test_page_all_escapes_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_page_one_deployment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_page_unknown, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
