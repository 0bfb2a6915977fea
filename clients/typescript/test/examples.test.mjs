// Runs the README's examples (examples/*.ts, compiled to dist-examples/ by
// `npm run build`) against a real `gatehouse serve`.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { GatehouseClient } from "@gatehouse/client";
import { gatehouse, mayEdit } from "../dist-examples/calling-gatehouse.js";
import { viewableWorkOrders } from "../dist-examples/list-with-prisma.js";
import { afterPolicyChange, visibleRows } from "../dist-examples/batch-and-fields.js";
import { TENANT, startServer } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

test("calling-gatehouse.ts: mayEdit, the token file re-read on every call", async () => {
  const gh = gatehouse(srv.baseUrl, srv.tokenFile);
  assert.ok(gh instanceof GatehouseClient);
  assert.equal(await mayEdit(gh, "tom.tech", { id: "42", unit: "/ca/ab/calgary/north" }), true);
  assert.equal(await mayEdit(gh, "tom.tech", { id: "43", unit: "/ca/on/toronto" }), false);
  assert.equal(await mayEdit(gh, "vic.viewer", { id: "42", unit: "/ca/ab/calgary" }), false);
  // An error is a deny: a rotated-away token file (wrong token) → false, not a throw.
  const warn = console.warn;
  const warned = [];
  console.warn = (m) => warned.push(m);
  try {
    writeFileSync(srv.tokenFile, "rotated-to-something-wrong\n");
    assert.equal(await mayEdit(gh, "tom.tech", { id: "42", unit: "/ca/ab/calgary" }), false);
    assert.match(warned[0], /HTTP 401/);
    writeFileSync(srv.tokenFile, srv.token + "\n");
    assert.equal(await mayEdit(gh, "tom.tech", { id: "42", unit: "/ca/ab/calgary" }), true);
  } finally {
    console.warn = warn;
    writeFileSync(srv.tokenFile, srv.token + "\n");
  }
});

test("list-with-prisma.ts: the where each sample user gets", async () => {
  const gh = gatehouse(srv.baseUrl, srv.tokenFile);
  assert.deepEqual(await viewableWorkOrders(gh, "alex.apprentice"), {
    OR: [{ ownerId: { equals: "alex.apprentice" } }, { assigneeIds: { has: "alex.apprentice" } }],
  });
  assert.deepEqual(await viewableWorkOrders(gh, "tom.tech"), {
    OR: [{ unitPath: { equals: "/ca/ab/calgary" } }, { unitPath: { startsWith: "/ca/ab/calgary/" } }],
  });
  assert.deepEqual(await viewableWorkOrders(gh, "vic.viewer"), {});
  assert.equal(await viewableWorkOrders(gh, "nobody"), null);
});

test("batch-and-fields.ts: visible rows with masked fields; read-your-writes", async () => {
  const gh = gatehouse(srv.baseUrl, srv.tokenFile);
  const rows = [
    { id: "1", unit: "/ca/ab/calgary", title: "Pump", billingRate: 120, margin: 0.3 },
    { id: "2", unit: "/us/tx", title: "Valve", billingRate: 90, margin: 0.2 },
    { id: "3", unit: "/ca/ab/calgary/n", title: "Tank", billingRate: 80, margin: 0.1 },
  ];
  assert.deepEqual(await visibleRows(gh, "tom.tech", rows), [
    { id: "1", unit: "/ca/ab/calgary", title: "Pump" },
    { id: "3", unit: "/ca/ab/calgary/n", title: "Tank" },
  ]);
  assert.deepEqual((await visibleRows(gh, "bea.billing", rows)).map((r) => r.billingRate), [120, 90, 80]);
  const rev = gh.lastRevision;
  assert.deepEqual(await afterPolicyChange(gh, rev, "tom.tech"), ["assign", "create", "edit", "view"]);
  assert.equal(gh.requiredRevision, undefined);
  // A revision the server never serves: the call fails (after the server's bounded wait), it does not answer stale.
  const fast = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, retries: 0 });
  await assert.rejects(afterPolicyChange(fast, "ffffffffffffffff", "tom.tech"), (e) => e.status === 503);
});

test("README.md contains every example verbatim", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const files = readdirSync(new URL("../examples/", import.meta.url)).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length >= 3);
  for (const f of files) {
    const src = readFileSync(new URL(`../examples/${f}`, import.meta.url), "utf8");
    assert.ok(readme.includes("```ts\n// examples/" + f + "\n" + src + "```"), `README.md lacks examples/${f} verbatim`);
  }
});
