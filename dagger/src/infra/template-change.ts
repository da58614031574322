/**
 * What a `cdk deploy` of the synthesized template would change in the stack, compared with the deployed template
 * (CloudFormation GetTemplate): nothing, something that leaves the service's image alone, or the task definition or
 * the service. provision (./provision-run.ts) skips the deploy in the first case and passes the running digest only in
 * the last: the stack's ImageDigest is the one provision last passed, not the one that runs (deploy moves releases
 * with ECS directly), so passing a newer one to an otherwise unchanged task definition would replace it and start an
 * ECS deployment of the image that already runs.
 */
import { isDeepStrictEqual } from "node:util";

/** `none`: the templates are the same; `other`: neither a task definition nor a service changes; `service`: one does. */
export interface TemplateChange {
  kind: "none" | "other" | "service";
  /** The logical ids of the task definitions and services that change (kind `service`), or why it is assumed. */
  why: string[];
}

type Template = Record<string, unknown> & { Resources?: Record<string, { Type?: string } & Record<string, unknown>> };
/** The sections whose entries resources depend on by name; any other section's change (Transform, Rules...) counts as a service change. */
const NAMED = ["Parameters", "Mappings", "Conditions", "Resources"] as const;
/** Sections that change nothing a resource depends on. */
const INERT = new Set(["Outputs", "Metadata", "Description", "AWSTemplateFormatVersion"]);
const SERVICE_TYPES = new Set(["AWS::ECS::TaskDefinition", "AWS::ECS::Service"]);

const entries = (template: Template, section: string): Record<string, unknown> => (template[section] ?? {}) as Record<string, unknown>;

/** The `Section/Name` entries `value` refers to: Ref, Fn::GetAtt, Fn::Sub's ${Name} / ${Name.Attribute}, Fn::FindInMap, conditions. */
function references(template: Template, value: unknown, found = new Set<string>()): Set<string> {
  const named = (name: string) => found.add(`${name in entries(template, "Resources") ? "Resources" : "Parameters"}/${name}`);
  if (Array.isArray(value)) for (const item of value) references(template, item, found);
  else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "Ref" && typeof inner === "string") named(inner);
      else if (key === "Fn::GetAtt") named(String(Array.isArray(inner) ? inner[0] : String(inner).split(".")[0]));
      else if (key === "Fn::Sub") {
        const text = Array.isArray(inner) ? String(inner[0]) : String(inner);
        for (const [, name = ""] of text.matchAll(/\$\{([^!}][^}.]*)[^}]*\}/g)) if (!(Array.isArray(inner) && name in (inner[1] ?? {}))) named(name);
      } else if (key === "Fn::FindInMap" && Array.isArray(inner)) found.add(`Mappings/${String(inner[0])}`);
      else if ((key === "Condition" && typeof inner === "string") || (key === "Fn::If" && Array.isArray(inner))) found.add(`Conditions/${String(key === "Condition" ? inner : (inner as unknown[])[0])}`);
      references(template, inner, found);
    }
  }
  return found;
}

/**
 * The change from `deployed` to `synthesized` (template JSON texts). `changedParameters` are the parameters whose value
 * the deploy changes. An entry counts as changed when its own definition differs or it refers, directly or through
 * others, to one that changed: a resource CloudFormation replaces gets a new id, and everything that refers to it is
 * updated with the new one. (An in-place update keeps the id; counting it anyway only passes the digest needlessly.)
 */
export function templateChange(deployed: string, synthesized: string, changedParameters: string[]): TemplateChange {
  let before: Template;
  let after: Template;
  try {
    [before, after] = [JSON.parse(deployed) as Template, JSON.parse(synthesized) as Template];
  } catch {
    return { kind: "service", why: ["the deployed template is not JSON: compared as changed"] };
  }
  if (isDeepStrictEqual(before, after)) return { kind: "none", why: [] };
  const other = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => !(NAMED as readonly string[]).includes(key) && !INERT.has(key));
  const changedSections = other.filter((key) => !isDeepStrictEqual(before[key], after[key]));
  if (changedSections.length > 0) return { kind: "service", why: changedSections.map((key) => `section ${key} changed`) };

  const changed = new Set(changedParameters.map((name) => `Parameters/${name}`));
  const edges = new Map<string, Set<string>>();
  for (const section of NAMED) {
    const [old, now] = [entries(before, section), entries(after, section)];
    for (const name of new Set([...Object.keys(old), ...Object.keys(now)])) {
      const id = `${section}/${name}`;
      if (!isDeepStrictEqual(old[name], now[name])) changed.add(id);
      edges.set(id, references(after, now[name] ?? old[name]));
    }
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const [id, refs] of edges) {
      if (!changed.has(id) && [...refs].some((ref) => changed.has(ref))) grew = Boolean(changed.add(id));
    }
  }
  const typeOf = (name: string) => (after.Resources?.[name] ?? before.Resources?.[name])?.Type ?? "";
  const touched = [...changed].filter((id) => id.startsWith("Resources/") && SERVICE_TYPES.has(typeOf(id.slice(10)))).map((id) => id.slice(10));
  return touched.length > 0 ? { kind: "service", why: touched } : { kind: "other", why: [] };
}
