// Validates Kubernetes manifests offline, twice over:
//  1. against the API's JSON schemas as kubernetes-models ships them (types, required fields,
//     formats), the check kubeconform makes;
//  2. against kubernetes-models' TypeScript types of the same API, compiled with excess-property
//     checks, which refuse unknown fields (a misspelt 'livenesProbe' passes the JSON schemas).
// Reads YAML (many documents) from the files given, or stdin:
//   kubectl kustomize deploy/k8s | node deploy/k8s/validate/validate.mjs
// One line per object; exit 1 if any is invalid, 2 on a usage or YAML error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const sources = process.argv.length > 2 ? process.argv.slice(2) : ["/dev/stdin"];
const objects = [];
for (const source of sources) {
  for (const document of parseAllDocuments(readFileSync(source, "utf8"))) {
    if (document.errors.length > 0) {
      console.error(`${source}: YAML error: ${document.errors[0].message}`);
      process.exit(2);
    }
    const object = document.toJS();
    if (object != null) objects.push(object);
  }
}

const problems = objects.map(() => []);
const modules = [];
for (const [i, object] of objects.entries()) {
  const { apiVersion, kind } = object;
  // kubernetes-models lays its models out as GROUP/VERSION/KIND, the core group as v1/KIND.
  const module = `kubernetes-models/${apiVersion}/${kind}`;
  let Model;
  try {
    Model = (await import(module))[kind];
  } catch {
    problems[i].push(`no schema for apiVersion ${apiVersion}, kind ${kind}`);
    continue;
  }
  modules[i] = module;
  try {
    new Model(object).validate();
  } catch (error) {
    problems[i].push(error.message.replaceAll("\n", "; "));
  }
}

// One TypeScript file: each object as a literal that must satisfy its kind's interface.
const lines = [];
for (const [i, object] of objects.entries()) {
  if (modules[i] === undefined) continue;
  lines.push(`import type { I${object.kind} as T${i} } from "${modules[i]}";`);
}
const starts = [];
for (const [i, object] of objects.entries()) {
  if (modules[i] === undefined) continue;
  starts.push([lines.length, i]);
  lines.push(`export const o${i} = ${JSON.stringify(object, null, 1)} satisfies T${i};`.split("\n"));
  lines.push(...lines.pop());
}
const file = path.join(path.dirname(require.resolve("kubernetes-models/package.json")), "..", "..", "manifests.ts");
const text = lines.join("\n");
const host = ts.createCompilerHost({});
const readFile = host.readFile;
host.readFile = (name) => (path.resolve(name) === file ? text : readFile(name));
host.fileExists = ((exists) => (name) => path.resolve(name) === file || exists(name))(host.fileExists);
const program = ts.createProgram([file], {
  strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
}, host);
for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
  if (diagnostic.file === undefined || path.resolve(diagnostic.file.fileName) !== file) {
    console.error(`validator setup: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`);
    process.exit(2);
  }
  const line = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line;
  const owner = starts.filter(([start]) => start <= line).at(-1)[1];
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
  const unknown = /'([^']+)' does not exist in type 'I(?:IoK8s[A-Za-z]*?V\d\w*?)?([A-Z]\w*)'/.exec(message);
  problems[owner].push(unknown ? `unknown field ${unknown[1].replaceAll('"', "")} in ${unknown[2]}` : message);
}

for (const [i, object] of objects.entries()) {
  const name = `${object.kind} ${object.metadata?.namespace ? object.metadata.namespace + "/" : ""}${object.metadata?.name}`;
  console.log(problems[i].length === 0 ? `ok      ${name} (${object.apiVersion})` : `INVALID ${name}: ${problems[i].join("; ")}`);
}
const invalid = problems.filter((p) => p.length > 0).length;
console.log(`${objects.length} objects checked (kubernetes-models ${require("kubernetes-models/package.json").version}: schemas and types), ${invalid} invalid`);
process.exit(invalid > 0 ? 1 : 0);
