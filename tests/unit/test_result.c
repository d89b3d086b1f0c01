/* test_result.c -- the result builder (result.c) and variable binding
 * (bind.c): the exact bytes of each result form, and the binding rules. */
#include "test.h"

static tg_tensor *vec(double a, double b)
{
    return tg_from_data(TG_FLOAT32, 1, (int64_t[]){2}, (float[]){(float)a, (float)b});
}

TEST(result_grad_compact_pretty_and_extra)
{
    tg_tensor *v = tg_scalar(6, TG_FLOAT32), *g[3] = {tg_scalar(3, TG_FLOAT32), NULL, vec(1, 2)};
    const char *names[3] = {"x", "n", "w"};
    tg_buf b = {0};
    CHECK(tg_result_grad(&b, v, names, g, 3, false, NULL) == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"value\":6,\"grad\":{\"x\":3,\"w\":[1,2]}}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_grad(&b, v, names, g, 3, true, ",\"k\":1") == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\n  \"value\": 6,\n  \"grad\": {\n    \"x\": 3,\n    \"w\": [1,2]\n  },\"k\":1\n}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_grad(&b, v, NULL, g, 3, false, NULL) == TG_OK); /* --no-grad */
    CHECK(b.data && !strcmp(b.data, "{\"value\":6}\n"));
    tg_buf_free(&b);
    tg_release(v);
    for (int i = 0; i < 3; i++)
        tg_release(g[i]);
}

TEST(result_hessian_named_values_jvp)
{
    tg_tensor *v = tg_scalar(1, TG_FLOAT64), *h[4];
    for (int i = 0; i < 4; i++)
        h[i] = tg_scalar(i, TG_FLOAT64);
    const char *names[2] = {"a", "b"};
    tg_buf b = {0};
    CHECK(tg_result_hessian(&b, v, names, h, 2) == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"value\":1,\"hessian\":{\"a\":{\"a\":0,\"b\":1},\"b\":{\"a\":2,\"b\":3}}}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_named(&b, v, "derivative", names, h + 3, 1, ",\"order\":2") == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"value\":1,\"derivative\":{\"a\":3},\"order\":2}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_values(&b, h, 2, names, h + 2, 2) == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"values\":[0,1],\"grad\":{\"a\":2,\"b\":3}}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_jvp(&b, v, h[2]) == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"value\":1,\"jvp\":2}\n"));
    tg_buf_free(&b);
    tg_release(v);
    for (int i = 0; i < 4; i++)
        tg_release(h[i]);
}

TEST(result_check_member)
{
    tg_gradcheck_var r = {.max_abs_error = 0.5, .worst_input = 1, .worst_output = 0, .analytic = 2,
                          .numeric = 1.5, .passed = false};
    const char *names[1] = {"x"};
    tg_buf b = {0};
    tg_result_check(&b, &r, names, 1, false, 1e-6, 1e-5, 1e-3);
    CHECK(b.data && !strcmp(b.data, ",\"check\":{\"passed\":false,\"eps\":1e-06,\"atol\":1e-05,\"rtol\":0.001,"
                                    "\"variables\":{\"x\":{\"passed\":false,\"max_abs_error\":0.5,\"worst\":"
                                    "{\"input_index\":1,\"output_index\":0,\"analytic\":2,\"numeric\":1.5}}}}"));
    tg_buf_free(&b);
}

TEST(result_lines_id_and_error_record)
{
    tg_tensor *v = tg_scalar(2, TG_FLOAT32);
    tg_buf r = {0}, b = {0};
    CHECK(tg_result_grad(&r, v, NULL, NULL, 0, false, NULL) == TG_OK);
    CHECK(tg_result_with_id(&b, "id", "[1, \"a\"]", 8, &r) == TG_OK); /* copied as written */
    CHECK(b.data && !strcmp(b.data, "{\"id\":[1, \"a\"],\"value\":2}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_with_id(&b, "id", NULL, 0, &r) == TG_OK); /* a line without the key */
    CHECK(b.data && !strcmp(b.data, r.data));
    tg_buf_free(&b);
    /* the key and the message escaped; a stray byte becomes U+FFFD */
    CHECK(tg_result_error(&b, "k\"", "7", 1, 12, "a \"q\" \\ \t \xff \xc3\xa9") == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"k\\\"\":7,\"line\":12,\"error\":\"a \\\"q\\\" \\\\ \\u0009 \\ufffd \xc3\xa9\"}\n"));
    tg_buf_free(&b);
    CHECK(tg_result_error(&b, NULL, NULL, 0, 3, "bad") == TG_OK);
    CHECK(b.data && !strcmp(b.data, "{\"line\":3,\"error\":\"bad\"}\n"));
    tg_buf_free(&b);
    tg_buf_free(&r);
    tg_release(v);
}

TEST(result_out_of_memory_is_an_error)
{
    tg_tensor *v = tg_scalar(1, TG_FLOAT32);
    tg_buf b = {.failed = true};
    CHECK(tg_result_grad(&b, v, NULL, NULL, 0, false, NULL) == TG_ERESOURCE);
    tg_error_clear();
    CHECK(tg_buf_write(&b, stdout) == TG_ERESOURCE);
    tg_error_clear();
    tg_release(v);
}

TEST(bind_rules)
{
    tg_env e = {0};
    tg_bind_opts o = {0};
    CHECK(tg_env_bind(&e, "x", tg_scalar(2, TG_FLOAT32), -1, &o) == TG_OK);
    CHECK(tg_env_get(&e, "x") && tg_env_get(&e, "x")->requires_grad);
    CHECK(tg_env_bind(&e, "n", tg_scalar(2, TG_INT64), -1, &o) == TG_OK); /* integers: not differentiated */
    CHECK(!tg_env_get(&e, "n")->requires_grad);
    CHECK(tg_env_bind(&e, "f", tg_scalar(2, TG_FLOAT32), 0, &o) == TG_OK); /* "requires_grad": false */
    CHECK(!tg_env_get(&e, "f")->requires_grad);
    CHECK(tg_env_bind(&e, "x", tg_scalar(1, TG_FLOAT32), -1, &o) == TG_EUSAGE); /* twice */
    tg_error_clear();
    CHECK(tg_env_bind(&e, "1x", tg_scalar(1, TG_FLOAT32), -1, &o) == TG_EINPUT);
    tg_error_clear();
    CHECK(tg_env_bind(&e, "m", tg_scalar(1, TG_INT64), 1, &o) == TG_EINPUT); /* asked for */
    tg_error_clear();
    o.wrt = "y";
    CHECK(tg_env_bind(&e, "z", tg_scalar(1, TG_FLOAT32), -1, &o) == TG_OK);
    CHECK(!tg_env_get(&e, "z")->requires_grad);
    CHECK(tg_env_bind(&e, "y", tg_scalar(1, TG_INT64), -1, &o) == TG_EINPUT);
    tg_error_clear();
    o = (tg_bind_opts){.batch = ""};
    CHECK(tg_env_bind(&e, "s", tg_scalar(1, TG_FLOAT32), -1, &o) == TG_EINPUT); /* 0-D under --batch */
    tg_error_clear();
    CHECK(tg_env_bind(&e, "v", vec(1, 2), -1, &o) == TG_OK && tg_env_get(&e, "v")->batched);
    CHECK(e.n == 5);
    tg_env_free(&e);
}
