/**
 * The Lua scripts of the Redis transport live in `lua/<name>.lua` next to this module (each with a
 * header naming its KEYS and ARGV), read once when a module that runs them is loaded. Running from
 * source they are read from `src/redis/lua/`; the build copies them to `dist/redis/lua/`
 * (`scripts/copy-lua.mjs`), which the package ships.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The text of `lua/<name>.lua`, read synchronously (once per script, at module load). */
export function loadLua(name: string): string {
  const url = new URL(`./lua/${name}.lua`, import.meta.url);
  try {
    return readFileSync(url, 'utf8');
  } catch (error) {
    throw new Error(
      `@wakame/transports: cannot read the Redis script ${fileURLToPath(url)} (a build that did not copy the .lua files?)`,
      { cause: error },
    );
  }
}
