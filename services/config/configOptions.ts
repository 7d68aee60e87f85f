import { z } from 'zod';

/** A JSON Schema node as `z.toJSONSchema` writes it (the part we read). */
interface JsonSchemaNode {
  type?: string;
  format?: string;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: boolean | JsonSchemaNode;
  required?: string[];
  default?: unknown;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
}

/** One option of a configuration section, as docs/configuration.md lists it. */
export interface ConfigOption {
  name: string;
  /** e.g. `integer > 0`, `string`, `array of string`, `integer ≥ 1, ≤ 65535`. */
  type: string;
  /** `required`, `—` (optional, no default) or the default as JSON. */
  default: string;
}

/** The JSON Schema of a zod schema: what a file may hold (`input`) or what code gets (`output`). */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchemaNode {
  const cached = jsonSchemas.get(schema)?.[io];
  if (cached) return cached;
  const node = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchemaNode;
  jsonSchemas.set(schema, { ...jsonSchemas.get(schema), [io]: node });
  return node;
}

const jsonSchemas = new WeakMap<z.ZodType, { input?: JsonSchemaNode; output?: JsonSchemaNode }>();

/** Every option of an object schema, in declaration order, with its type and default. */
export function optionsOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): ConfigOption[] {
  const node = jsonSchemaOf(schema, io);
  const required = new Set(node.required ?? []);
  return Object.entries(node.properties ?? {}).map(([name, option]) => ({
    name,
    type: typeText(option),
    default: 'default' in option ? JSON.stringify(option.default) : required.has(name) && io === 'input' ? 'required' : '—',
  }));
}

/** The keys an object at `path` of the schema accepts (array indexes step into `items`). */
export function knownKeysAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let node: JsonSchemaNode | undefined = jsonSchemaOf(schema);
  for (const part of path) {
    if (!node) return [];
    node = typeof part === 'number' ? node.items : node.properties?.[String(part)];
    if (node?.anyOf) node = node.anyOf.find((n) => n.properties);
  }
  return Object.keys(node?.properties ?? {});
}

const LARGEST = Number.MAX_SAFE_INTEGER;

/** A short, readable type: `integer > 0`, `number ≥ 0, ≤ 1`, `one of "a", "b"`, `URL`. */
export function typeText(node: JsonSchemaNode): string {
  if (node.anyOf) return node.anyOf.map(typeText).join(' or ');
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  switch (node.type) {
    case 'integer':
    case 'number': {
      const bounds: string[] = [];
      if (node.exclusiveMinimum !== undefined) bounds.push(`> ${node.exclusiveMinimum}`);
      else if (node.minimum !== undefined && node.minimum > -LARGEST) bounds.push(`≥ ${node.minimum}`);
      if (node.exclusiveMaximum !== undefined) bounds.push(`< ${node.exclusiveMaximum}`);
      else if (node.maximum !== undefined && node.maximum < LARGEST) bounds.push(`≤ ${node.maximum}`);
      return [node.type, bounds.join(', ')].filter(Boolean).join(' ');
    }
    case 'string':
      return node.format === 'uri' ? 'URL' : 'string';
    case 'array':
      return node.items ? `array of ${typeText(node.items)}` : 'array';
    case 'object':
      if (node.properties) return 'object';
      return typeof node.additionalProperties === 'object' ? `object of ${typeText(node.additionalProperties)}` : 'object';
    case undefined:
      return 'any';
    default:
      return node.type;
  }
}
