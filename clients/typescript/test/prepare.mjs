// Builds the gatehouse binary the tests run (skipped when GATEHOUSE_BIN names one).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { binPath, repoRoot } from "./helpers.mjs";

if (process.env.GATEHOUSE_BIN) {
  if (!existsSync(process.env.GATEHOUSE_BIN)) {
    console.error(`GATEHOUSE_BIN=${process.env.GATEHOUSE_BIN} does not exist`);
    process.exit(1);
  }
} else {
  mkdirSync(new URL("../.cache/", import.meta.url), { recursive: true });
  const t = Date.now();
  execFileSync("go", ["build", "-o", binPath(), "./cmd/gatehouse"], { cwd: repoRoot, stdio: "inherit" });
  console.log(`built ${binPath()} in ${Date.now() - t} ms`);
}
