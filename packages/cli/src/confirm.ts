/**
 * Confirmation of destructive commands. Commands never read the terminal themselves: they ask through
 * {@link CommandContext.confirm}, which `main.ts` provides only when there is a person to ask (stdin is a TTY).
 *
 * @module
 */
import { createInterface } from 'node:readline/promises';
import type { CommandContext } from './context.js';
import { ExitError } from './errors.js';

/**
 * Whether to go ahead with a destructive action: yes at once with the confirmation flag, else the user's answer.
 * @param flag - The flag that skips the question (e.g. `--yes`), named in the error.
 * @throws {@link ExitError} (exit code 1) when there is nobody to ask and the flag was not given: a script must
 *   say on purpose that it wants the destruction.
 */
export async function confirmed(
  ctx: CommandContext,
  question: string,
  options: { readonly yes?: boolean | undefined; readonly flag: string },
): Promise<boolean> {
  if (options.yes) return true;
  if (!ctx.confirm) {
    throw new ExitError(
      1,
      `${question.replace(/\?$/, '')}: not confirmed. Pass ${options.flag} to confirm without a prompt.`,
    );
  }
  return ctx.confirm(question);
}

/**
 * Asks `question` on a terminal and reads a yes/no answer; anything but `y`/`yes` (including end of input or an
 * abort) is no, so that the destructive choice is always the explicit one. For `main.ts`:
 *
 * ```ts
 * confirm: process.stdin.isTTY ? (q) => askYesNo(q, process.stdin, process.stderr) : undefined
 * ```
 */
export async function askYesNo(
  question: string,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  signal?: AbortSignal,
): Promise<boolean> {
  // The prompt goes to `output` (stderr from main.ts), so that it never mixes with a command's stdout.
  const rl = createInterface({ input, output });
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  try {
    const answer = await Promise.race([rl.question(`${question} [y/N] `, signal ? { signal } : {}), closed]);
    return /^\s*y(es)?\s*$/i.test(answer);
  } catch {
    // Aborted (Ctrl-C while asking): the answer is no.
    return false;
  } finally {
    rl.close();
  }
}
