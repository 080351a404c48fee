// Validates Kubernetes objects against the Kubernetes API schemas (npm kubernetes-models).
// usage: node validate.mjs OBJECTS.json   (a JSON array of objects; prints one line per object; exit 1 on any error)
import { readFileSync } from "node:fs";

const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const o of objects) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : [null, o.apiVersion];
  const module = `kubernetes-models/${group === null ? version : group + "/" + version}/${o.kind}`;
  const name = `${o.kind} ${o.metadata?.name}`;
  let Model;
  try {
    Model = (await import(module))[o.kind];
  } catch (e) {
    console.log(`error ${name}: no schema for ${o.apiVersion} ${o.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(o).validate();
    console.log(`ok ${name}`);
  } catch (e) {
    console.log(`error ${name}: ${e.message}`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
