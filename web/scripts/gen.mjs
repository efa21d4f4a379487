// Generates src/gen/ from ../proto (buf generate with protoc-gen-es, as
// buf.gen.yaml says), or, with --check, generates into a temporary directory
// and fails when src/gen/ differs from it (npm run build runs the check).
//
//   node scripts/gen.mjs           npm run gen
//   node scripts/gen.mjs --check   npm run gen:check
//
// Both tools come from node_modules (npm ci), pinned by package-lock.json.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const web = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const GEN = "src/gen";
const STALE = "web/src/gen is stale: run npm run gen in web/";

/** Runs buf generate (output under outBase, to which buf.gen.yaml's `out` is relative); false on failure. */
function generate(outBase) {
  const bin = path.join(web, "node_modules", ".bin");
  const args = ["generate"];
  if (outBase) args.push("--output", outBase);
  const r = spawnSync(path.join(bin, "buf"), args, {
    cwd: web,
    stdio: ["ignore", "inherit", "inherit"],
    // buf finds the local plugin protoc-gen-es on PATH.
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` },
  });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit status ${r.status}`;
    console.error(`gen: buf generate failed (${why}); is npm ci done in web/?`);
    return false;
  }
  return true;
}

/** Every file under dir, as relative path → contents. */
function readTree(dir) {
  const files = new Map();
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return files;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath ?? e.path, e.name);
    files.set(path.relative(dir, full), readFileSync(full));
  }
  return files;
}

function sameTree(a, b) {
  if (a.size !== b.size) return false;
  for (const [name, data] of a) {
    const other = b.get(name);
    if (!other || !other.equals(data)) return false;
  }
  return true;
}

if (process.argv.includes("--check")) {
  const tmp = mkdtempSync(path.join(tmpdir(), "chat-web-gen-"));
  let status = 1;
  if (generate(tmp)) {
    if (sameTree(readTree(path.join(tmp, GEN)), readTree(path.join(web, GEN)))) status = 0;
    else console.error(STALE);
  }
  rmSync(tmp, { recursive: true, force: true });
  process.exitCode = status;
} else if (!generate(null)) {
  process.exitCode = 1;
}
