// Compiled (not run) by `npm test` (tsconfig.test.json): the public types
// accept what the server accepts and reject what it does not.
import {
  GatehouseClient,
  GatehouseError,
  planToPrismaWhere,
  type Decision,
  type EvaluationRequest,
  type PlanFilter,
  type PrismaWhere,
} from "@gatehouse/client";

const gh = new GatehouseClient({ baseUrl: "http://127.0.0.1:1", tenant: "t", token: async () => "x" });

export async function typed(): Promise<void> {
  const req: EvaluationRequest = {
    subject: { type: "user", id: "u", properties: { groups: ["g"], unit: "/a", custom: 1 } },
    action: { name: "view" },
    resource: { type: "workorders", id: "1", properties: { assigneeIds: ["u"], approvals: [{ step: "s", by: "u" }], amount: 3 } },
    context: { minRevision: "r", anything: [1, "2"] },
  };
  const d: Decision = await gh.evaluation(req, { explain: true, minRevision: "r" });
  const ok: boolean = d.decision;
  const readable: string[] | undefined = d.context.fields?.readable;
  void ok;
  void readable;

  // @ts-expect-error action is required
  await gh.evaluation({ subject: { id: "u" }, resource: { type: "t" } });
  // @ts-expect-error subject.id must be a string
  await gh.evaluation({ subject: { id: 5 }, action: { name: "v" }, resource: { type: "t" } });
  // @ts-expect-error unknown semantic
  await gh.evaluations({ evaluations: [], options: { evaluations_semantic: "all" } });
  // @ts-expect-error candidates are required
  await gh.searchResource({ subject: { id: "u" }, action: { name: "v" }, resource: { type: "t" }, context: {} });
  // @ts-expect-error placeholder is dollar or question
  await gh.plan({ subject: { id: "u" }, action: { name: "v" }, resource: { type: "t" }, placeholder: "colon" });

  const p = await gh.plan({ subject: { id: "u" }, action: { name: "v" }, resource: { type: "t" }, columns: { unit: "w.unit" } });
  const where: PrismaWhere = planToPrismaWhere(p, { columns: { unit: "unit", assigneeIds: (f) => ({ a: { has: f.property } }) } });
  void where;
  const f: PlanFilter = { op: "under", property: "unit", value: "/a" };
  // @ts-expect-error an in node has values, not value
  const g: PlanFilter = { op: "in", property: "unit", value: "/a" };
  void f;
  void g;

  try {
    await gh.discovery();
  } catch (e) {
    if (e instanceof GatehouseError) {
      const s: number = e.status;
      const field: string | undefined = e.field;
      const kind: "validation" | "http" | "network" | "response" | "aborted" = e.kind;
      void s;
      void field;
      void kind;
    }
  }
}
