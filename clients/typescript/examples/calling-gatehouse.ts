import { readFile } from "node:fs/promises";
import { GatehouseClient, GatehouseError } from "@gatehouse/client";

// One client per process; the token file is re-read on every call (the kubelet rotates it).
export function gatehouse(baseUrl: string, tokenFile: string): GatehouseClient {
  return new GatehouseClient({
    baseUrl,
    tenant: "acme-field-services",
    token: async () => (await readFile(tokenFile, "utf8")).trim(),
  });
}

// May this user edit this work order? Any error is a deny.
export async function mayEdit(gh: GatehouseClient, userId: string, workOrder: { id: string; unit: string }): Promise<boolean> {
  try {
    return await gh.check({
      subject: { type: "user", id: userId },
      action: { name: "edit" },
      resource: { type: "workorders", id: workOrder.id, properties: { unit: workOrder.unit } },
    });
  } catch (e) {
    if (e instanceof GatehouseError) console.warn(`gatehouse: ${e.message}`);
    return false;
  }
}
