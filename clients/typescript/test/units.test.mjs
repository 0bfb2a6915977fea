// Pure functions: unit paths, SQL identifiers, error messages, options.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GatehouseClient, GatehouseError, identProblem, splitServerMessage, unitProblem, validateRequest } from "@gatehouse/client";

test("unitProblem mirrors snapshot.ValidUnit", () => {
  for (const u of ["/", "/ca", "/ca/ab/calgary", "/é/ü"]) assert.equal(unitProblem(u), "", u);
  const bad = {
    "": "empty",
    ca: "does not start",
    "/ca/": "trailing",
    "/ca//ab": "empty segment",
    "/ca/./ab": '"." segment',
    "/ca/..": '".." segment',
    "/ca\u0000": "control",
    "/ca\ud800": "UTF-8",
    ["/" + "a".repeat(1024)]: "longer than 1024",
  };
  for (const [u, why] of Object.entries(bad)) assert.ok(unitProblem(u).includes(why), `${JSON.stringify(u).slice(0, 20)}: ${unitProblem(u)}`);
});

test("identProblem mirrors the server's column check", () => {
  for (const c of ["a", "w.unit_path", "_x$1", "A".repeat(63)]) assert.equal(identProblem(c), "", c);
  for (const c of ["", "a.b.c", ".a", "a.", "1a", "$a", "a-b", "a b", "A".repeat(64), 'a"b']) assert.notEqual(identProblem(c), "", c);
});

test("splitServerMessage: field paths only", () => {
  assert.deepEqual(splitServerMessage("subject.id: expected string, got number"), { field: "subject.id", reason: "expected string, got number" });
  assert.deepEqual(splitServerMessage('evaluations[3].resource.properties["a b"]: duplicate key'), {
    field: 'evaluations[3].resource.properties["a b"]',
    reason: "duplicate key",
  });
  assert.deepEqual(splitServerMessage("request body larger than 1048576 bytes"), { field: undefined, reason: "request body larger than 1048576 bytes" });
  assert.deepEqual(splitServerMessage("too many failed authentications from this address; retry later"), {
    field: undefined,
    reason: "too many failed authentications from this address; retry later",
  });
});

test("GatehouseError carries kind, status, field and reason", () => {
  const e = new GatehouseError({ kind: "http", status: 400, field: "subject.id", reason: "required", revision: "abc" });
  assert.ok(e instanceof Error);
  assert.equal(e.name, "GatehouseError");
  assert.equal(e.message, "gatehouse: HTTP 400: subject.id: required");
  assert.deepEqual([e.kind, e.status, e.field, e.reason, e.revision], ["http", 400, "subject.id", "required", "abc"]);
});

test("validation limits: depth, list length, body size", async () => {
  let deep = "leaf";
  for (let i = 0; i < 40; i++) deep = { d: deep };
  const tuple = { subject: { id: "u" }, action: { name: "v" }, resource: { type: "t" } };
  assert.throws(() => validateRequest("evaluation", { ...tuple, context: { deep } }), (e) => e.kind === "validation" && /nesting deeper than 32/.test(e.reason));
  assert.throws(
    () => validateRequest("evaluation", { ...tuple, resource: { type: "t", properties: { assigneeIds: Array(1001).fill("a") } } }),
    (e) => e.field === "resource.properties.assigneeIds" && /more than 1000/.test(e.reason),
  );
  assert.throws(() => validateRequest("evaluation", { ...tuple, extra: 1 }), (e) => e.field === "extra" && e.reason === "unknown field");
  assert.throws(() => validateRequest("evaluation", { ...tuple, context: { f: () => 1 } }), (e) => e.field === "context.f");
  let sent = 0;
  const c = new GatehouseClient({ baseUrl: "http://127.0.0.1:9", fetch: async () => (sent++, new Response("{}")) });
  await assert.rejects(c.evaluation({ ...tuple, context: { big: "x".repeat(1 << 20) } }), (e) => e.kind === "validation" && /larger than 1048576 bytes/.test(e.reason));
  assert.equal(sent, 0);
});

test("client options are checked", () => {
  assert.throws(() => new GatehouseClient({ baseUrl: "ftp://x" }), (e) => e.field === "baseUrl");
  assert.throws(() => new GatehouseClient({ baseUrl: "http://x", tenant: "Bad_Tenant" }), (e) => e.field === "tenant");
  assert.throws(() => new GatehouseClient({ baseUrl: "http://x", retries: -1 }), (e) => e.field === "retries");
  assert.throws(() => new GatehouseClient({ baseUrl: "http://x", token: 5 }), (e) => e.field === "token");
});

test("an empty token from the token source is refused before sending", async () => {
  let sent = 0;
  const c = new GatehouseClient({ baseUrl: "http://127.0.0.1:9", token: () => "  ", fetch: async () => (sent++, new Response("{}")) });
  await assert.rejects(c.discovery(), (e) => e.field === "token");
  assert.equal(sent, 0);
});
