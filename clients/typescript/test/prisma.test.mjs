// planToPrismaWhere on every filter node the server produces
// (internal/snapshot/plan.go, plancel.go), and its failing closed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MATCH_NOTHING, PlanConversionError, isMatchNothing, planMatches, planToPrismaWhere } from "@gatehouse/client";

const columns = {
  id: "id",
  ownerId: "ownerId",
  assigneeIds: "assigneeIds",
  projectContacts: "contacts",
  unit: "unitPath",
  facilityId: "facilityId",
  companyId: "company.slug",
  amount: "amount",
  urgent: "urgent",
};
const cond = (filter) => ({ kind: "conditional", filter });
const conv = (filter) => planToPrismaWhere(cond(filter), { columns });

describe("every node", () => {
  const cases = [
    [{ op: "true" }, {}],
    [{ op: "false" }, { OR: [] }],
    [{ op: "eq", property: "ownerId", value: "u1" }, { ownerId: { equals: "u1" } }],
    [{ op: "eq", property: "urgent", value: true }, { urgent: { equals: true } }],
    [{ op: "lt", property: "amount", value: 10 }, { amount: { lt: 10 } }],
    [{ op: "le", property: "amount", value: 10.5 }, { amount: { lte: 10.5 } }],
    [{ op: "gt", property: "amount", value: -1 }, { amount: { gt: -1 } }],
    [{ op: "ge", property: "id", value: "m" }, { id: { gte: "m" } }],
    [{ op: "in", property: "facilityId", values: ["yyc-yard", "yyc-depot"] }, { facilityId: { in: ["yyc-yard", "yyc-depot"] } }],
    [{ op: "in", property: "facilityId" }, { OR: [] }],
    [{ op: "contains", property: "assigneeIds", value: "u1" }, { assigneeIds: { has: "u1" } }],
    [{ op: "contains", property: "projectContacts", value: "u1" }, { contacts: { has: "u1" } }],
    [{ op: "under", property: "unit", value: "/ca/ab" }, { OR: [{ unitPath: { equals: "/ca/ab" } }, { unitPath: { startsWith: "/ca/ab/" } }] }],
    [{ op: "under", property: "unit", value: "/" }, { unitPath: { startsWith: "/" } }],
    [{ op: "in", property: "companyId", values: ["acme"] }, { company: { slug: { in: ["acme"] } } }],
    [
      {
        op: "and",
        children: [
          { op: "in", property: "companyId", values: ["acme"] },
          { op: "or", children: [{ op: "eq", property: "ownerId", value: "u1" }, { op: "le", property: "amount", value: 5000 }] },
        ],
      },
      { AND: [{ company: { slug: { in: ["acme"] } } }, { OR: [{ ownerId: { equals: "u1" } }, { amount: { lte: 5000 } }] }] },
    ],
  ];
  for (const [filter, where] of cases) {
    test(`${filter.op} ${JSON.stringify(filter).slice(0, 70)}`, () => {
      assert.deepEqual(conv(filter), where);
    });
  }

  test("plan kinds: always is {}, never matches nothing", () => {
    assert.deepEqual(planToPrismaWhere({ kind: "always" }, { columns }), {});
    const never = planToPrismaWhere({ kind: "never", reason: "NotPermitted" }, { columns });
    assert.deepEqual(never, { OR: [] });
    assert.ok(isMatchNothing(never));
    assert.ok(isMatchNothing(MATCH_NOTHING));
    assert.ok(!isMatchNothing({}));
    assert.ok(!isMatchNothing({ OR: [{ a: 1 }] }));
    // A fresh object every time: callers may mutate it.
    never.OR.push({ x: 1 });
    assert.deepEqual(planToPrismaWhere({ kind: "never" }, { columns }), { OR: [] });
  });

  test("a column function builds the predicate (e.g. a relation)", () => {
    const w = planToPrismaWhere(cond({ op: "contains", property: "assigneeIds", value: "u1" }), {
      columns: { assigneeIds: (f) => ({ assignees: { some: { userId: f.value } } }) },
    });
    assert.deepEqual(w, { assignees: { some: { userId: "u1" } } });
  });
});

describe("fails closed", () => {
  const bad = [
    ["unknown op", { op: "not", children: [{ op: "true" }] }, /unknown filter op "not"/],
    ["cel residue", { op: "cel", expr: "resource.properties.tags.exists(t, t == 'x')" }, /no database translation/],
    ["cel inside or", { op: "or", children: [{ op: "eq", property: "ownerId", value: "u" }, { op: "cel", expr: "x" }] }, /children\[1\]/],
    ["unmapped property", { op: "eq", property: "secretLevel", value: 3 }, /no column is mapped for property "secretLevel"/],
    ["and without children", { op: "and", children: [] }, /and without children/],
    ["or without children", { op: "or" }, /or without children/],
    ["null value", { op: "eq", property: "ownerId", value: null }, /expected a string/],
    ["object value", { op: "eq", property: "ownerId", value: { a: 1 } }, /expected a string/],
    ["unsafe integer", { op: "lt", property: "amount", value: 2 ** 60 }, /2\^53/],
    ["ordered boolean", { op: "lt", property: "amount", value: true }, /cannot be ordered/],
    ["non-canonical unit", { op: "under", property: "unit", value: "/ca/" }, /trailing/],
    ["relative unit", { op: "under", property: "unit", value: "ca" }, /does not start/],
    ["not an object", { op: "and", children: ["eq"] }, /children\[0\]: not a filter node/],
    ["missing property", { op: "eq", value: "x" }, /property: missing/],
  ];
  for (const [name, filter, re] of bad) {
    test(name, () => {
      assert.throws(() => conv(filter), (e) => e instanceof PlanConversionError && re.test(e.message));
    });
  }

  test("unknown plan kind, conditional without filter, no columns", () => {
    assert.throws(() => planToPrismaWhere({ kind: "sometimes" }, { columns }), PlanConversionError);
    assert.throws(() => planToPrismaWhere({ kind: "conditional" }, { columns }), PlanConversionError);
    assert.throws(() => planToPrismaWhere({ kind: "always" }, {}), PlanConversionError);
  });

  test("a column that would be read as a Prisma operator or is not a field path", () => {
    for (const col of ["OR", "a.NOT", "a b", "", "a..b", "1a"]) {
      assert.throws(() => planToPrismaWhere(cond({ op: "eq", property: "ownerId", value: "u" }), { columns: { ownerId: col } }), PlanConversionError, col);
    }
  });

  test("a column function returning {} (match all) is refused", () => {
    assert.throws(() => planToPrismaWhere(cond({ op: "eq", property: "ownerId", value: "u" }), { columns: { ownerId: () => ({}) } }), /no condition/);
  });

  test("a hostile deep tree is bounded", () => {
    let f = { op: "eq", property: "ownerId", value: "u" };
    for (let i = 0; i < 100; i++) f = { op: "and", children: [f, { op: "true" }] };
    assert.throws(() => conv(f), /deeper than 64/);
  });

  test("a property named like an Object.prototype key is not a column", () => {
    assert.throws(() => conv({ op: "eq", property: "constructor", value: "u" }), /no column is mapped/);
  });
});

// A model of Prisma's where semantics for what the converter emits (equals,
// lt/lte/gt/gte, in, has, startsWith, AND, OR, nested to-one relations; a
// null column matches no predicate), to check that the where selects the
// same records as the plan (planMatches mirrors the server's Plan.Matches).
function prismaMatches(where, row) {
  return Object.entries(where).every(([k, v]) => {
    if (k === "AND") return v.every((w) => prismaMatches(w, row));
    if (k === "OR") return v.some((w) => prismaMatches(w, row));
    const val = row[k];
    if (val === null || val === undefined) return false;
    const ops = Object.entries(v);
    if (ops.length === 1 && !["equals", "lt", "lte", "gt", "gte", "in", "has", "startsWith"].includes(ops[0][0])) {
      return typeof val === "object" && prismaMatches(v, val); // relation
    }
    return ops.every(([op, x]) => {
      switch (op) {
        case "equals":
          return val === x;
        case "lt":
          return typeof val === typeof x && val < x;
        case "lte":
          return typeof val === typeof x && val <= x;
        case "gt":
          return typeof val === typeof x && val > x;
        case "gte":
          return typeof val === typeof x && val >= x;
        case "in":
          return x.includes(val);
        case "has":
          return Array.isArray(val) && val.includes(x);
        case "startsWith":
          return typeof val === "string" && val.startsWith(x);
      }
      throw new Error(`model: unknown op ${op}`);
    });
  });
}

test("the where selects exactly the records the plan allows (seeded random trees and records)", () => {
  let seed = 42;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pick = (xs) => xs[rnd(xs.length)];
  const users = ["u1", "u2", "u3"];
  const unitsList = ["/ca", "/ca/ab", "/ca/ab/calgary", "/ca/abx", "/us", "/"];
  const leaf = () =>
    pick([
      () => ({ op: "eq", property: "ownerId", value: pick(users) }),
      () => ({ op: "contains", property: "assigneeIds", value: pick(users) }),
      () => ({ op: "under", property: "unit", value: pick(unitsList) }),
      () => ({ op: "eq", property: "unit", value: pick(unitsList) }),
      () => ({ op: "in", property: "facilityId", values: ["f1", "f2"].slice(0, rnd(3)) }),
      () => ({ op: pick(["lt", "le", "gt", "ge", "eq"]), property: "amount", value: pick([0, 1000, 5000]) }),
      () => ({ op: "in", property: "companyId", values: [pick(["acme", "np"])] }),
      () => ({ op: pick(["true", "false"]) }),
    ])();
  const tree = (d) => (d === 0 || rnd(3) === 0 ? leaf() : { op: pick(["and", "or"]), children: Array.from({ length: 1 + rnd(3) }, () => tree(d - 1)) });
  const record = () => {
    const p = {
      ownerId: pick([...users, null]),
      assigneeIds: pick([[], ["u1"], ["u2", "u3"], null]),
      unit: pick([...unitsList.filter((u) => u !== "/"), "/ca/ab/calgary/n", null]),
      facilityId: pick(["f1", "f2", "f3", null]),
      amount: pick([0, 999, 1000, 5000, 9999, null, "1000"]),
      companyId: pick(["acme", "np", null]),
    };
    return { type: "workorders", id: String(rnd(100)), properties: p };
  };
  const row = (r) => ({
    id: r.id,
    ownerId: r.properties.ownerId,
    assigneeIds: r.properties.assigneeIds,
    unitPath: r.properties.unit,
    facilityId: r.properties.facilityId,
    amount: r.properties.amount,
    company: r.properties.companyId === null ? null : { slug: r.properties.companyId },
  });
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const plan = cond(tree(3));
    const where = planToPrismaWhere(plan, { columns });
    for (let j = 0; j < 30; j++) {
      const r = record();
      assert.equal(prismaMatches(where, row(r)), planMatches(plan, r), `${JSON.stringify(plan.filter)} on ${JSON.stringify(r.properties)}`);
      checked++;
    }
  }
  assert.equal(checked, 9000);
});
