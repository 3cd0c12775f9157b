// Starts a real `parley model-serve --port 0` for a test file and stops it afterwards. The binary
// comes from $PARLEY_BIN (set by ctest), else the usual build directories.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export const LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox";

export function parleyBinary() {
  if (process.env.PARLEY_BIN) return process.env.PARLEY_BIN;
  for (const dir of ["build", "build-dev", "build-net"]) {
    const p = resolve(repo, dir, "apps/parley/parley");
    if (existsSync(p)) return p;
  }
  throw new Error("set PARLEY_BIN to the parley binary");
}

// Resolves to { port, base, stop() } once /ping answers 200.
export async function startModelServer(extraArgs = []) {
  const args = ["model-serve", "--host", "127.0.0.1", "--port", "0", ...extraArgs];
  const child = spawn(parleyBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`no 'listening on' line; stderr:\n${stderr}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on [^\s:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    child.on("exit", (code) => fail(new Error(`parley exited with ${code}; stderr:\n${stderr}`)));
  });
  const base = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    const r = await fetch(`http://${base}/ping`).catch(() => null);
    if (r && r.status === 200) break;
    if (Date.now() > deadline) throw new Error(`/ping never became 200; stderr:\n${stderr}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    port,
    base,
    stderr: () => stderr,
    stop: () =>
      new Promise((ok) => {
        child.once("exit", ok);
        child.kill("SIGTERM");
      }),
  };
}
