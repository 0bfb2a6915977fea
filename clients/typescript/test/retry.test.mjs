// Retries, backoff, Retry-After and failure modes, through a loopback proxy
// in front of a real `gatehouse serve` that injects 429/503 and bad answers.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { GatehouseClient, GatehouseError, parseRetryAfter } from "@gatehouse/client";
import { TENANT, startProxy, startServer } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const req = { subject: { type: "user", id: "tom.tech" }, action: { name: "view" }, resource: { type: "workorders", properties: { unit: "/ca/ab/calgary" } } };

async function withProxy(decide, fn) {
  const proxy = await startProxy(srv.baseUrl, decide);
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

const client = (url, opts = {}) => new GatehouseClient({ baseUrl: url, tenant: TENANT, token: srv.token, retryBaseDelayMs: 10, ...opts });

describe("retries", () => {
  test("429 then 503 with Retry-After: 0 are retried, then the real answer", async () => {
    await withProxy(
      (_, n) => (n === 1 ? { status: 429, headers: { "Retry-After": "0" } } : n === 2 ? { status: 503, headers: { "Retry-After": "0" } } : undefined),
      async (proxy) => {
        const d = await client(proxy.url).evaluation(req);
        assert.equal(d.decision, true);
        assert.equal(proxy.seen.length, 3);
        // Every attempt carries the same body and the token.
        assert.equal(new Set(proxy.seen.map((s) => s.body)).size, 1);
        assert.ok(proxy.seen.every((s) => s.headers.authorization === `Bearer ${srv.token}`));
      },
    );
  });

  test("Retry-After is honoured", async () => {
    await withProxy(
      (_, n) => (n === 1 ? { status: 503, headers: { "Retry-After": "1" } } : undefined),
      async (proxy) => {
        const d = await client(proxy.url).evaluation(req);
        assert.equal(d.decision, true);
        const gap = proxy.seen[1].at - proxy.seen[0].at;
        assert.ok(gap >= 950, `retried after ${gap} ms, Retry-After was 1 s`);
        assert.ok(gap < 3000, `retried after ${gap} ms`);
      },
    );
  });

  test("bounded: after retries+1 attempts the typed error is thrown", async () => {
    await withProxy(
      () => ({ status: 503, headers: { "Retry-After": "0" }, body: JSON.stringify({ error: "too busy" }) }),
      async (proxy) => {
        const t = Date.now();
        await assert.rejects(client(proxy.url, { retries: 2 }).evaluation(req), (e) => {
          assert.ok(e instanceof GatehouseError);
          assert.equal(e.kind, "http");
          assert.equal(e.status, 503);
          assert.equal(e.reason, "too busy");
          assert.equal(e.attempts, 3);
          return true;
        });
        assert.equal(proxy.seen.length, 3);
        assert.ok(Date.now() - t < 2000);
      },
    );
  });

  test("a Retry-After longer than retryMaxDelayMs is not waited for", async () => {
    await withProxy(
      () => ({ status: 429, headers: { "Retry-After": "3600" } }),
      async (proxy) => {
        const t = Date.now();
        await assert.rejects(client(proxy.url, { retryMaxDelayMs: 2000 }).evaluation(req), (e) => e.status === 429 && e.retryAfterMs === 3_600_000);
        assert.equal(proxy.seen.length, 1);
        assert.ok(Date.now() - t < 1000);
      },
    );
  });

  test("backoff grows with jitter when there is no Retry-After", async () => {
    await withProxy(
      () => ({ status: 503 }),
      async (proxy) => {
        await assert.rejects(client(proxy.url, { retries: 3, retryBaseDelayMs: 40 }).evaluation(req), (e) => e.status === 503);
        const gaps = proxy.seen.slice(1).map((s, i) => s.at - proxy.seen[i].at);
        assert.equal(gaps.length, 3);
        // Equal jitter: retry k waits between base*2^(k-1)/2 and base*2^(k-1).
        [20, 40, 80].forEach((min, i) => assert.ok(gaps[i] >= min - 5, `gap ${i} ${gaps[i]} ms < ${min}`));
      },
    );
  });

  test("other statuses are not retried", async () => {
    for (const status of [400, 401, 403, 404, 413, 422, 500]) {
      await withProxy(
        () => ({ status, body: JSON.stringify({ error: "subject.id: nope" }) }),
        async (proxy) => {
          await assert.rejects(client(proxy.url).evaluation(req), (e) => e.status === status && e.field === "subject.id" && e.reason === "nope");
          assert.equal(proxy.seen.length, 1, `status ${status}`);
        },
      );
    }
  });

  test("network errors are retried, bounded, then typed", async () => {
    // A port with nothing listening: take one and close it.
    const s = http.createServer();
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    const port = s.address().port;
    await new Promise((r) => s.close(r));
    const t = Date.now();
    await assert.rejects(client(`http://127.0.0.1:${port}`, { retries: 2 }).evaluation(req), (e) => e instanceof GatehouseError && e.kind === "network" && e.attempts === 3);
    assert.ok(Date.now() - t < 5000);
  });

  test("a timeout is a network error", async () => {
    const hang = http.createServer(() => {});
    await new Promise((r) => hang.listen(0, "127.0.0.1", r));
    try {
      await assert.rejects(
        client(`http://127.0.0.1:${hang.address().port}`, { retries: 0, timeoutMs: 200 }).evaluation(req),
        (e) => e.kind === "network" && /no answer within 200 ms/.test(e.reason),
      );
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });

  test("the caller's signal stops retries", async () => {
    await withProxy(
      () => ({ status: 503, headers: { "Retry-After": "2" } }),
      async (proxy) => {
        const t = Date.now();
        await assert.rejects(
          client(proxy.url, { retries: 5 }).evaluation(req, { signal: AbortSignal.timeout(300) }),
          (e) => e instanceof GatehouseError && e.kind === "aborted",
        );
        assert.ok(Date.now() - t < 1500);
        assert.equal(proxy.seen.length, 1);
      },
    );
  });

  test("a batch chunk retried after 503 keeps the order", async () => {
    await withProxy(
      (_, n) => (n === 2 ? { status: 503, headers: { "Retry-After": "0" } } : undefined),
      async (proxy) => {
        const units = ["/ca/ab/calgary", "/us", "/ca/ab/calgary/n", "/mx", "/ca/ab/calgary"];
        const r = await client(proxy.url, { limits: { maxBatch: 2 } }).evaluations({
          ...req,
          resource: undefined,
          evaluations: units.map((unit) => ({ resource: { type: "workorders", properties: { unit } } })),
        });
        assert.deepEqual(r.evaluations.map((d) => d.decision), [true, false, true, false, true]);
        assert.equal(proxy.seen.length, 4);
        // Chunks after the first are pinned to the first chunk's revision.
        const revs = proxy.seen.map((s) => JSON.parse(s.body).context?.minRevision);
        assert.deepEqual(revs, [undefined, r.revision, r.revision, r.revision]);
      },
    );
  });
});

test("discovery's gatehouse_max_batch sets the chunk size", async () => {
  await withProxy(
    (req) =>
      req.url.endsWith("authzen-configuration")
        ? { status: 200, body: JSON.stringify({ policy_decision_point: "http://x", gatehouse_max_batch: 2 }) }
        : undefined,
    async (proxy) => {
      const c = client(proxy.url);
      assert.equal(c.maxBatch, 1000);
      await c.discovery();
      assert.equal(c.maxBatch, 2);
      const r = await c.evaluations({ ...req, evaluations: [{}, {}, {}, {}, {}] });
      assert.equal(r.evaluations.length, 5);
      assert.equal(proxy.seen.length, 1 + 3);
      // An explicit limit wins over the advertised one.
      assert.equal(client(proxy.url, { limits: { maxBatch: 4 } }).maxBatch, 4);
    },
  );
});

describe("never an allow from an error", () => {
  const bodies = [
    ["not JSON", "<html>oops</html>"],
    ["decision as a string", JSON.stringify({ decision: "true", context: { reason: "Allowed" } })],
    ["decision missing", JSON.stringify({ context: { reason: "Allowed" } })],
    ["no context", JSON.stringify({ decision: true })],
    ["an array", JSON.stringify([true])],
    ["fields malformed", JSON.stringify({ decision: true, context: { reason: "Allowed", fields: { readable: "all" } } })],
  ];
  for (const [name, body] of bodies) {
    test(`a 200 with ${name} is an error`, async () => {
      await withProxy(
        () => ({ status: 200, body }),
        async (proxy) => {
          const c = client(proxy.url);
          await assert.rejects(c.check(req), (e) => e instanceof GatehouseError && e.kind === "response");
        },
      );
    });
  }

  test("a batch answer with fewer decisions than asked is an error", async () => {
    await withProxy(
      () => ({ status: 200, body: JSON.stringify({ evaluations: [{ decision: true, context: { reason: "Allowed" } }] }) }),
      async (proxy) => {
        await assert.rejects(
          client(proxy.url).evaluations({ ...req, evaluations: [{}, {}] }),
          (e) => e.kind === "response" && /fewer decisions/.test(e.reason),
        );
      },
    );
  });

  test("a plan without a kind, a conditional plan without a filter: errors", async () => {
    for (const body of [{ revision: "r" }, { kind: "sometimes" }, { kind: "conditional" }]) {
      await withProxy(
        () => ({ status: 200, body: JSON.stringify(body) }),
        async (proxy) => {
          await assert.rejects(client(proxy.url).plan(req), (e) => e.kind === "response");
        },
      );
    }
  });
});

test("parseRetryAfter: seconds and HTTP dates", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:02 GMT", now), 2000);
  assert.equal(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now), 0);
});
