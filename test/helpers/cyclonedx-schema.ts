/**
 * The official CycloneDX 1.6 JSON schema (test/fixtures/cyclonedx/, copies from CycloneDX/specification tag 1.6.2:
 * schema/bom-1.6.schema.json and the spdx and jsf schemas it references), compiled with Ajv (draft-07, the schema's
 * `$schema`). Ajv's formats cover date-time and uri; the schema's `iri-reference` and `idn-email` are not among them,
 * so they are checked loosely here (no whitespace; an `@`), which never accepts what the strict format would refuse
 * for the values this repository writes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import { ROOT } from "./process.js";

const schema = (name: string): object => JSON.parse(readFileSync(path.join(ROOT, "test/fixtures/cyclonedx", name), "utf8")) as object;

let validator: ReturnType<Ajv["compile"]> | undefined;

/** The schema's errors for `document` (an empty list: valid CycloneDX 1.6). */
export function cycloneDx16Errors(document: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ strict: false, allErrors: true, schemas: [schema("spdx.schema.json"), schema("jsf-0.82.schema.json")] });
    addFormats.default(ajv);
    ajv.addFormat("iri-reference", /^\S*$/);
    ajv.addFormat("idn-email", /^[^\s@]+@[^\s@]+$/);
    validator = ajv.compile(schema("bom-1.6.schema.json"));
  }
  return validator(document) ? [] : [...(validator.errors ?? [])];
}
