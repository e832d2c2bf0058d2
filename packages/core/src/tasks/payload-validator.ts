/**
 * Payload checks against each task's JSON Schema, on send and on receipt. Schemas are compiled once
 * per process (cached by schema object), so validating costs a function call per message.
 *
 * @module
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { InvalidPayloadError } from '../errors.js';

let ajv: Ajv2020 | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

/** The schema checked last and its function: consecutive tasks nearly always share a schema (no WeakMap lookup). */
let lastSchema: object | undefined;
let lastValidate: ValidateFunction | undefined;

function compile(schema: Readonly<Record<string, unknown>>): ValidateFunction {
  if (schema === lastSchema && lastValidate !== undefined) return lastValidate;
  let validate = compiled.get(schema);
  if (!validate) {
    // strict: false — payload schemas are users' own and may carry annotations ajv does not know.
    ajv ??= new Ajv2020({ allErrors: true, strict: false });
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  lastSchema = schema;
  lastValidate = validate;
  return validate;
}

/**
 * The payload's schema problems, or an empty list. A task without a schema accepts anything JSON. Each names the
 * field at fault by its JSON Pointer (`/items/0/id`): for a missing or unexpected property, the property itself
 * rather than the object holding it.
 */
export function payloadIssues(
  schema: Readonly<Record<string, unknown>> | undefined,
  payload: unknown,
): readonly { path: string; message: string }[] {
  if (!schema) return NO_ISSUES;
  const validate = compile(schema);
  if (validate(payload)) return NO_ISSUES;
  return (validate.errors ?? []).map(issueOf);
}

/** Shared by every valid payload (checked once per delivered task): nothing to allocate. */
const NO_ISSUES: readonly { path: string; message: string }[] = Object.freeze([]);

function issueOf(e: ErrorObject): { path: string; message: string } {
  const params = e.params as Record<string, unknown>;
  const at = (property: unknown) => `${e.instancePath}/${String(property).replaceAll('~', '~0').replaceAll('/', '~1')}`;
  switch (e.keyword) {
    case 'required':
    case 'dependentRequired':
      return { path: at(params.missingProperty), message: 'is required' };
    case 'additionalProperties':
      return { path: at(params.additionalProperty), message: 'is not allowed by the schema' };
    case 'unevaluatedProperties':
      return { path: at(params.unevaluatedProperty), message: 'is not allowed by the schema' };
    case 'enum':
      return { path: e.instancePath, message: `must be one of ${JSON.stringify(params.allowedValues)}` };
    case 'const':
      return { path: e.instancePath, message: `must be ${JSON.stringify(params.allowedValue)}` };
    default:
      return { path: e.instancePath, message: e.message ?? e.keyword };
  }
}

/** @throws {@link InvalidPayloadError} listing every problem. */
export function assertPayload(
  task: string,
  schema: Readonly<Record<string, unknown>> | undefined,
  payload: unknown,
): void {
  const issues = payloadIssues(schema, payload);
  if (issues.length > 0) throw new InvalidPayloadError(task, issues);
}
