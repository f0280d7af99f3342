/**
 * The building blocks the config schemas share, on zod's functional API (`zod/mini`): the same
 * validation core as `zod` (the same issues, paths and messages) without its classic classes
 * and methods, ~0.8 MB less V8 heap in the idle gateway (`npm run bench:idle`).
 */
import { z } from "zod/mini";

// zod/mini installs no error map, so every check would read "Invalid input"; `zod` installs the
// English one on its first schema. Installed here, the messages are the same as with `zod`
// ("Too big: expected number to be <=65535"), and every schema module imports this one first.
z.config(z.locales.en());

type Check<T> = z.core.$ZodCheck<T> | z.core.CheckFn<T>;

/** An integer (a safe one, as `z.number().int()`), with checks such as z.minimum / z.maximum. */
export const int = (...checks: Check<number>[]) => z.number().check(z.int(), ...checks);

/** A string with checks such as z.regex / z.minLength / z.refine. */
export const str = (...checks: Check<string>[]) => z.string().check(...checks);

export const digits = () => str(z.regex(/^[0-9*#+]+$/, "expected a phone number (digits)"));

/**
 * A YAML block whose every key has a default or is optional: unknown keys refused, absent the
 * same as `{}` (parsed, so the defaults fill it). TypeScript cannot see through the generic that
 * `{}` is a valid input; the config tests parse an almost empty file and check the defaults.
 */
export function block<S extends z.core.$ZodLooseShape>(shape: S) {
  const object = z.strictObject(shape);
  return z.prefault(object, {} as z.input<typeof object>);
}
