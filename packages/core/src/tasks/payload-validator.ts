/**
 * Payload checks against each task's JSON Schema, on send and on receipt. Schemas are compiled once
 * per process (cached by schema object), so validating costs a function call per message.
 *
 * @module
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { InvalidPayloadError } from '../errors.js';

let ajv: Ajv2020 | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: Readonly<Record<string, unknown>>): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    // strict: false — payload schemas are users' own and may carry annotations ajv does not know.
    ajv ??= new Ajv2020({ allErrors: true, strict: false });
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** The payload's schema problems, or an empty list. A task without a schema accepts anything JSON. */
export function payloadIssues(
  schema: Readonly<Record<string, unknown>> | undefined,
  payload: unknown,
): { path: string; message: string }[] {
  if (!schema) return [];
  const validate = compile(schema);
  if (validate(payload)) return [];
  return (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? e.keyword }));
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
