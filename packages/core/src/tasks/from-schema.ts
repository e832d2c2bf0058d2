/** Placeholder: the JSON Schema → TypeScript type mapping (being written). */
export type FromSchema<S> = S extends never ? never : unknown;
