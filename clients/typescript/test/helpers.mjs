// Test helpers: a real `gatehouse serve` on loopback, and a fault-injecting proxy.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const pkgRoot = fileURLToPath(new URL("..", import.meta.url));
export const repoRoot = join(pkgRoot, "..", "..");
export const samples = join(repoRoot, "config", "samples");
export const TENANT = "acme-field-services";

export function binPath() {
  return process.env.GATEHOUSE_BIN || join(pkgRoot, ".cache", "gatehouse");
}

/**
 * Starts `gatehouse serve -f config/samples --authn=token` on 127.0.0.1:0 and
 * waits (at most 30 s) for its address and a first answer.
 */
export async function startServer({ dir = samples, args = [] } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), "gatehouse-ts-"));
  const token = `test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const tokenFile = join(tmp, "token");
  writeFileSync(tokenFile, token + "\n");
  const child = spawn(binPath(), ["serve", "-f", dir, "--authn=token", "--token-file", tokenFile, "--listen", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatehouse serve did not start in 30 s:\n${log}`)), 30_000);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => {
      log += d;
      const m = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse serve exited with ${code}:\n${log}`));
    });
  });
  child.removeAllListeners("exit");
  // Wait until it answers (bounded: 50 × 100 ms).
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${addr}/tenants/${TENANT}/.well-known/authzen-configuration`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(1000),
      });
      if (r.status === 200) break;
    } catch {
      // not yet
    }
    if (i >= 50) throw new Error(`gatehouse serve at ${addr} does not answer:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl: addr,
    token,
    tokenFile,
    tmp,
    get log() {
      return log;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * A loopback proxy in front of target. decide(req, n) is called for request
 * n (1-based) and returns undefined to forward it, or { status, headers, body }
 * to answer in its place.
 */
export async function startProxy(target, decide) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: body.toString("utf8"), at: Date.now() });
      const fake = decide(req, seen.length);
      if (fake) {
        res.writeHead(fake.status, { "Content-Type": "application/json", ...(fake.headers ?? {}) });
        res.end(fake.body ?? JSON.stringify({ error: `injected ${fake.status}` }));
        return;
      }
      const u = new URL(req.url, target);
      const fwd = http.request(u, { method: req.method, headers: { ...req.headers, host: u.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      fwd.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      fwd.end(body);
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(r);
      }),
  };
}

/** A raw POST to the server, bypassing the client (to compare with it). */
export async function rawPost(srv, path, body) {
  const r = await fetch(`${srv.baseUrl}/tenants/${TENANT}/${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${srv.token}`, "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}
