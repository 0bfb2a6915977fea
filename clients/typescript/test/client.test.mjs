// Every call of the client against a real `gatehouse serve -f config/samples`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  GatehouseClient,
  GatehouseError,
  forbiddenFields,
  maskFields,
  planMatches,
  planToPrismaWhere,
  validateRequest,
} from "@gatehouse/client";
import { TENANT, rawPost, startServer } from "./helpers.mjs";

let srv;
let gh;
const user = (id) => ({ type: "user", id });
const wo = (id, properties = {}) => ({ type: "workorders", id, properties });
const CALGARY = "/ca/ab/calgary";

before(async () => {
  srv = await startServer();
  gh = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, retries: 0 });
});
after(async () => {
  await srv?.stop();
});

describe("evaluation", () => {
  test("allow with fields and revision", async () => {
    const d = await gh.evaluation({ subject: user("tom.tech"), action: { name: "view" }, resource: wo("1", { unit: `${CALGARY}/north` }) });
    assert.equal(d.decision, true);
    assert.equal(d.context.reason, "Allowed");
    assert.match(d.revision, /^[0-9a-f]{16}$/);
    assert.equal(d.context.revision, d.revision);
    assert.deepEqual(d.context.fields, { readable: ["custom.warrantyCode", "status"], writable: ["status"] });
    assert.equal(gh.lastRevision, d.revision);
  });

  test("deny is an answer, not an error", async () => {
    const d = await gh.evaluation({ subject: user("tom.tech"), action: { name: "view" }, resource: wo("1", { unit: "/ca/on/toronto" }) });
    assert.equal(d.decision, false);
    assert.equal(d.context.reason, "ScopeNotMatched");
    assert.equal(d.context.fields, undefined);
    assert.equal(await gh.check({ subject: user("nobody"), action: { name: "view" }, resource: wo("1") }), false);
  });

  test("explain names the grant", async () => {
    const d = await gh.evaluation(
      { subject: user("tom.tech"), action: { name: "edit" }, resource: wo("1", { unit: CALGARY }) },
      { explain: true },
    );
    assert.equal(d.decision, true);
    assert.equal(d.context.explain.role, "technician");
    assert.equal(d.context.explain.group, "calgary-crew");
    assert.equal(d.context.explain.scope, "unitTree");
  });

  test("a CEL condition on a custom property", async () => {
    const po = (amount) => ({ type: "purchaseorders", properties: { amount } });
    assert.equal(await gh.check({ subject: user("tom.tech"), action: { name: "create" }, resource: po(5000) }), true);
    assert.equal(await gh.check({ subject: user("tom.tech"), action: { name: "create" }, resource: po(5001) }), false);
  });

  test("an unknown tenant denies (NoSnapshot), discovery is a typed 404", async () => {
    const other = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: "no-such-tenant", token: srv.token, retries: 0 });
    const d = await other.evaluation({ subject: user("tom.tech"), action: { name: "view" }, resource: wo("1") });
    assert.equal(d.decision, false);
    assert.equal(d.context.reason, "NoSnapshot");
    await assert.rejects(other.discovery(), (e) => e instanceof GatehouseError && e.kind === "http" && e.status === 404);
  });
});

describe("evaluations", () => {
  const units = [CALGARY, "/ca/on", `${CALGARY}/x`, "/us", CALGARY, "/ca", `${CALGARY}/y/z`, "/ca/ab", CALGARY, "/mx"];
  const items = units.map((u, i) => ({ resource: wo(String(i), { unit: u }) }));
  const expected = units.map((u) => u === CALGARY || u.startsWith(`${CALGARY}/`));

  test("order preserved, defaults inherited", async () => {
    const r = await gh.evaluations({ subject: user("tom.tech"), action: { name: "view" }, evaluations: items });
    assert.deepEqual(r.evaluations.map((d) => d.decision), expected);
    assert.match(r.revision, /^[0-9a-f]{16}$/);
    // Batch items carry no revision of their own.
    assert.equal(r.evaluations[0].context.revision, undefined);
  });

  test("chunked to the server's maximum, same answers in the same order", async () => {
    const small = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, limits: { maxBatch: 3 } });
    const r = await small.evaluations({ subject: user("tom.tech"), action: { name: "view" }, evaluations: items });
    assert.deepEqual(r.evaluations.map((d) => d.decision), expected);
    // Each item may override the defaults.
    const mixed = await small.evaluations({
      subject: user("tom.tech"),
      action: { name: "view" },
      evaluations: [...items.slice(0, 4), { subject: user("dana.director"), resource: wo("x", { unit: "/mx" }) }],
    });
    assert.deepEqual(mixed.evaluations.map((d) => d.decision), [true, false, true, false, true]);
  });

  test("1,001 evaluations: two requests", async () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ resource: wo(String(i), { unit: i % 2 ? CALGARY : "/us" }) }));
    const r = await gh.evaluations({ subject: user("tom.tech"), action: { name: "view" }, evaluations: many });
    assert.equal(r.evaluations.length, 1001);
    r.evaluations.forEach((d, i) => assert.equal(d.decision, i % 2 === 1, `item ${i}`));
  });

  test("deny_on_first_deny stops across chunks", async () => {
    const small = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, limits: { maxBatch: 3 } });
    const r = await small.evaluations({
      subject: user("tom.tech"),
      action: { name: "view" },
      evaluations: items,
      options: { evaluations_semantic: "deny_on_first_deny" },
    });
    assert.deepEqual(r.evaluations.map((d) => d.decision), [true, false]);
    const p = await small.evaluations({
      subject: user("tom.tech"),
      action: { name: "view" },
      evaluations: items.slice(1),
      options: { evaluations_semantic: "permit_on_first_permit" },
    });
    assert.deepEqual(p.evaluations.map((d) => d.decision), [false, true]);
  });
});

describe("search", () => {
  test("subject search pages; searchSubjectAll collects every page", async () => {
    const req = { action: { name: "approve" }, resource: { type: "purchaseorders", properties: { unit: CALGARY } } };
    const first = await gh.searchSubject({ ...req, page: { limit: 1 } });
    assert.equal(first.results.length, 1);
    assert.equal(first.page.total, 2);
    assert.notEqual(first.page.next_token, "");
    const all = await gh.searchSubjectAll(req, { pageLimit: 1 });
    assert.deepEqual(all.map((s) => s.id), ["dana.director", "sam.supervisor"]);
    assert.ok(all.every((s) => s.type === "user"));
    await assert.rejects(gh.searchSubjectAll(req, { pageLimit: 1, maxPages: 1 }), /more than 1 pages/);
  });

  test("action search", async () => {
    const r = await gh.searchAction({ subject: user("tom.tech"), resource: wo("1", { unit: CALGARY }) });
    assert.deepEqual(r.results.map((a) => a.name), ["assign", "create", "edit", "view"]);
    const all = await gh.searchActionAll({ subject: user("alex.apprentice"), resource: wo("1", { ownerId: "someone-else" }) }, { pageLimit: 1 });
    assert.deepEqual(all.map((a) => a.name), ["create"]);
  });

  test("resource search filters candidates; searchResourceAll chunks them", async () => {
    const candidates = Array.from({ length: 7 }, (_, i) => ({
      id: String(i),
      properties: i % 3 === 0 ? { ownerId: "alex.apprentice" } : i % 3 === 1 ? { assigneeIds: ["x", "alex.apprentice"] } : { ownerId: "bob" },
    }));
    const req = { subject: user("alex.apprentice"), action: { name: "view" }, resource: { type: "workorders" }, context: { candidates } };
    const one = await gh.searchResource(req);
    assert.deepEqual(one.results.map((r) => r.id), ["0", "1", "3", "4", "6"]);
    const small = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, limits: { maxCandidates: 2 } });
    const all = await small.searchResourceAll(req, { pageLimit: 1 });
    assert.deepEqual(all.map((r) => r.id), ["0", "1", "3", "4", "6"]);
  });
});

describe("fields", () => {
  const record = { id: "7", title: "Pump", status: "open", billingRate: 120, margin: 0.3, custom: { warrantyCode: "W1", note: "n" } };

  test("masks for a technician: billingRate and margin hidden", async () => {
    const f = await gh.fields({ subject: user("tom.tech"), resource: { type: "workorders" } });
    assert.equal(f.covered, true);
    assert.equal(f.default, "write");
    assert.deepEqual(f.hidden, ["billingRate", "margin"]);
    assert.deepEqual(maskFields(record, f), { id: "7", title: "Pump", status: "open", custom: { warrantyCode: "W1", note: "n" } });
    assert.deepEqual(forbiddenFields({ status: "done", margin: 1, custom: { warrantyCode: "W2" } }, f), ["margin", "custom.warrantyCode"]);
    assert.deepEqual(maskFields(record, f, "write"), { id: "7", title: "Pump", status: "open", custom: { note: "n" } });
  });

  test("billing clerk reads and writes billingRate; an unknown user sees nothing", async () => {
    const bea = await gh.fields({ subject: user("bea.billing"), resource: { type: "workorders" } });
    assert.ok(bea.writable.includes("billingRate"));
    assert.equal(maskFields(record, bea).billingRate, 120);
    const nobody = await gh.fields({ subject: user("nobody"), resource: { type: "workorders" } });
    assert.equal(nobody.reason, "UnknownSubject");
    assert.deepEqual(maskFields(record, nobody), {});
  });

  test("a module without a FieldPolicy: every field", async () => {
    const f = await gh.fields({ subject: user("tom.tech"), resource: { type: "assets" } });
    assert.equal(f.covered, false);
    assert.deepEqual(maskFields(record, f), record);
  });
});

describe("plan", () => {
  const columns = { id: "id", ownerId: "ownerId", assigneeIds: "assigneeIds", unit: "unit", companyId: "companyId", amount: "amount" };

  test("alex.apprentice viewing work orders: own or assigned", async () => {
    const p = await gh.plan({ subject: user("alex.apprentice"), action: { name: "view" }, resource: { type: "workorders" } });
    assert.equal(p.kind, "conditional");
    assert.deepEqual(p.filter, {
      op: "or",
      children: [
        { op: "eq", property: "ownerId", value: "alex.apprentice" },
        { op: "contains", property: "assigneeIds", value: "alex.apprentice" },
      ],
    });
    assert.deepEqual(planToPrismaWhere(p, { columns }), {
      OR: [{ ownerId: { equals: "alex.apprentice" } }, { assigneeIds: { has: "alex.apprentice" } }],
    });
  });

  test("SQL from the server when columns are sent", async () => {
    const p = await gh.plan({
      subject: user("alex.apprentice"),
      action: { name: "view" },
      resource: { type: "workorders" },
      columns: { ownerId: "w.owner_id", assigneeIds: "w.assignee_ids" },
      placeholder: "question",
    });
    assert.deepEqual(p.sql, { where: '("w"."owner_id" = ? OR ? = ANY("w"."assignee_ids"))', args: ["alex.apprentice", "alex.apprentice"] });
  });

  test("every kind the samples produce converts", async () => {
    const plan = (id, action, type) => gh.plan({ subject: user(id), action: { name: action }, resource: { type } });
    const cases = [
      ["tom.tech", "view", "workorders", { OR: [{ unit: { equals: CALGARY } }, { unit: { startsWith: `${CALGARY}/` } }] }],
      ["tom.tech", "view", "purchaseorders", { ownerId: { equals: "tom.tech" } }],
      ["tom.tech", "create", "purchaseorders", { amount: { lte: 5000 } }],
      ["sue.supplier", "view", "purchaseorders", { companyId: { in: ["northern-pipe-supply"] } }],
      ["dana.director", "delete", "workorders", {}],
      ["nobody", "view", "workorders", { OR: [] }],
      ["tom.tech", "delete", "invoices", { OR: [] }],
    ];
    for (const [id, action, type, where] of cases) {
      const p = await plan(id, action, type);
      assert.deepEqual(planToPrismaWhere(p, { columns }), where, `${id} ${action} ${type}: ${JSON.stringify(p)}`);
    }
    const never = await plan("nobody", "view", "workorders");
    assert.equal(never.kind, "never");
    assert.equal(never.reason, "UnknownSubject");
  });

  test("the plan means what evaluation decides, on every candidate", async () => {
    const recs = [];
    for (const owner of ["alex.apprentice", "tom.tech", null]) {
      for (const assignees of [["alex.apprentice"], ["x"], null]) {
        for (const unit of [CALGARY, `${CALGARY}/n`, "/ca/ab/calgaryx", null]) {
          recs.push({ type: "workorders", id: String(recs.length), properties: { ownerId: owner, assigneeIds: assignees, unit } });
        }
      }
    }
    for (const id of ["alex.apprentice", "tom.tech", "vic.viewer", "nobody"]) {
      const p = await gh.plan({ subject: user(id), action: { name: "view" }, resource: { type: "workorders" } });
      const r = await gh.evaluations({ subject: user(id), action: { name: "view" }, evaluations: recs.map((resource) => ({ resource })) });
      recs.forEach((rec, i) => assert.equal(planMatches(p, rec), r.evaluations[i].decision, `${id} record ${JSON.stringify(rec)}`));
    }
  });
});

describe("approvals", () => {
  const po = (approvals) => ({ type: "purchaseorders", id: "po-1", properties: { amount: 30000, unit: CALGARY, ownerId: "tom.tech", approvals } });

  test("plan lists the steps with their eligible approvers", async () => {
    const p = await gh.approvalsPlan({ resource: po([]) });
    assert.equal(p.chain, "purchase-orders");
    assert.equal(p.current, "supervisor");
    assert.equal(p.complete, false);
    assert.deepEqual(p.steps.map((s) => [s.name, s.eligible]), [
      ["supervisor", ["sam.supervisor"]],
      ["director", ["dana.director"]],
    ]);
  });

  test("check: the current step's approver may, others may not", async () => {
    const sam = await gh.approvalsCheck({ subject: user("sam.supervisor"), resource: po([]) });
    assert.deepEqual([sam.allowed, sam.step, sam.reason], [true, "supervisor", "Allowed"]);
    const dana = await gh.approvalsCheck({ subject: user("dana.director"), resource: po([]) });
    assert.deepEqual([dana.allowed, dana.reason], [false, "NotEligible"]);
    const next = await gh.approvalsCheck({ subject: user("dana.director"), resource: po([{ step: "supervisor", by: "sam.supervisor" }]) });
    assert.deepEqual([next.allowed, next.step], [true, "director"]);
  });
});

describe("discovery", () => {
  test("lists every endpoint under the tenant", async () => {
    const d = await gh.discovery();
    assert.equal(d.policy_decision_point, `${srv.baseUrl}/tenants/${TENANT}`);
    assert.equal(d.gatehouse_plan_endpoint, `${srv.baseUrl}/tenants/${TENANT}/v1/plan`);
    // Ten endpoint URLs (the PDP's included) and the batch limit.
    assert.equal(Object.keys(d).length, 11);
    assert.equal(d.gatehouse_max_batch, 1000);
  });
});

describe("minRevision", () => {
  const req = { subject: user("tom.tech"), action: { name: "view" }, resource: wo("1", { unit: CALGARY }) };

  test("per call: the served revision answers at once", async () => {
    const rev = (await gh.evaluation(req)).revision;
    const d = await gh.evaluation(req, { minRevision: rev });
    assert.equal(d.revision, rev);
    const f = await gh.fields({ subject: user("tom.tech"), resource: { type: "workorders" } }, { minRevision: rev });
    assert.equal(f.revision, rev);
  });

  test("a revision not served: 503 with Retry-After after the server's wait", async () => {
    const t = Date.now();
    await assert.rejects(gh.evaluation(req, { minRevision: "0000000000000000" }), (e) => {
      assert.ok(e instanceof GatehouseError);
      assert.equal(e.status, 503);
      assert.equal(e.field, "context.minRevision");
      assert.match(e.reason, /not served yet/);
      assert.equal(e.retryAfterMs, 1000);
      assert.equal(e.revision, gh.lastRevision);
      return true;
    });
    assert.ok(Date.now() - t >= 1500, "the server waited for the revision");
  });

  test("requireRevision is sent until seen, then dropped", async () => {
    const rev = (await gh.evaluation(req)).revision;
    const sent = [];
    const spy = new GatehouseClient({
      baseUrl: srv.baseUrl,
      tenant: TENANT,
      token: srv.token,
      fetch: (url, init) => {
        sent.push(JSON.parse(init.body).context?.minRevision);
        return fetch(url, init);
      },
    });
    spy.requireRevision(rev);
    assert.equal(spy.requiredRevision, rev);
    await spy.evaluation(req);
    assert.equal(spy.requiredRevision, undefined);
    assert.equal(spy.lastRevision, rev);
    await spy.evaluation(req);
    assert.deepEqual(sent, [rev, undefined]);
  });

  test("a conflicting minRevision is refused before sending", () => {
    assert.throws(
      () => validateRequest("evaluations", { ...req, evaluations: [{ context: { minRevision: "a" } }, { context: { minRevision: "b" } }] }),
      (e) => e.field === "evaluations[1].context.minRevision",
    );
    return assert.rejects(gh.evaluation({ ...req, context: { minRevision: "a" } }, { minRevision: "b" }), (e) => e.kind === "validation");
  });
});

describe("authentication", () => {
  const req = { subject: user("tom.tech"), action: { name: "view" }, resource: wo("1") };

  test("a wrong token is a typed 401", async () => {
    const bad = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: "wrong", retries: 0 });
    await assert.rejects(bad.evaluation(req), (e) => e instanceof GatehouseError && e.status === 401 && e.kind === "http");
  });

  test("a token function is read on every call and re-read once after a 401", async () => {
    const tokens = ["stale", srv.token, srv.token];
    let calls = 0;
    const c = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: async () => tokens[calls++] ?? srv.token });
    assert.equal((await c.evaluation(req)).context.reason, "ScopeNotMatched");
    assert.equal(calls, 2);
    await c.evaluation(req);
    assert.equal(calls, 3);
  });
});

describe("validation: the client refuses what the server refuses, with the same message", () => {
  // [endpoint, path, body]: the server answers 400 "field: reason"; the
  // client throws a validation error with that field and reason.
  const tuple = { subject: user("tom.tech"), action: { name: "view" }, resource: wo("1") };
  const nest = (n) => (n === 0 ? "leaf" : { d: nest(n - 1) });
  const cases = [
    ["evaluation", "access/v1/evaluation", { subject: { id: 5 }, action: { name: "view" }, resource: wo("1") }],
    ["evaluation", "access/v1/evaluation", { ...tuple, subject: { id: "" } }],
    ["evaluation", "access/v1/evaluation", { subject: user("a"), resource: wo("1") }],
    ["evaluation", "access/v1/evaluation", { ...tuple, action: { name: "" } }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: { id: "1" } }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", { unit: "/a//b" }) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", { unit: "ca/ab" }) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", { unit: "/ca/" }) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", { unit: "/ca/../x" }) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, subject: { id: "a", properties: { unit: "/./b" } } }],
    ["evaluation", "access/v1/evaluation", { ...tuple, subject: { id: "a", properties: { groups: "g" } } }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", { assigneeIds: ["a", 1] }) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", { ownerId: 7 }) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, context: { minRevision: 1 } }],
    ["evaluations", "access/v1/evaluations", { subject: user("a"), evaluations: [{ action: { name: "view" } }] }],
    ["evaluations", "access/v1/evaluations", { ...tuple, evaluations: [{}], options: { evaluations_semantic: "all" } }],
    ["searchResource", "access/v1/search/resource", { ...tuple }],
    ["searchResource", "access/v1/search/resource", { ...tuple, context: { candidates: [{ type: "assets", id: "1" }] } }],
    ["searchSubject", "access/v1/search/subject", { action: { name: "view" }, resource: wo("1"), page: { limit: -1 } }],
    ["searchAction", "access/v1/search/action", { resource: wo("1") }],
    ["fields", "v1/fields", { subject: user("a") }],
    ["plan", "v1/plan", { ...tuple, columns: { unit: "a b" } }],
    ["plan", "v1/plan", { ...tuple, columns: { unit: "1abc" } }],
    ["plan", "v1/plan", { ...tuple, columns: { unit: "u" }, placeholder: "colon" }],
    ["approvalsCheck", "v1/approvals/check", { resource: { type: "purchaseorders" } }],
    ["approvalsPlan", "v1/approvals/plan", { resource: {} }],
    ["evaluation", "access/v1/evaluation", { ...tuple, context: { a: Array(1001).fill(1) } }],
    ["evaluation", "access/v1/evaluation", { ...tuple, resource: wo("1", Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, 1]))) }],
    ["evaluation", "access/v1/evaluation", { ...tuple, context: { deep: nest(31) } }],
  ];
  for (const [ep, path, body] of cases) {
    test(`${ep} ${JSON.stringify(body).slice(0, 90)}`, async () => {
      const server = await rawPost(srv, path, body);
      assert.equal(server.status, 400, JSON.stringify(server.body));
      let err;
      try {
        validateRequest(ep, body);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof GatehouseError, `the client accepted what the server refused: ${server.body.error}`);
      assert.equal(err.kind, "validation");
      assert.equal(err.status, 0);
      const mine = `${err.field}: ${err.reason}`;
      if (err.field.startsWith("context.deep")) {
        // The server elides the middle of a long path.
        assert.equal(err.reason, server.body.error.split(": ").pop());
      } else if (err.field === "context.candidates") {
        // The server's message names the tenant's plan URL; the client's does not know it.
        assert.equal(mine.split(".")[0], server.body.error.split(".")[0]);
      } else {
        assert.equal(mine, server.body.error);
      }
    });
  }

  test("the client's methods validate before sending", async () => {
    let sent = 0;
    const c = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, fetch: (u, i) => (sent++, fetch(u, i)) });
    await assert.rejects(c.evaluation({ ...tuple, subject: { id: 5 } }), (e) => e.field === "subject.id" && e.reason === "expected string, got number");
    await assert.rejects(c.plan({ ...tuple, columns: { unit: "x;drop" } }), (e) => e.field === "columns.unit");
    await assert.rejects(c.searchResource({ ...tuple, context: { candidates: Array(1001).fill({ id: "1" }) } }), (e) => e.field === "context.candidates");
    await assert.rejects(c.evaluation({ ...tuple, context: { n: NaN } }), (e) => e.field === "context.n");
    assert.equal(sent, 0);
    // One level less is accepted by both.
    const ok = { ...tuple, context: { deep: nest(30) } };
    validateRequest("evaluation", ok);
    assert.equal((await rawPost(srv, "access/v1/evaluation", ok)).status, 200);
  });

  test("a server-side refusal is a typed error with field and reason", async () => {
    // A valid request body the server refuses: more candidates than it allows.
    const lax = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, limits: { maxCandidates: 5000 } });
    await assert.rejects(
      lax.searchResource({ ...tuple, context: { candidates: Array(1001).fill({ id: "1" }) } }),
      (e) => e instanceof GatehouseError && e.kind === "http" && e.status === 400 && e.field === "context.candidates" && e.reason === "more than 1000 candidates" && /^[0-9a-f]{16}$/.test(e.revision),
    );
  });

  test("messages echo at most a short prefix of a value", async () => {
    const long = "x".repeat(5000);
    assert.throws(
      () => validateRequest("evaluations", { ...tuple, evaluations: [{}], options: { evaluations_semantic: long } }),
      (e) => !e.message.includes(long.slice(0, 100)),
    );
    assert.throws(() => new GatehouseClient({ baseUrl: srv.baseUrl, tenant: `A${long}` }), (e) => e.field === "tenant" && e.message.length < 200);
  });
});
