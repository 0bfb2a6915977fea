import { GatehouseClient, maskFields } from "@gatehouse/client";

type WorkOrder = { id: string; unit: string; title: string; billingRate?: number; margin?: number };

// Rows already loaded: keep those the user may view (one batch call, answers in
// request order), and strip the fields the user may not read.
export async function visibleRows(gh: GatehouseClient, userId: string, rows: WorkOrder[]): Promise<Partial<WorkOrder>[]> {
  const subject = { type: "user", id: userId };
  const { evaluations } = await gh.evaluations({
    subject,
    action: { name: "view" },
    evaluations: rows.map((r) => ({ resource: { type: "workorders", id: r.id, properties: { unit: r.unit } } })),
  });
  const fields = await gh.fields({ subject, resource: { type: "workorders" } });
  return rows.filter((_, i) => evaluations[i]?.decision === true).map((r) => maskFields(r, fields));
}

// Read-your-writes: after changing policy, wait for the PermissionSnapshot's
// status.revision before trusting decisions.
export async function afterPolicyChange(gh: GatehouseClient, revision: string, userId: string): Promise<string[]> {
  gh.requireRevision(revision);
  const actions = await gh.searchActionAll({
    subject: { type: "user", id: userId },
    resource: { type: "workorders", properties: { unit: "/ca/ab/calgary" } },
  });
  return actions.map((a) => a.name);
}
