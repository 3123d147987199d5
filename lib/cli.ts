import { parseArgs } from 'node:util';

/** One command-line option: its type, default and the line `--help` prints for it. */
export type CliOption =
  | { type: 'string'; default?: string; description: string; placeholder?: string }
  | { type: 'boolean'; default?: boolean; description: string };

export interface CliSpec<O extends Record<string, CliOption>> {
  /** How to call it, e.g. `npm run token -- [options]`. */
  usage: string;
  /** One or two lines on what the command does. */
  summary: string;
  options: O;
  /** Extra lines after the options (examples, environment). */
  epilogue?: string;
  /** Positional arguments allowed (named in `usage`). */
  positionals?: boolean;
}

export type CliValues<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

/** The text `--help` prints: usage, summary, every option with its default. */
export function cliHelp<O extends Record<string, CliOption>>(spec: CliSpec<O>): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = o.type === 'string' ? `--${name} <${o.placeholder ?? 'value'}>` : `--${name}`;
    const fallback = o.default === undefined || o.default === false ? '' : ` (default: ${String(o.default)})`;
    return [flag, `${o.description}${fallback}`] as const;
  });
  rows.push(['-h, --help', 'print this help and exit']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `Usage: ${spec.usage}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`),
    ...(spec.epilogue ? ['', spec.epilogue] : []),
    '',
  ].join('\n');
}

/**
 * Parses argv with node:util's parseArgs (strict: an unknown option is an error that points at --help); `--help`
 * prints the options and exits 0, so every CLI of the repo answers it the same way.
 */
export function parseCli<O extends Record<string, CliOption>>(
  spec: CliSpec<O>,
  args: string[] = process.argv.slice(2),
): { values: CliValues<O>; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    const options = Object.fromEntries(
      // A boolean not given is false (as CliValues types it); a string without a default stays undefined.
      Object.entries(spec.options).map(([name, o]) => [name, o.type === 'boolean' ? { type: o.type, default: o.default ?? false } : o.default === undefined ? { type: o.type } : { type: o.type, default: o.default }]),
    ) as Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>;
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs adds advice on positionals that starts with '-'; the first sentence names the problem.
    const message = (err instanceof Error ? err.message : String(err)).split('. To specify')[0];
    throw new Error(`${message}. Run with --help for the options.`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(cliHelp(spec));
    process.exit(0);
  }
  if (!spec.positionals && parsed.positionals.length > 0) throw new Error(`Unexpected argument '${parsed.positionals[0]}'. Run with --help for the options.`);
  // parseArgs types its values from a literal options object; ours is built from the spec, whose types mirror it.
  return { values: parsed.values as CliValues<O>, positionals: parsed.positionals };
}
