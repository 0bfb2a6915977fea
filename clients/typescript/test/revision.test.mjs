// Read-your-writes against a real `gatehouse serve --watch`: a policy change
// written to disk, its revision computed by `gatehouse compile`, and the
// client asking for that revision gets the new policy's decision.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GatehouseClient } from "@gatehouse/client";
import { TENANT, binPath, samples, startProxy, startServer } from "./helpers.mjs";

let dir;
let srv;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "gatehouse-ts-policy-"));
  cpSync(samples, dir, { recursive: true });
  rmSync(join(dir, "tests"), { recursive: true, force: true });
  srv = await startServer({ dir, args: ["--watch", "--interval", "100ms"] });
});
after(async () => {
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function revisionOf(d) {
  const out = JSON.parse(execFileSync(binPath(), ["compile", "-f", d, "-o", "json"], { encoding: "utf8" }));
  return out.tenants.find((t) => t.tenant === TENANT).revision;
}

const view = {
  subject: { type: "user", id: "alex.apprentice" },
  action: { name: "view" },
  resource: { type: "workorders", id: "9", properties: { unit: "/ca/ab/calgary", ownerId: "someone-else" } },
};

test("a policy change: minRevision waits for it, requireRevision sticks until seen", async () => {
  const gh = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token, retries: 2 });
  const before = await gh.evaluation(view);
  assert.equal(before.decision, false);
  assert.equal(before.revision, revisionOf(dir));

  // Promote alex.apprentice to the crew (technician: every Calgary work order).
  const file = join(dir, "usergroups.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("members: [tom.tech, tina.tech]", "members: [tom.tech, tina.tech, alex.apprentice]"));
  const next = revisionOf(dir);
  assert.notEqual(next, before.revision);

  // Per call: the answer comes from the new policy, never the stale one.
  const d = await gh.evaluation(view, { minRevision: next });
  assert.equal(d.revision, next);
  assert.equal(d.decision, true);
  assert.equal(gh.lastRevision, next);

  // Sticky: required until an answer shows it; here the next answer does.
  const other = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token });
  other.requireRevision(next);
  const p = await other.plan({ subject: view.subject, action: view.action, resource: { type: "workorders" } });
  assert.equal(p.revision, next);
  assert.equal(other.requiredRevision, undefined);
});

test("a batch whose snapshot changes between chunks starts over once", async () => {
  // The proxy answers the second request (the first pinned chunk) as the
  // server does when the pinned revision is gone.
  const proxy = await startProxy(srv.baseUrl, (_, n) =>
    n === 2 ? { status: 503, headers: { "Retry-After": "1" }, body: JSON.stringify({ error: 'context.minRevision: revision "x" is not served yet' }) } : undefined,
  );
  try {
    const gh = new GatehouseClient({ baseUrl: proxy.url, tenant: TENANT, token: srv.token, limits: { maxBatch: 1 } });
    const r = await gh.evaluations({ ...view, resource: undefined, evaluations: [{ resource: view.resource }, { resource: { type: "invoices" } }] });
    assert.deepEqual(r.evaluations.map((e) => e.decision), [true, false]);
    const revs = proxy.seen.map((s) => JSON.parse(s.body).context?.minRevision);
    assert.deepEqual(revs, [undefined, r.revision, undefined, r.revision]);
  } finally {
    await proxy.close();
  }
});

test("trackRevisions: the latest revision is sent; a superseded one is replaced by the server's", async () => {
  const sent = [];
  const gh = new GatehouseClient({
    baseUrl: srv.baseUrl,
    tenant: TENANT,
    token: srv.token,
    trackRevisions: true,
    fetch: (url, init) => {
      sent.push(JSON.parse(init.body).context?.minRevision);
      return fetch(url, init);
    },
  });
  const first = await gh.evaluation(view);
  const r1 = first.revision;
  await gh.evaluation(view);
  assert.deepEqual(sent, [undefined, r1]);

  // Demote alex.apprentice again: a new revision, served once the watch reloads.
  const file = join(dir, "usergroups.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("members: [tom.tech, tina.tech, alex.apprentice]", "members: [tom.tech, tina.tech]"));
  const r2 = revisionOf(dir);
  assert.notEqual(r2, r1);
  const plain = new GatehouseClient({ baseUrl: srv.baseUrl, tenant: TENANT, token: srv.token });
  assert.equal((await plain.evaluation(view, { minRevision: r2 })).decision, false);

  // The tracking client still holds r1: the server waits, answers 503 naming r2, the client adopts r2.
  sent.length = 0;
  const d = await gh.evaluation(view);
  assert.deepEqual(sent, [r1, r2]);
  assert.equal(d.revision, r2);
  assert.equal(d.decision, false);
  assert.equal(gh.lastRevision, r2);
});
