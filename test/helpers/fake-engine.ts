/**
 * A loopback fake Dagger engine, for running the pipeline's functions offline and recording what they ask for.
 *
 * The SDK skips engine provisioning when DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN are set and sends each query
 * as GraphQL over HTTP to 127.0.0.1:$PORT/query. This server parses every query, answers it by shape (objects become
 * ids it remembers, leaf fields get a default or a test-supplied answer) and records the full chain of operations,
 * with ids expanded back into the chains that made them. Nothing is built or run: it proves what the pipeline asks
 * the engine to do, not that the engine can do it.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Kind, parse, valueFromASTUntyped, type FieldNode, type SelectionSetNode } from "graphql";

/** One operation of a chain: a field and its arguments (object arguments are ids; see FakeEngine.chainOf). */
export interface Step {
  field: string;
  args: Record<string, unknown>;
}

/** A test-supplied answer for a leaf: a value, or an engine error such as a failed exec. */
export type Answer = { value: unknown } | { error: { message: string; extensions?: Record<string, unknown> } };

/** Decides the answer for a leaf chain (possibly after doing something, e.g. storing a pushed image); undefined: the defaults. */
export type Resolver = (chain: Step[]) => Answer | undefined | Promise<Answer | undefined>;

/** Arguments the real engine treats as sensitive and never shows in its logs and traces; recorded here as "***". */
const SENSITIVE_ARGS: Record<string, string[]> = { setSecret: ["plaintext"] };
const ID_PREFIX = "fake-id:";

export class FakeEngine {
  /** Every query the functions sent, as full chains, in order (sensitive arguments redacted). */
  readonly calls: Step[][] = [];
  /** Every raw GraphQL document received, unredacted: for asserting where secrets travel. */
  readonly rawQueries: string[] = [];
  private readonly chains = new Map<string, Step[]>();
  private server?: http.Server;
  private readonly token = "fake-session-token";
  private saved: Record<string, string | undefined> = {};

  constructor(private readonly resolver: Resolver = () => undefined) {}

  /** Listens on an ephemeral loopback port and points the SDK at it through DAGGER_SESSION_PORT/TOKEN. */
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // The SDK keeps its connection alive between queries. Node closes an idle one after 5 s, and a query sent as it does
    // so fails with "socket hang up" (seen when a module loaded on a busy machine paused longer than that between two
    // queries); the engine's own session server keeps them, so this one does too. stop() still closes idle sockets.
    this.server.keepAliveTimeout = 10 * 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.saved = { port: process.env.DAGGER_SESSION_PORT, token: process.env.DAGGER_SESSION_TOKEN };
    process.env.DAGGER_SESSION_PORT = String((this.server.address() as AddressInfo).port);
    process.env.DAGGER_SESSION_TOKEN = this.token;
  }

  /** Stops the server and restores the environment. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    for (const [key, name] of [["port", "DAGGER_SESSION_PORT"], ["token", "DAGGER_SESSION_TOKEN"]] as const) {
      if (this.saved[key] === undefined) delete process.env[name];
      else process.env[name] = this.saved[key];
    }
  }

  /** The chain that produced an id the engine handed out (sensitive arguments redacted). */
  chainOf(id: string): Step[] {
    return this.rawChainOf(id).map(redact);
  }

  private rawChainOf(id: string): Step[] {
    const chain = this.chains.get(id);
    if (!chain) throw new Error(`fake engine: unknown id ${id}`);
    return chain;
  }

  /** True when `value` is an id this engine handed out. */
  static isId(value: unknown): value is string {
    return typeof value === "string" && value.startsWith(ID_PREFIX);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const expected = `Basic ${Buffer.from(`${this.token}:`).toString("base64")}`;
    if (req.url !== "/query" || req.headers.authorization !== expected) {
      res.writeHead(401).end();
      return;
    }
    let body = "";
    for await (const chunk of req) body += String(chunk);
    const { query } = JSON.parse(body) as { query: string };
    this.rawQueries.push(query);
    let payload: unknown;
    try {
      payload = await this.answer(query);
    } catch (error) {
      payload = { errors: [{ message: (error as Error).message }] };
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(payload));
  }

  /** Parses one linear query, records its chain and builds the nested response. */
  private async answer(query: string): Promise<unknown> {
    const document = parse(query);
    const operation = document.definitions[0];
    if (operation?.kind !== Kind.OPERATION_DEFINITION) throw new Error("fake engine: expected one operation");
    const fields = linearFields(operation.selectionSet);
    const steps = fields.map((field) => ({ field: field.name.value, args: argsOf(field) }));

    // A chain that starts from an id continues the chain that produced it.
    const [first, ...rest] = steps;
    const fromId = first && (/^load\w+FromID$/.test(first.field) || first.field === "node") ? String(first.args.id) : undefined;
    const chain = fromId ? [...this.rawChainOf(fromId), ...rest] : steps;
    this.calls.push(chain.map(redact));

    const leaf = chain[chain.length - 1]!;
    const answer = (await this.resolver(chain)) ?? this.defaultAnswer(chain, leaf);
    if ("error" in answer) return { data: null, errors: [{ message: answer.error.message, path: [], extensions: answer.error.extensions ?? {} }] };
    let data: unknown = answer.value;
    for (const field of [...fields].reverse()) data = { [field.name.value]: data };
    return { data };
  }

  private defaultAnswer(chain: Step[], leaf: Step): Answer {
    switch (leaf.field) {
      case "id":
      case "sync": {
        const id = `${ID_PREFIX}${this.chains.size + 1}`;
        this.chains.set(id, chain.slice(0, -1));
        return { value: id };
      }
      case "stdout":
      case "stderr":
        return { value: "" };
      case "exitCode":
        return { value: 0 };
      case "defaultPlatform":
        return { value: "linux/amd64" };
      case "plaintext":
        if (chain[0]?.field === "setSecret") return { value: chain[0].args.plaintext };
        break;
      case "publish": {
        const digest = createHash("sha256").update(JSON.stringify(chain)).digest("hex");
        return { value: `${String(leaf.args.address)}@sha256:${digest}` };
      }
    }
    throw new Error(`fake engine: no answer for ${leaf.field} (chain: ${chain.map((step) => step.field).join(".")})`);
  }
}

/** The fields of a query that selects exactly one field per level (inline fragments of `node` included). */
function linearFields(selectionSet: SelectionSetNode | undefined): FieldNode[] {
  const fields: FieldNode[] = [];
  let current = selectionSet;
  while (current) {
    let selection = current.selections[0];
    if (current.selections.length !== 1 || !selection) throw new Error("fake engine: expected one selection per level");
    if (selection.kind === Kind.INLINE_FRAGMENT) selection = selection.selectionSet.selections[0];
    if (selection?.kind !== Kind.FIELD) throw new Error("fake engine: unsupported selection");
    fields.push(selection);
    current = selection.selectionSet;
  }
  return fields;
}

function argsOf(field: FieldNode): Record<string, unknown> {
  return Object.fromEntries((field.arguments ?? []).map((arg) => [arg.name.value, valueFromASTUntyped(arg.value)]));
}

function redact(step: Step): Step {
  const sensitive = SENSITIVE_ARGS[step.field];
  if (!sensitive) return step;
  return { field: step.field, args: Object.fromEntries(Object.entries(step.args).map(([key, value]) => [key, sensitive.includes(key) ? "***" : value])) };
}
