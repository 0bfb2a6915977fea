import { GatehouseClient, isMatchNothing, planToPrismaWhere, type PrismaWhere } from "@gatehouse/client";

// The work orders a user may view, as a Prisma where for prisma.workOrder.findMany.
// null: the user may view none (skip the query). Throws when the plan has no
// database translation (never returns a broader where).
export async function viewableWorkOrders(gh: GatehouseClient, userId: string): Promise<PrismaWhere | null> {
  const plan = await gh.plan({
    subject: { type: "user", id: userId },
    action: { name: "view" },
    resource: { type: "workorders" },
  });
  const where = planToPrismaWhere(plan, {
    columns: { id: "id", ownerId: "ownerId", assigneeIds: "assigneeIds", unit: "unitPath" },
  });
  return isMatchNothing(where) ? null : where;
}

// e.g. const where = await viewableWorkOrders(gh, "alex.apprentice");
//      const rows = where ? await prisma.workOrder.findMany({ where }) : [];
